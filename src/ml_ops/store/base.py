"""What every event store offers: append records, read them back, roll them up, keep alerts.

The store is the memory of ml_ops: monitoring rebuilds its windows from it after a
restart, cost tracking sums spend from it, A/B testing reads outcomes from it, and with a
PostgreSQL store every process of a deployment sees the traffic of all the others.

Rows are `RequestRecord`s (`ai.core.records`). `append` is idempotent by `request_id`, so
a batch retried after a timeout never counts a call twice. Every record gets a store-wide
sequence number in insertion order; `read_after(seq)` is how a reader follows the log
(tail -f), whichever process wrote the records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from ai.core.records import Operation, RequestRecord
from ai.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """Which records to read: a time range (`since` inclusive, `until` exclusive) and
    equality filters; `tags` must all match. Newest first when `newest_first`."""

    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    provider: str | None = None
    user: str | None = None
    agent: str | None = None
    operation: Operation | None = None
    success: bool | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    limit: int | None = None
    newest_first: bool = False

    def __post_init__(self) -> None:
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 0):
            raise ConfigurationError(f"RecordQuery.limit must be None or >= 0, got {self.limit!r}")


class AlertStatus(StrEnum):
    """An alert fires, then resolves (by itself when the metric recovers, or by hand)."""

    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert as stored: which rule, how bad, the value that crossed the threshold,
    and when it fired, was acknowledged and resolved. `alert_id` is stable across updates
    (saving a record with the same id replaces it)."""

    alert_id: str
    rule: str
    severity: str
    status: AlertStatus
    message: str
    metric: str
    value: float | None
    threshold: float
    fired_at: datetime
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rollup:
    """Aggregates of the records of one time bucket and one group (model, provider,
    operation, user, agent), kept after the raw records are pruned.

    `latency_bins` and `ttft_bins` are the bins of a DDSketch with 1% relative accuracy
    (key -> count, `ai`-independent and mergeable by adding counts), so percentiles over
    long ranges survive retention.
    """

    bucket_start: datetime
    bucket_seconds: int
    model: str | None
    provider: str
    operation: Operation
    user: str | None
    agent: str | None
    requests: int
    failures: int
    cached: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost: float
    saved_cost: float
    latency_ms_sum: float
    errors: Mapping[str, int] = field(default_factory=dict)
    latency_bins: Mapping[int, int] = field(default_factory=dict)
    ttft_bins: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one retention pass did."""

    rolled_up: int
    pruned: int
    buckets_written: int


@runtime_checkable
class EventStore(Protocol):
    """The request log and its companions (rollups, alerts). Every method may raise
    `ai.errors.StoreError`; none raises a driver's own exception."""

    async def append(self, records: Sequence[RequestRecord]) -> int:
        """Store `records` in one transaction; returns how many were new (a request_id
        already stored is skipped, so retrying a batch is safe)."""
        ...

    async def query(self, query: RecordQuery) -> list[RequestRecord]:
        """Records matching `query`, oldest first unless it says otherwise."""
        ...

    async def read_after(self, seq: int, limit: int = 1000) -> tuple[list[RequestRecord], int]:
        """Records stored after sequence number `seq` (0: from the start), at most `limit`,
        in insertion order, and the sequence number of the last one (or `seq`)."""
        ...

    async def count(self, query: RecordQuery) -> int:
        """How many records match `query`."""
        ...

    async def rollups(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Rollup]:
        """Rolled-up buckets overlapping the range, oldest first."""
        ...

    async def apply_retention(self, *, keep_raw_until: datetime) -> RetentionReport:
        """Roll records older than `keep_raw_until` up into hourly buckets, then delete
        them, in one transaction (a crash leaves either both or neither)."""
        ...

    async def save_alert(self, alert: AlertRecord) -> None:
        """Insert or replace the alert with this `alert_id`."""
        ...

    async def alerts(
        self, *, status: AlertStatus | None = None, since: datetime | None = None
    ) -> list[AlertRecord]:
        """Stored alerts, newest first."""
        ...

    async def aclose(self) -> None:
        """Release connections. Idempotent."""
        ...


def json_ready(value: Any) -> Any:
    """`value` with datetimes as ISO 8601 text and enums as their values, for JSON."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value
