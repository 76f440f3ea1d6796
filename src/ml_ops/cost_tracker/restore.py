"""Internal: reading spend back from the event store.

`CostTracker.restore` rebuilds its picture from the store: the roll-ups of records that
retention pruned, then the raw records day by day (so memory holds one day's records at
a time), then the alerts already fired in the current periods, so a restart neither
forgets spend nor repeats alerts. A budget added later, or entering a new period, has
its period's spend read with `period_spend` the first time it is needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ai.core.records import RequestRecord
from ml_ops.cost_tracker.budget import Budget, BudgetScope
from ml_ops.cost_tracker.ledger import SpendLedger, record_cost, record_model
from ml_ops.store.base import AlertRecord, AlertStatus, EventStore, RecordQuery, Rollup

_ONE_DAY = timedelta(days=1)


async def records_by_day(
    store: EventStore, zone: ZoneInfo, since: datetime, until: datetime
) -> AsyncIterator[list[RequestRecord]]:
    """The records in [since, until), one local day per list, oldest first."""
    day = since.astimezone(zone).date()
    start = since
    while start < until:
        day += _ONE_DAY
        end = min(datetime.combine(day, time(0), tzinfo=zone), until)
        if end <= start:
            continue
        yield await store.query(RecordQuery(since=start, until=end))
        start = end


def budget_query(budget: Budget, start: datetime, end: datetime) -> RecordQuery:
    """The store query for a budget's records in [start, end): its scope's exact
    filters (models are matched afterwards: the budget compares them case-insensitively)."""
    value, scope = budget.scope_value, budget.scope
    pair = budget.tag_pair
    return RecordQuery(
        since=start,
        until=end,
        provider=value if scope is BudgetScope.PROVIDER else None,
        agent=value if scope is BudgetScope.AGENT else None,
        user=value if scope is BudgetScope.USER else None,
        tags={pair[0]: pair[1]} if pair else {},
    )


def record_counts(budget: Budget, record: RequestRecord) -> bool:
    """Whether `record`'s spend counts against `budget`."""
    return budget.matches(
        model=record_model(record),
        provider=record.provider,
        agent=record.agent,
        user=record.user,
        tags=record.tags,
    )


def rollup_counts(budget: Budget, rollup: Rollup) -> bool:
    """Whether a roll-up's spend counts against `budget` (never for a tagged budget:
    roll-ups keep no tags)."""
    return budget.tag is None and budget.matches_scope(
        model=rollup.model, provider=rollup.provider, agent=rollup.agent, user=rollup.user
    )


async def period_spend(store: EventStore, budget: Budget, start: datetime, end: datetime) -> float:
    """What the store says `budget` spent in [start, end): raw records and roll-ups."""
    records = await store.query(budget_query(budget, start, end))
    total = sum(record_cost(r) for r in records if record_counts(budget, r))
    if budget.tag is None:
        rollups = await store.rollups(since=start, until=end)
        total += sum(r.cost for r in rollups if rollup_counts(budget, r))
    return total


def known_days(ledger: SpendLedger, budget: Budget) -> dict[date, float]:
    """A new budget's daily spend from what the ledger holds: its sums for an untagged
    budget, the records kept for a tagged one (the sums keep no tags)."""
    if budget.tag is None:
        return ledger.daily(
            lambda key: budget.matches_scope(
                model=key.model, provider=key.provider, agent=key.agent, user=key.user
            )
        )
    days: dict[date, float] = {}
    for record in ledger.records:
        if record_counts(budget, record):
            day = ledger.local_day(record.timestamp)
            days[day] = days.get(day, 0.0) + record_cost(record)
    return days


def fired_alerts(
    alerts: Iterable[AlertRecord], budget: str, period_key: str
) -> Iterator[tuple[float, datetime]]:
    """The fractions of `budget` whose alert fired in the period `period_key`."""
    for alert in alerts:
        fraction = alert.labels.get("fraction")
        if (
            alert.rule == f"budget:{budget}"
            and alert.labels.get("period_key") == period_key
            and alert.status is AlertStatus.FIRING
            and fraction is not None
        ):
            yield float(fraction), alert.fired_at
