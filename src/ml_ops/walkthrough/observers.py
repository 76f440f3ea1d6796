"""What the walk-through's sections share: the upstream they call, one record bus, and the
monitor, cost tracker and A/B tester built over it.

Every section's `LLMService` emits on the same bus (`bus=observers.bus`), so the monitor
and the cost tracker see every call as it ends, and the dashboard of section 10 shows
them all. The cost tracker also starts with the four weeks before today of
`spend_history`, for the forecasts of sections 8 and 10 (the monitor never sees them).
The A/B tester is not attached to the bus: section 9 tracks its results by hand, as the
spec's Quick Start 4 does, and a result must come from one source only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ai.core.guards import CallGuard
from ai.core.lifecycle import AsyncClosing
from ai.core.records import RecordBus
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ml_ops.ab_testing import ABTester
from ml_ops.cost_tracker import CostTracker
from ml_ops.monitoring import AlertRule, MLMonitor
from ml_ops.walkthrough.spend_history import spend_history

# Fires once more than 10% of at least 10 calls in the last 5 minutes failed.
ERROR_RATE_RULE = AlertRule("error-rate", "error_rate", ">", 0.1, "5m", min_samples=10)


@dataclass(frozen=True, slots=True)
class Upstream:
    """The OpenAI-compatible API every section calls: devora's loopback fake, started by
    `ai.example_usage` (product code never imports `ai.testing`)."""

    openai_base_url: str
    api_key: str

    def config(self, model: str) -> LLMConfig:
        """An `LLMConfig` for `model` on this upstream."""
        return LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=self.api_key,
            model=model,
            base_url=self.openai_base_url,
            max_retries=1,
        )


class Observers(AsyncClosing):
    """The bus and what reads it: `monitor` (attached, with `ERROR_RATE_RULE`),
    `cost_tracker` (attached, after four weeks of `spend_history`; it also hands budget
    alerts to the monitor) and `ab_tester` (an in-memory store; results by hand). `aclose`
    closes all three."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.bus = RecordBus()
        self.monitor = MLMonitor(rules=[ERROR_RATE_RULE])
        self.monitor.attach(self.bus)
        self.cost_tracker = CostTracker(monitor=self.monitor)
        for record in spend_history(self.cost_tracker.clock.now(), self.cost_tracker.pricing):
            self.cost_tracker.observe(record)
        self.cost_tracker.attach(self.bus)
        self.ab_tester = ABTester("memory:")

    def service(self, model: str, guards: Sequence[CallGuard] = ()) -> LLMService:
        """An `LLMService` on the upstream, emitting on the shared bus. It reads nothing
        from the environment, so a provider key or base URL set there cannot redirect it."""
        return LLMService(self.upstream.config(model), environ={}, guards=guards, bus=self.bus)

    async def aclose(self) -> None:
        await self.bus.flush()
        await self.monitor.aclose()
        await self.cost_tracker.aclose()
        await self.ab_tester.aclose()


__all__ = ["ERROR_RATE_RULE", "Observers", "Upstream"]
