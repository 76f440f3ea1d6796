"""`BudgetStatus`: where one budget stands in its current period.

Spend and reservations come from the counters the budget is enforced on (as this process
last saw them: with Redis, the figures of its latest reserve, settle or
`CostTracker.refresh_budgets()`). The projection of the period's end uses
`forecast.forecast_period_end` over the budget's daily spend before today; with no
whole day of history yet it is the run rate (spend so far over the elapsed share of the
period), and with under 1% of the period elapsed there is none.

Public names: `BudgetStatus`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ml_ops.cost_tracker.books import BudgetBook
from ml_ops.cost_tracker.budget import Budget, BudgetAction
from ml_ops.cost_tracker.counters import CounterKey, CounterState, to_usd
from ml_ops.cost_tracker.forecast import PeriodForecast, forecast_period_end
from ml_ops.cost_tracker.periods import fraction_elapsed

__all__ = ["BudgetStatus", "budget_status"]

logger = logging.getLogger("ml_ops.cost_tracker")

MIN_ELAPSED_FOR_RUN_RATE = 0.01


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget now: `spent` and `reserved` (USD, calls in flight at their worst case),
    `remaining` (limit minus both, at least 0), `fraction_used` (spent over limit), the
    period's bounds and key, the projected spend at the period's end (None when there is
    too little to go on; `projection_method` says how it was made), the `action` and
    whether it is `in_effect` now (refuse: no room left; downgrade: calls are being
    downgraded; alert: an alert fired this period), the alert fractions that fired, and
    which counters hold the figures."""

    budget: Budget
    period_key: str
    period_start: datetime
    period_end: datetime
    spent: float
    reserved: float
    remaining: float
    fraction_used: float
    projected_spend: float | None
    projection_method: str
    in_effect: bool
    alerts_fired: tuple[float, ...]
    counters: str
    projection: PeriodForecast | None = None

    @property
    def name(self) -> str:
        return self.budget.name

    @property
    def limit(self) -> float:
        return self.budget.limit

    @property
    def action(self) -> BudgetAction:
        return self.budget.action

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (without the full per-day projection)."""
        projection = self.projection
        return {
            "name": self.name,
            "limit": self.limit,
            "period": self.budget.period.value,
            "scope": self.budget.describe_scope(),
            "action": self.action.value,
            "period_key": self.period_key,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "spent": self.spent,
            "reserved": self.reserved,
            "remaining": self.remaining,
            "fraction_used": self.fraction_used,
            "projected_spend": self.projected_spend,
            "projection_method": self.projection_method,
            "probability_over_limit": projection.probability_over_limit if projection else None,
            "in_effect": self.in_effect,
            "alerts_fired": list(self.alerts_fired),
            "counters": self.counters,
        }


def budget_status(
    book: BudgetBook,
    key: CounterKey,
    state: CounterState,
    now: datetime,
    *,
    counters: str,
    project: bool = True,
) -> BudgetStatus:
    """The status of `book`'s budget with its counter at `state`."""
    budget = book.budget
    spent, reserved = to_usd(state.spent), to_usd(state.reserved)
    if budget.action is BudgetAction.REFUSE:
        in_effect = state.committed >= book.limit_units
    elif budget.action is BudgetAction.DOWNGRADE:
        in_effect = state.committed >= book.downgrade_units
    else:
        in_effect = bool(book.fired)
    projection, projected, method = None, None, "none"
    if project:
        projection, projected, method = _project(book, spent, now)
    return BudgetStatus(
        budget=budget,
        period_key=key.period_key,
        period_start=book.start,
        period_end=book.end,
        spent=spent,
        reserved=reserved,
        remaining=max(budget.limit - spent - reserved, 0.0),
        fraction_used=spent / budget.limit,
        projected_spend=projected,
        projection_method=method,
        in_effect=in_effect,
        alerts_fired=tuple(sorted(book.fired)),
        counters=counters,
        projection=projection,
    )


def _project(
    book: BudgetBook, spent: float, now: datetime
) -> tuple[PeriodForecast | None, float | None, str]:
    budget = book.budget
    today = now.astimezone(book.zone).date()
    history = book.history_before(today)
    if history:
        try:
            forecast = forecast_period_end(
                history,
                budget.period,
                now,
                spent=spent,
                tz=book.zone,
                week_start=budget.week_start,
                limit=budget.limit,
            )
        except ValueError as error:  # history the forecast cannot use; fall back below
            logger.debug("budget %s: no forecast (%s)", budget.name, error)
        else:
            return forecast, forecast.projected_total, forecast.forecast.method.value
    elapsed = fraction_elapsed(budget.period, now, book.zone, budget.week_start)
    if elapsed < MIN_ELAPSED_FOR_RUN_RATE:
        return None, None, "none"
    return None, spent / elapsed, "run_rate"
