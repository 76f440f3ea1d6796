"""Internal: what a `CostTracker` keeps per budget besides its counters.

A `BudgetBook` knows the budget's current period (bounds computed once per period, so
the guard's hot path compares two datetimes), its spend per local day (for forecasts,
and to seed a counter created mid-period), and which alert fractions fired this period.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ml_ops.cost_tracker.budget import Budget, BudgetAction
from ml_ops.cost_tracker.counters import (
    EXPIRY_MARGIN,
    Claim,
    CounterKey,
    to_units,
)
from ml_ops.cost_tracker.periods import period_bounds, period_key

_ONE_DAY = timedelta(days=1)


class BudgetBook:
    """One budget's period, daily spend and fired alerts (see the module doc)."""

    __slots__ = (
        "_end",
        "_key",
        "_start",
        "alert_units",
        "budget",
        "days",
        "downgrade_units",
        "fired",
        "history_days",
        "limit_units",
        "previous",
        "store_checked",
        "warned_rolled_up",
        "zone",
    )

    def __init__(self, budget: Budget, zone: ZoneInfo, history_days: int) -> None:
        self.budget = budget
        self.zone = zone
        self.history_days = history_days
        self.limit_units = to_units(budget.limit)
        self.downgrade_units = to_units(budget.limit * budget.downgrade_from)
        self.alert_units = tuple((f, to_units(budget.limit * f)) for f in budget.alert_fractions)
        """Each alert fraction with the spend (units) at which it fires."""
        self.days: dict[date, float] = {}
        self.fired: dict[float, datetime] = {}
        """Alert fractions that fired this period, with when."""
        self.previous: tuple[CounterKey, tuple[tuple[float, datetime], ...]] | None = None
        """The period before the current one and the fractions that fired in it, until
        their alerts are resolved."""
        self.store_checked: str | None = None
        """The period whose spend was last read from the event store."""
        self.warned_rolled_up: str | None = None
        """The period for which a tagged budget last warned that roll-ups hid spend."""
        self._key: CounterKey | None = None
        self._start = self._end = datetime.min

    @property
    def name(self) -> str:
        return self.budget.name

    @property
    def start(self) -> datetime:
        """First instant of the current period (UTC); valid after `current`."""
        return self._start

    @property
    def end(self) -> datetime:
        """First instant after the current period (UTC); valid after `current`."""
        return self._end

    def current(self, now: datetime) -> tuple[CounterKey, bool]:
        """The counter key of the period holding `now`, and whether the period changed
        with this call (the caller then seeds the new counter)."""
        key = self._key
        if key is not None and self._start <= now < self._end:
            return key, False
        budget = self.budget
        start, end = period_bounds(budget.period, now, self.zone, budget.week_start)
        fresh = CounterKey(
            budget.name,
            period_key(budget.period, now, self.zone, budget.week_start),
            end + EXPIRY_MARGIN,
        )
        if key is not None and self.fired:
            self.previous = (key, tuple(self.fired.items()))
        self.fired = {}
        self._key, self._start, self._end = fresh, start, end
        self._prune_days(now)
        return fresh, True

    def claim(self, key: CounterKey) -> Claim:
        """This budget's part in a reservation: limited only for `refuse` budgets."""
        limit = self.limit_units if self.budget.action is BudgetAction.REFUSE else None
        return Claim(key, limit)

    def seed_claim(self, key: CounterKey) -> Claim:
        """A claim seeded with the current period's spend from the daily figures."""
        return Claim(key, None, to_units(self.period_spend()))

    def add(self, day: date, amount: float) -> None:
        """Count `amount` USD on the local `day`."""
        if amount > 0:
            self.days[day] = self.days.get(day, 0.0) + amount

    def period_days(self) -> tuple[date, date]:
        """First and last local date of the current period."""
        first = self._start.astimezone(self.zone).date()
        last = (self._end - timedelta(microseconds=1)).astimezone(self.zone).date()
        return first, last

    def period_spend(self) -> float:
        """The current period's spend by the daily figures."""
        first, last = self.period_days()
        return sum(amount for day, amount in self.days.items() if first <= day <= last)

    def history_before(self, today: date) -> dict[date, float]:
        """Whole days before `today` with their spend, for forecasts."""
        return {day: amount for day, amount in self.days.items() if day < today}

    def load_days(self, days: Mapping[date, float]) -> None:
        """Replace the daily figures (a rebuild from the store)."""
        self.days = {day: amount for day, amount in days.items() if amount > 0}

    def _prune_days(self, now: datetime) -> None:
        oldest = now.astimezone(self.zone).date() - self.history_days * _ONE_DAY
        for day in [d for d in self.days if d < oldest]:
            del self.days[day]
