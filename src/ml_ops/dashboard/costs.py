"""The dashboard's view of a `CostTracker`: its report, budgets with their use, the spend
forecast and the recommendations, as plain JSON.

Everything the dashboard reads from the cost tracker goes through the functions here, so a
change in its public API is one edit in this module. Read: `get_report()`, `budgets`
(a mapping or a sequence of budgets, or a method returning one), `get_budget_status(name)`,
`forecast(days)`, `recommendations()` and the records it keeps (`ledger.recent(since)`);
each result is turned into plain data by `to_plain`, and the few numbers the page and the
health rules need are picked out by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from ai.core.records import RequestRecord
from ml_ops.dashboard.plain import number, pick, to_plain


def cost_report(tracker: Any) -> dict[str, Any]:
    """`tracker.get_report()` as plain data."""
    report = to_plain(tracker.get_report())
    return report if isinstance(report, dict) else {"report": report}


def report_total(report: Mapping[str, Any]) -> float | None:
    """The total spend a cost report states (`totals.cost`), if it states one."""
    totals = report.get("totals")
    if isinstance(totals, Mapping) and number(totals.get("cost")) is not None:
        return number(totals.get("cost"))
    return number(pick(report, "total_cost", "total", "total_spend", "spent"))


def daily_spend(report: Mapping[str, Any], days: int) -> dict[str, float] | None:
    """The last `days` days of a report's `by_day` (local dates to cost), zeros filled in
    up to its last day; None when the report has no per-day figures."""
    rows = report.get("by_day")
    last = (report.get("window") or {}).get("last_day")
    if not isinstance(rows, list) or not isinstance(last, str):
        return None
    spend = {str(row.get("day")): number(row.get("cost")) or 0.0 for row in rows}
    end = date.fromisoformat(last)
    window = [(end - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]
    return {day: spend.get(day, 0.0) for day in window}


def _budget_objects(tracker: Any) -> list[tuple[str, Any]]:
    budgets = getattr(tracker, "budgets", None)
    if callable(budgets):
        budgets = budgets()
    if budgets is None:
        return []
    if isinstance(budgets, Mapping):
        return [(str(name), budget) for name, budget in budgets.items()]
    found = []
    for budget in budgets:
        name = budget.get("name") if isinstance(budget, Mapping) else getattr(budget, "name", "")
        found.append((str(name), budget))
    return found


def budget_rows(tracker: Any) -> list[dict[str, Any]]:
    """Every budget with its use: `name`, `period`, `scope`, `limit`, `spent`,
    `remaining`, `used` (a fraction), `exceeded`, `action`, `in_effect`, the projection,
    and the tracker's own status."""
    rows = []
    for name, budget in _budget_objects(tracker):
        status = to_plain(tracker.get_budget_status(name))
        rows.append(budget_row(name, to_plain(budget), status))
    return rows


def budget_row(name: str, budget: Any, status: Any) -> dict[str, Any]:
    """One budget's row from its definition and its status (both plain data)."""
    merged: dict[str, Any] = {}
    for part in (budget, status):
        if isinstance(part, Mapping):
            merged.update(part)
    limit = number(pick(merged, "limit", "limit_usd", "amount"))
    spent = number(pick(merged, "spent", "current_spend", "spend", "current", "used_amount"))
    used = number(pick(merged, "fraction_used", "used_fraction", "utilization", "used"))
    if used is None and (percent := number(pick(merged, "percent_used", "percentage"))):
        used = percent / 100.0
    if used is None and spent is not None and limit:
        used = spent / limit
    remaining = number(pick(merged, "remaining", "remaining_usd"))
    if remaining is None and limit is not None and spent is not None:
        remaining = max(0.0, limit - spent)
    action = _text(pick(merged, "action"))
    in_effect = bool(merged.get("in_effect", False))
    flagged = pick(merged, "exceeded", "is_exceeded", "over_limit", "over_budget")
    exceeded = bool(flagged) if flagged is not None else (used or 0.0) >= 1.0
    if action == "refuse" and in_effect:
        exceeded = True  # no room left: calls in its scope are refused
    return {
        "name": name,
        "period": _text(pick(merged, "period")),
        "scope": _text(pick(merged, "scope")),
        "scope_value": _text(pick(merged, "scope_value", "key", "target", "scope_key")),
        "limit": limit,
        "spent": spent,
        "remaining": remaining,
        "used": used,
        "exceeded": exceeded,
        "action": action,
        "in_effect": in_effect,
        "reserved": number(merged.get("reserved")),
        "period_end": _text(pick(merged, "period_end", "end", "resets_at")),
        "projected": number(
            pick(merged, "projected_spend", "projected_total", "projected", "forecast_total")
        ),
        "probability_over_limit": number(merged.get("probability_over_limit")),
        "status": status,
    }


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def spend_forecast(tracker: Any, days: int) -> dict[str, Any]:
    """`tracker.forecast(days)` as plain data, plus `band`: the per-day point forecast and
    its intervals as columns (`day`, `point`, and `lower`/`upper` per level)."""
    forecast = to_plain(tracker.forecast(days))
    if not isinstance(forecast, dict):
        return {"forecast": forecast, "band": None}
    return {**forecast, "band": forecast_band(forecast)}


def forecast_band(forecast: Mapping[str, Any]) -> dict[str, Any] | None:
    """Columns for a chart from a forecast's `days` (each `day`, `point`, `intervals`)."""
    days = forecast.get("days")
    if not isinstance(days, list) or not days:
        return None
    band: dict[str, Any] = {
        "day": [d.get("day") for d in days],
        "point": [number(d.get("point")) for d in days],
        "levels": {},
    }
    for index, day in enumerate(days):
        for interval in day.get("intervals") or []:
            level = f"{float(interval.get('level', 0)):g}"
            columns = band["levels"].setdefault(
                level, {"lower": [None] * len(days), "upper": [None] * len(days)}
            )
            columns["lower"][index] = number(interval.get("lower"))
            columns["upper"][index] = number(interval.get("upper"))
    return band


def kept_records(tracker: Any, since: datetime | None) -> list[RequestRecord]:
    """The latest records the tracker keeps (for recommendations), from `since`."""
    ledger = getattr(tracker, "ledger", None)
    recent = getattr(ledger, "recent", None)
    return list(recent(since)) if callable(recent) else []


def recommendation_rows(tracker: Any) -> list[dict[str, Any]]:
    """`tracker.recommendations()` as plain dicts, largest saving first."""
    items = to_plain(tracker.recommendations()) or []
    rows = [item if isinstance(item, dict) else {"title": str(item)} for item in items]
    return sorted(rows, key=lambda row: -(number(row.get("estimated_monthly_saving")) or 0.0))
