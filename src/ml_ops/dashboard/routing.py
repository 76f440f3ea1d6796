"""The dashboard's view of model routing: what `ai.routing.ModelRouter` (as a guard, or
behind a gateway router alias) decided, and what it saved against always using the
capable model.

Routed calls are recognised by their tags: `route` ("<complexity>:<why>", on every
decision) and `routed_from` (the capable model, on calls sent to the cheap one). The
saving is `ai.routing.routing_savings`: each call routed to the cheap model re-priced on
the capable model it replaced. `routing_view` is a pure function over records; the
manager gives it a window's records from the event store (the read the charts use), else
the cost tracker's kept records (this process's latest).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ai.accounting.pricing import PricingTable
from ai.core.records import RequestRecord, TagKey
from ai.routing import routing_savings
from ml_ops.dashboard.timeseries import window_seconds


@dataclass(slots=True)
class _ModelRow:
    calls: int = 0
    routed_calls: int = 0
    failed: int = 0
    cost: float = 0.0


@dataclass(slots=True)
class _Tally:
    reasons: Counter[str] = field(default_factory=Counter)
    models: dict[str, _ModelRow] = field(default_factory=dict)
    routed: list[RequestRecord] = field(default_factory=list)

    def add(self, record: RequestRecord, route: str) -> None:
        self.reasons[route] += 1
        row = self.models.setdefault(record.model or record.model_requested, _ModelRow())
        row.calls += 1
        row.failed += not record.success
        row.cost += record.estimated_cost or 0.0
        if TagKey.ROUTED_FROM.value in record.tags:
            row.routed_calls += 1
            self.routed.append(record)


def routing_view(records: Iterable[RequestRecord], pricing: PricingTable) -> dict[str, Any]:
    """Routing decisions among `records` and their saving (see the module docstring):
    `decisions` (calls a router decided), `routed_calls` (sent to the cheap model) and
    `routed_share`; `by_reason` (per `route` tag: complexity, reason, calls, share);
    `by_model` (per answering model: calls, calls routed to it, failures, cost); and
    `savings` (`routing_savings`: priced routed calls, their `cost`, `cost_if_capable`,
    `saving`, `saving_share` of what the capable model would have cost, `unpriced_calls`)."""
    tally = _Tally()
    for record in records:
        route = record.tags.get(TagKey.ROUTE.value)
        if route is not None:
            tally.add(record, route)
    decisions = sum(tally.reasons.values())
    savings = routing_savings(tally.routed, pricing)
    return {
        "decisions": decisions,
        "routed_calls": len(tally.routed),
        "routed_share": len(tally.routed) / decisions if decisions else None,
        "by_reason": [
            {**_reason(route), "calls": calls, "share": calls / decisions}
            for route, calls in sorted(tally.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "by_model": [_model_row(model, row) for model, row in _by_calls(tally.models)],
        "savings": {
            "routed_calls": savings.routed_calls,
            "cost": savings.cost,
            "cost_if_capable": savings.cost_if_capable,
            "saving": savings.saving,
            "saving_share": (
                savings.saving / savings.cost_if_capable if savings.cost_if_capable else None
            ),
            "unpriced_calls": savings.unpriced_calls,
        },
    }


def _by_calls(models: dict[str, _ModelRow]) -> list[tuple[str, _ModelRow]]:
    return sorted(models.items(), key=lambda item: (-item[1].calls, item[0]))


def _model_row(model: str, row: _ModelRow) -> dict[str, Any]:
    return {"model": model, "calls": row.calls, "routed_calls": row.routed_calls,
            "failed": row.failed, "cost": row.cost}  # fmt: skip


def _reason(route: str) -> dict[str, str]:
    """ "simple:rule:short_prompt" -> complexity "simple", reason "rule:short_prompt"."""
    complexity, _, reason = route.partition(":")
    return {"route": route, "complexity": complexity, "reason": reason or complexity}


def window_since(window: str, now: datetime) -> datetime | None:
    """Where `window` begins (None: "all")."""
    seconds = window_seconds(window)
    return None if seconds is None else now - timedelta(seconds=seconds)


async def routing_section(
    records: Sequence[RequestRecord],
    pricing: PricingTable,
    *,
    window: str,
    source: str | None,
    truncated: bool = False,
) -> dict[str, Any]:
    """`routing_view` of a window's `records` (summed in a worker thread), with where
    they came from (`source`: "store", "cost_tracker" or None), how many there were and
    whether the oldest were left out."""
    view = await asyncio.to_thread(routing_view, records, pricing)
    return {"window": window, "source": source, "records": len(records),
            "truncated": truncated, **view}  # fmt: skip
