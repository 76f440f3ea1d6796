"""Internal: reading spend back from the event store.

`CostTracker.restore` rebuilds its picture from the store: the roll-ups of records that
retention pruned, then the raw records day by day (so memory holds one day's records at
a time), then the alerts already fired in the current periods, so a restart neither
forgets spend nor repeats alerts. A budget added later, or entering a new period, has
its period's spend read with `period_spend` the first time it is needed.

Roll-ups keep no tags (a tag such as a request fingerprint would make them as many as
the records), so a tagged budget counts raw records only: spend of its scope that
retention rolled up within its period is reported (`rolled_up_scope_spend`) for the
tracker to warn about, since the budget may be missing part of it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ai.core.records import RequestRecord
from ml_ops.cost_tracker.books import BudgetBook
from ml_ops.cost_tracker.budget import Budget, BudgetScope, format_usd
from ml_ops.cost_tracker.counters import CounterKey
from ml_ops.cost_tracker.ledger import SpendLedger, record_cost, record_model
from ml_ops.store.base import AlertRecord, AlertStatus, EventStore, RecordQuery, Rollup

logger = logging.getLogger("ml_ops.cost_tracker")

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
    return budget.tag is None and _in_scope(budget, rollup)


def rolled_up_scope_spend(budget: Budget, rollups: Iterable[Rollup]) -> float:
    """For a tagged budget, the spend of its scope in `rollups`: some of it may have
    been the budget's own, which it cannot count (0 for an untagged budget, which
    counts roll-ups)."""
    if budget.tag is None:
        return 0.0
    return sum(rollup.cost for rollup in rollups if _in_scope(budget, rollup))


def warn_rolled_up(book: BudgetBook, key: CounterKey, uncounted: float) -> None:
    """Say, once per budget and period, that a tagged budget may under-count: the store
    rolled up `uncounted` USD of its scope's spend in this period (roll-ups keep no tags)."""
    if uncounted <= 0 or book.warned_rolled_up == key.period_key:
        return
    book.warned_rolled_up = key.period_key
    logger.warning(
        "budget %r (tag %s) may under-count its %s period %s: the event store rolled up %s "
        "of its scope's spend in this period, and roll-ups keep no tags, so the budget "
        "counts none of it (a refuse budget can then pass its limit); keep raw records "
        "(RetentionPolicy.raw_days) at least as long as the budget's period",
        book.name,
        book.budget.tag,
        book.budget.period.value,
        key.period_key,
        format_usd(uncounted),
    )


def _in_scope(budget: Budget, rollup: Rollup) -> bool:
    return budget.matches_scope(
        model=rollup.model, provider=rollup.provider, agent=rollup.agent, user=rollup.user
    )


async def period_spend(
    store: EventStore, budget: Budget, start: datetime, end: datetime
) -> tuple[float, float]:
    """What the store says `budget` spent in [start, end) (raw records and roll-ups), and
    for a tagged budget the rolled-up spend of its scope it cannot count
    (`rolled_up_scope_spend`)."""
    records = await store.query(budget_query(budget, start, end))
    total = sum(record_cost(r) for r in records if record_counts(budget, r))
    rollups = await store.rollups(since=start, until=end)
    total += sum(r.cost for r in rollups if rollup_counts(budget, r))
    return total, rolled_up_scope_spend(budget, rollups)


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
