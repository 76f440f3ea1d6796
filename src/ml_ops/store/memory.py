"""An event store in a list: for tests, demos and processes that need no history."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from ai.core.records import RequestRecord
from ml_ops.store.base import AlertRecord, AlertStatus, RecordQuery, RetentionReport, Rollup
from ml_ops.store.rollup import HOUR, merge_rollups, roll_up, rollup_order


class MemoryEventStore:
    """The `EventStore` contract in memory; nothing survives the process."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._ids: set[str] = set()
        self._rollups: dict[tuple[object, ...], Rollup] = {}
        self._alerts: dict[str, AlertRecord] = {}
        self._first_seq = 1  # sequence number of self._records[0]

    async def append(self, records: Sequence[RequestRecord]) -> int:
        fresh = 0
        for record in records:  # a request_id twice in one batch is stored once, too
            if record.request_id not in self._ids:
                self._records.append(record)
                self._ids.add(record.request_id)
                fresh += 1
        return fresh

    async def query(self, query: RecordQuery) -> list[RequestRecord]:
        found = [r for r in self._records if matches(r, query)]
        found.sort(key=lambda r: r.timestamp, reverse=query.newest_first)
        return found[: query.limit] if query.limit is not None else found

    async def read_after(self, seq: int, limit: int = 1000) -> tuple[list[RequestRecord], int]:
        start = max(seq + 1 - self._first_seq, 0)
        chunk = self._records[start : start + limit]
        return chunk, (seq if not chunk else self._first_seq + start + len(chunk) - 1)

    async def count(self, query: RecordQuery) -> int:
        return len(await self.query(dataclasses.replace(query, limit=None)))

    async def rollups(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Rollup]:
        found = [
            r
            for r in self._rollups.values()
            if (since is None or r.bucket_start >= since)
            and (until is None or r.bucket_start < until)
        ]
        return sorted(found, key=rollup_order)

    async def apply_retention(self, *, keep_raw_until: datetime) -> RetentionReport:
        old = [r for r in self._records if r.timestamp < keep_raw_until]
        fresh = roll_up(old, HOUR)
        for rollup in fresh:
            key = (rollup.bucket_start, rollup.model, rollup.provider, rollup.operation,
                   rollup.user, rollup.agent)  # fmt: skip
            existing = self._rollups.get(key)
            self._rollups[key] = rollup if existing is None else merge_rollups(existing, rollup)
        kept = [r for r in self._records if r.timestamp >= keep_raw_until]
        self._first_seq += len(self._records) - len(kept)  # pruning keeps later numbers
        self._records = kept
        self._ids = {r.request_id for r in kept}
        return RetentionReport(rolled_up=len(old), pruned=len(old), buckets_written=len(fresh))

    async def save_alert(self, alert: AlertRecord) -> None:
        self._alerts[alert.alert_id] = alert

    async def alerts(
        self, *, status: AlertStatus | None = None, since: datetime | None = None
    ) -> list[AlertRecord]:
        found = [
            a
            for a in self._alerts.values()
            if (status is None or a.status is status) and (since is None or a.fired_at >= since)
        ]
        return sorted(found, key=lambda a: a.fired_at, reverse=True)

    async def aclose(self) -> None:
        return None


def matches(record: RequestRecord, query: RecordQuery) -> bool:
    """Whether `record` passes `query`'s filters (the reference for every store)."""
    checks = (
        query.since is None or record.timestamp >= query.since,
        query.until is None or record.timestamp < query.until,
        query.model is None or record.model == query.model,
        query.provider is None or record.provider == query.provider,
        query.user is None or record.user == query.user,
        query.agent is None or record.agent == query.agent,
        query.operation is None or record.operation == query.operation,
        query.success is None or record.success == query.success,
        all(record.tags.get(k) == v for k, v in query.tags.items()),
    )
    return all(checks)
