"""The event store: every `RequestRecord` appended to a request log (SQLite by default,
PostgreSQL in production), written in batches off the call path, with retention and
roll-ups. Monitoring, cost tracking and A/B testing read their history from here.

    store = open_event_store()    # $DEVORA_EVENT_STORE, $POSTGRES_..., .devora/events.db
    writer = RecordWriter(store)  # buffered, batched, spills, retries
    writer.attach(bus)            # every record on the bus is kept
    ...
    await writer.aclose(); await store.aclose()

`PostgresEventStore` is imported on first use, so importing this package never imports
asyncpg. See docs/monitoring.md, "The event store".
"""

import typing as _typing

from ai.core import lazy as _lazy
from ml_ops.store.base import (
    AlertRecord,
    AlertStatus,
    EventStore,
    RecordQuery,
    RetentionReport,
    Rollup,
)
from ml_ops.store.memory import MemoryEventStore
from ml_ops.store.opening import open_event_store
from ml_ops.store.policies import BackoffPolicy, RetentionPolicy
from ml_ops.store.sqlite import SQLiteEventStore
from ml_ops.store.writer import RecordWriter, WriterStats

if _typing.TYPE_CHECKING:
    from ml_ops.store.postgres import PostgresEventStore

__all__ = [
    "AlertRecord",
    "AlertStatus",
    "BackoffPolicy",
    "EventStore",
    "MemoryEventStore",
    "PostgresEventStore",
    "RecordQuery",
    "RecordWriter",
    "RetentionPolicy",
    "RetentionReport",
    "Rollup",
    "SQLiteEventStore",
    "WriterStats",
    "open_event_store",
]

__getattr__, __dir__ = _lazy.lazy_exports(
    __name__, __all__, {"PostgresEventStore": "ml_ops.store.postgres"}
)
