"""The `ml_ops` sections of the walk-through, in order, numbered after the `ai` ones."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from rich.console import Console

from ml_ops.walkthrough.costs_section import cost_tracking
from ml_ops.walkthrough.dashboard_section import dashboard
from ml_ops.walkthrough.experiments_section import ab_testing
from ml_ops.walkthrough.gateway_section import gateway
from ml_ops.walkthrough.monitoring_section import monitoring
from ml_ops.walkthrough.observers import Observers, Upstream
from ml_ops.walkthrough.routing_section import model_selection

Section = Callable[[Console, Observers], Awaitable[None]]

SECTIONS: Sequence[tuple[str, Section]] = (
    ("Model selection (ai.routing.ModelRouter)", model_selection),
    ("Monitoring (ml_ops.MLMonitor)", monitoring),
    ("Cost tracking and budgets (ml_ops.CostTracker)", cost_tracking),
    ("A/B testing (ml_ops.ABTester)", ab_testing),
    ("Dashboard (ml_ops.DashboardManager)", dashboard),
    ("Gateway and dashboard served (ml_ops.serve)", gateway),
)


async def run_walkthrough(
    console: Console, *, openai_base_url: str, api_key: str, first_section: int = 6
) -> None:
    """Run every section against the OpenAI-compatible API at `openai_base_url` (devora's
    loopback fake: section 8 spends budgets on purpose), numbering from `first_section`."""
    async with Observers(Upstream(openai_base_url, api_key)) as observers:
        for number, (title, section) in enumerate(SECTIONS, start=first_section):
            console.rule(f"{number}. {title}")
            await section(console, observers)


__all__ = ["SECTIONS", "Section", "run_walkthrough"]
