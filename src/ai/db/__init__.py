"""Database plumbing shared by every store, so each rule is written once:

- `postgres`: `PostgresPool`, the one asyncpg pool boundary (`PoolOptions` sizes it);
- `sqlite`: `open_sqlite` (folder created, WAL, `synchronous=NORMAL` where WAL makes it
  safe, busy timeout, autocommit, usable from worker threads), `write_transaction` /
  `read_transaction` (`BEGIN IMMEDIATE` / `BEGIN`, retried with bounded backoff while the
  file is busy) and `sqlite_errors`, where `sqlite3.Error` and `OSError` become
  `StoreError`; used by the prompt store, the embedding cache and the ml_ops event store;
- `redis`: `create_redis_client` (pool capped at `max_connections`, socket and connect
  timeouts, password masked in every message, an install hint naming the `redis` extra)
  and `connect_redis` / `RedisConnection`, whose `run` caps commands in flight and turns
  driver errors into `StoreError`; used by the response cache, and by budget, rate-limit
  and A/B counters;
- `locations`: `LocationGrammar`, the one grammar of store location strings (`memory:`,
  `sqlite:///...`, `postgresql://...`, a path) that the template, event and experiment
  stores' `open_*_store` functions read.

Each module imports its driver only when used, so `import ai.db` stays driver-free (only
the standard library's `sqlite3` is ever imported); the names below load on first access.
"""

from ai.core import lazy as _lazy

_EXPORTS = {
    "PoolOptions": "ai.db.postgres",
    "PostgresPool": "ai.db.postgres",
    "Synchronous": "ai.db.sqlite",
    "is_sqlite_busy": "ai.db.sqlite",
    "open_sqlite": "ai.db.sqlite",
    "read_transaction": "ai.db.sqlite",
    "sqlite_errors": "ai.db.sqlite",
    "sqlite_store_error": "ai.db.sqlite",
    "write_transaction": "ai.db.sqlite",
    "LocationGrammar": "ai.db.locations",
    "LocationKind": "ai.db.locations",
    "StoreLocation": "ai.db.locations",
    "location_from_environment": "ai.db.locations",
    "RedisConnection": "ai.db.redis",
    "connect_redis": "ai.db.redis",
    "create_redis_client": "ai.db.redis",
    "require_bytes_replies": "ai.db.redis",
    "resolve_redis_url": "ai.db.redis",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = _lazy.lazy_exports(__name__, __all__, _EXPORTS)
