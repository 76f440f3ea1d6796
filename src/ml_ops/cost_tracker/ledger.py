"""Internal: spend summed per local day, model, provider, agent, user and operation.

Reports and forecasts read these sums rather than raw records, so memory grows with the
number of distinct (day, model, provider, agent, user) combinations over `history_days`,
not with traffic (GrowthBook's "statistics over summaries" rule, STYLE.md). A bounded
window of the latest records is kept beside them for what needs single calls:
recommendations and the `records` export.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ai.core.records import Operation, Outcome, RequestRecord
from ml_ops.store.base import Rollup

_ONE_DAY = timedelta(days=1)


class SliceKey(NamedTuple):
    """The dimensions spend is summed over (a tuple: built once per record, cheaply)."""

    day: date
    model: str
    provider: str
    agent: str | None
    user: str | None
    operation: Operation


@dataclass(slots=True)
class Totals:
    """Counts and sums of one slice (or of several, added up)."""

    requests: int = 0
    successful: int = 0
    failed: int = 0
    refused: int = 0
    cancelled: int = 0
    cached: int = 0
    unpriced: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    saved_cost: float = 0.0

    def add_record(self, record: RequestRecord) -> None:
        """Count one record."""
        _add_record(self, record)

    def add(self, other: Totals) -> None:
        """Add `other` into this one."""
        self.requests += other.requests
        self.successful += other.successful
        self.failed += other.failed
        self.refused += other.refused
        self.cancelled += other.cancelled
        self.cached += other.cached
        self.unpriced += other.unpriced
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost += other.cost
        self.saved_cost += other.saved_cost


def _add_record(totals: Totals, record: RequestRecord) -> None:
    totals.requests += 1
    if record.success:
        totals.successful += 1
        if not record.cached and record.estimated_cost is None:
            totals.unpriced += 1
    else:
        outcome = record.outcome
        if outcome is Outcome.REFUSED:
            totals.refused += 1
        elif outcome is Outcome.CANCELLED:
            totals.cancelled += 1
        else:
            totals.failed += 1
    totals.cached += record.cached
    usage = record.usage
    if usage is not None:
        totals.input_tokens += usage.input_tokens
        totals.output_tokens += usage.output_tokens
    totals.cost += record_cost(record)
    totals.saved_cost += record.saved_cost or 0.0


def record_cost(record: RequestRecord) -> float:
    """What a record cost (0 when unknown or not billed)."""
    cost = record.estimated_cost
    return cost if cost is not None and cost > 0 else 0.0


def record_model(record: RequestRecord) -> str:
    """The model a record's spend belongs to: the one that answered, else the one asked."""
    return record.model or record.model_requested


def rollup_totals(rollup: Rollup) -> Totals:
    """An hourly roll-up (records pruned by retention) as totals; it does not say which
    failures were refusals or cancellations, so all count as failed."""
    return Totals(
        requests=rollup.requests,
        successful=rollup.requests - rollup.failures,
        failed=rollup.failures,
        cached=rollup.cached,
        input_tokens=rollup.input_tokens,
        output_tokens=rollup.output_tokens,
        cost=rollup.cost,
        saved_cost=rollup.saved_cost,
    )


class SpendLedger:
    """Totals per slice for the last `history_days` local days, plus the latest
    `keep_records` records."""

    def __init__(self, zone: ZoneInfo, history_days: int, keep_records: int) -> None:
        self.zone = zone
        self.history_days = history_days
        self.slices: dict[SliceKey, Totals] = {}
        self.records: deque[RequestRecord] = deque(maxlen=keep_records or None)
        self._keep_records = keep_records
        self._next_prune: datetime | None = None

    def local_day(self, moment: datetime) -> date:
        """The local date of an instant."""
        return moment.astimezone(self.zone).date()

    def add_record(self, record: RequestRecord) -> date:
        """Count `record`; returns its local day."""
        day = self.local_day(record.timestamp)
        key = SliceKey(
            day,
            record_model(record),
            record.provider,
            record.agent,
            record.user,
            record.operation,
        )
        totals = self.slices.get(key)
        if totals is None:
            totals = self.slices[key] = Totals()
        totals.add_record(record)
        if self._keep_records:
            self.records.append(record)
        return day

    def add_rollup(self, rollup: Rollup) -> date:
        """Count a roll-up bucket; returns its local day."""
        day = self.local_day(rollup.bucket_start)
        key = SliceKey(
            day,
            rollup.model or "",
            rollup.provider,
            rollup.agent,
            rollup.user,
            rollup.operation,
        )
        self._add(key, rollup_totals(rollup))
        return day

    def _add(self, key: SliceKey, totals: Totals) -> None:
        current = self.slices.get(key)
        if current is None:
            self.slices[key] = totals
        else:
            current.add(totals)

    def prune(self, now: datetime) -> None:
        """Drop days (and records) older than `history_days` before `now`'s day."""
        if self._next_prune is not None and now < self._next_prune:
            return
        today = self.local_day(now)
        self._next_prune = datetime.combine(today + _ONE_DAY, time(0), tzinfo=self.zone)
        oldest = today - self.history_days * _ONE_DAY
        for key in [k for k in self.slices if k.day < oldest]:
            del self.slices[key]
        while self.records and self.local_day(self.records[0].timestamp) < oldest:
            self.records.popleft()

    def clear(self) -> None:
        """Forget everything (before a rebuild from the store)."""
        self.slices.clear()
        self.records.clear()
        self._next_prune = None

    def select(
        self, first: date | None = None, last: date | None = None
    ) -> Iterator[tuple[SliceKey, Totals]]:
        """Slices whose day lies in [first, last] (either end open when None)."""
        for key, totals in self.slices.items():
            if (first is None or key.day >= first) and (last is None or key.day <= last):
                yield key, totals

    def daily(self, keep: Callable[[SliceKey], bool] = lambda key: True) -> dict[date, float]:
        """Spend per local day over the slices `keep` accepts."""
        days: dict[date, float] = {}
        for key, totals in self.slices.items():
            if keep(key):
                days[key.day] = days.get(key.day, 0.0) + totals.cost
        return days

    def recent(self, since: datetime | None = None) -> list[RequestRecord]:
        """The records kept, oldest first (from `since`, when given)."""
        if since is None:
            return list(self.records)
        return [r for r in self.records if r.timestamp >= since]


def group_totals(
    slices: Iterable[tuple[SliceKey, Totals]], dimension: Callable[[SliceKey], object]
) -> dict[object, Totals]:
    """Totals per value of `dimension` (model, user, day...)."""
    groups: dict[object, Totals] = {}
    for key, totals in slices:
        group = groups.setdefault(dimension(key), Totals())
        group.add(totals)
    return groups
