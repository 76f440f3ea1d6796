"""The event store: every `RequestRecord` appended to a request log (SQLite by default,
PostgreSQL in production), written in batches off the call path, with retention and
roll-ups. Monitoring, cost tracking and A/B testing read their history from here."""

from ml_ops.store.base import (
    AlertRecord,
    AlertStatus,
    EventStore,
    RecordQuery,
    RetentionReport,
    Rollup,
)
from ml_ops.store.memory import MemoryEventStore

__all__ = [
    "AlertRecord",
    "AlertStatus",
    "EventStore",
    "MemoryEventStore",
    "RecordQuery",
    "RetentionReport",
    "Rollup",
]
