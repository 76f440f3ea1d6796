"""`CostTracker.get_report()`: spend totals and breakdowns, as plain JSON types.

    {
      "generated_at": "...", "currency": "USD", "time_zone": "UTC",
      "window": {"first_day": "2026-03-01", "last_day": "2026-03-07", "days": 7},
      "totals": {"requests": ..., "cost": ..., "cost_per_request": ..., "saved_cost": ...},
      "by_model": [{"name": "gpt-4o", "requests": ..., "cost": ..., "share": ...}, ...],
      "by_provider": [...], "by_agent": [...], "by_user": [...], "by_operation": [...],
      "by_day": [{"day": "2026-03-01", "requests": ..., "cost": ..., ...}, ...],
      "top_spenders": {"users": [...], "agents": [...], "models": [...]},
      "budgets": [BudgetStatus.to_dict(), ...]
    }

Breakdowns list the most expensive first (ties by name). `cost_per_request` divides by
every request counted; `cost_per_successful_request` by the answered ones. `saved_cost`
is what answers served from the response cache would have cost (the records'
`saved_cost`), and `cache_hit_rate` the share of requests the cache answered. Calls
on models without a price count as 0 USD and are counted in `unpriced_requests`.
Agents and users that were not set appear as `null`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from ml_ops.cost_tracker.ledger import SliceKey, SpendLedger, Totals, group_totals

__all__ = ["build_report", "totals_dict"]


def totals_dict(totals: Totals) -> dict[str, Any]:
    """Totals with the derived rates, in plain JSON types."""
    requests = totals.requests
    return {
        "requests": requests,
        "successful": totals.successful,
        "failed": totals.failed,
        "refused": totals.refused,
        "cancelled": totals.cancelled,
        "cached": totals.cached,
        "unpriced_requests": totals.unpriced,
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cost": totals.cost,
        "cost_per_request": totals.cost / requests if requests else 0.0,
        "cost_per_successful_request": (
            totals.cost / totals.successful if totals.successful else 0.0
        ),
        "saved_cost": totals.saved_cost,
        "cache_hit_rate": totals.cached / requests if requests else 0.0,
    }


def build_report(
    ledger: SpendLedger,
    *,
    now: datetime,
    first: date | None,
    last: date,
    budgets: Sequence[dict[str, Any]],
    top: int,
) -> dict[str, Any]:
    """The report over local days `first`..`last` (module doc)."""
    slices = list(ledger.select(first, last))
    total = Totals()
    for _, totals in slices:
        total.add(totals)
    days = sorted({key.day for key, _ in slices})
    start = first or (days[0] if days else last)

    def breakdown(dimension: Callable[[SliceKey], object]) -> list[dict[str, Any]]:
        return _ranked(group_totals(slices, dimension).items(), total.cost)

    by_user = breakdown(lambda key: key.user)
    by_agent = breakdown(lambda key: key.agent)
    by_model = breakdown(lambda key: key.model)
    per_day: dict[date, Totals] = {}
    for key, totals in slices:
        per_day.setdefault(key.day, Totals()).add(totals)
    by_day = [{"day": day.isoformat(), **totals_dict(per_day[day])} for day in sorted(per_day)]
    return {
        "generated_at": now.isoformat(),
        "currency": "USD",
        "time_zone": ledger.zone.key,
        "window": {
            "first_day": start.isoformat(),
            "last_day": last.isoformat(),
            "days": (last - start).days + 1,
        },
        "totals": totals_dict(total),
        "by_model": by_model,
        "by_provider": breakdown(lambda key: key.provider),
        "by_agent": by_agent,
        "by_user": by_user,
        "by_operation": breakdown(lambda key: key.operation.value),
        "by_day": by_day,
        "top_spenders": {
            "users": _top(by_user, top),
            "agents": _top(by_agent, top),
            "models": _top(by_model, top),
        },
        "budgets": list(budgets),
    }


def _ranked(groups: Iterable[tuple[object, Totals]], grand_total: float) -> list[dict[str, Any]]:
    rows = [
        {
            "name": name,
            **totals_dict(totals),
            "share": totals.cost / grand_total if grand_total > 0 else 0.0,
        }
        for name, totals in groups
    ]
    rows.sort(key=lambda row: (-row["cost"], -row["requests"], str(row["name"])))
    return rows


def _top(rows: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    named = [row for row in rows if row["name"] is not None and row["cost"] > 0]
    fields = ("name", "cost", "share", "requests")
    return [{field: row[field] for field in fields} for row in named[:top]]
