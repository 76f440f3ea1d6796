"""The event store's schema, as numbered migration steps for SQLite and PostgreSQL.

Each store keeps the versions it has applied in `devora_event_migrations` (version,
description, applied_at). Opening a store applies the missing steps in order, each in
one transaction that also records its version, under a lock that makes concurrent
openers take turns (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory
lock); a step whose version is already recorded is skipped, so the second opener does
nothing. A database that records a version newer than this code knows is refused with
`StoreError` (upgrade devora-ai) rather than written with an older idea of the schema.

Adding a step: append a `Migration` with the next number to both tuples; never edit a
step that has been released (hence literal SQL, not text built from `codec.COLUMNS`).

    1  devora_events (the request log: a store-wide sequence `seq`, one row per
       request_id) and devora_event_alerts
    2  devora_event_rollups, and indexes for the query filters (time, model, user,
       agent; on PostgreSQL a GIN index for tag containment)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ai.errors import StoreError

RECORDS = "devora_events"
ROLLUPS = "devora_event_rollups"
ALERTS = "devora_event_alerts"
MIGRATIONS = "devora_event_migrations"


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema step: statements run in one transaction, in order."""

    version: int
    description: str
    statements: tuple[str, ...]


def pending(applied: Iterable[int], steps: tuple[Migration, ...], where: str) -> list[Migration]:
    """The steps not applied yet, in order; `StoreError` when the database is newer."""
    done = set(applied)
    newest = max(done, default=0)
    known = steps[-1].version if steps else 0
    if newest > known:
        raise StoreError(
            f"event store {where}: its schema is version {newest}, this devora-ai knows "
            f"versions up to {known}. Upgrade devora-ai to use this database."
        )
    return [step for step in steps if step.version not in done]


# --- SQLite ---------------------------------------------------------------------------

SQLITE_MIGRATIONS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS} (version INTEGER PRIMARY KEY,"
    " description TEXT NOT NULL, applied_at TEXT NOT NULL)"
)

SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "request log and alerts",
        (
            # AUTOINCREMENT: a pruned sequence number is never handed out again.
            # Times are fixed-width UTC ISO text, so text order is time order.
            f"""CREATE TABLE {RECORDS} (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL UNIQUE,
                "timestamp" TEXT NOT NULL, operation TEXT NOT NULL, provider TEXT NOT NULL,
                model_requested TEXT NOT NULL, model TEXT, success INTEGER NOT NULL,
                error_type TEXT, error_message TEXT, latency_ms REAL NOT NULL, ttft_ms REAL,
                attempts INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
                output_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,
                cache_creation_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
                tokens_estimated INTEGER NOT NULL, has_usage INTEGER NOT NULL, cost REAL,
                cost_source TEXT, saved_cost REAL, cached INTEGER NOT NULL,
                streamed INTEGER NOT NULL, fallback_used INTEGER NOT NULL, user_id TEXT,
                agent TEXT, tags TEXT NOT NULL CHECK (json_valid(tags)),
                guard_decisions TEXT NOT NULL, schema_version INTEGER NOT NULL
            )""",
            f"""CREATE TABLE {ALERTS} (
                alert_id TEXT PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL,
                status TEXT NOT NULL, message TEXT NOT NULL, metric TEXT NOT NULL,
                value REAL, threshold REAL NOT NULL, fired_at TEXT NOT NULL,
                resolved_at TEXT, acknowledged_at TEXT, labels TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "rollups and query indexes",
        (
            f"""CREATE TABLE {ROLLUPS} (
                rollup_key TEXT PRIMARY KEY, bucket_start TEXT NOT NULL,
                bucket_seconds INTEGER NOT NULL, model TEXT, provider TEXT NOT NULL,
                operation TEXT NOT NULL, user_id TEXT, agent TEXT,
                requests INTEGER NOT NULL, failures INTEGER NOT NULL, cached INTEGER NOT NULL,
                input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
                cached_input_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
                cost REAL NOT NULL, saved_cost REAL NOT NULL, latency_ms_sum REAL NOT NULL,
                errors TEXT NOT NULL, latency_bins TEXT NOT NULL, ttft_bins TEXT NOT NULL
            )""",
            f"CREATE INDEX {ROLLUPS}_bucket ON {ROLLUPS} (bucket_start)",
            f'CREATE INDEX {RECORDS}_timestamp ON {RECORDS} ("timestamp")',
            f'CREATE INDEX {RECORDS}_model ON {RECORDS} (model, "timestamp")',
            f'CREATE INDEX {RECORDS}_user ON {RECORDS} (user_id, "timestamp")',
            f'CREATE INDEX {RECORDS}_agent ON {RECORDS} (agent, "timestamp")',
            f"CREATE INDEX {ALERTS}_fired ON {ALERTS} (fired_at)",
        ),
    ),
)


# --- PostgreSQL -----------------------------------------------------------------------

PG_TYPES = {
    "request_id": "text",
    "timestamp": "timestamptz",
    "operation": "text",
    "provider": "text",
    "model_requested": "text",
    "model": "text",
    "success": "boolean",
    "error_type": "text",
    "error_message": "text",
    "latency_ms": "double precision",
    "ttft_ms": "double precision",
    "attempts": "bigint",
    "input_tokens": "bigint",
    "output_tokens": "bigint",
    "cached_input_tokens": "bigint",
    "cache_creation_tokens": "bigint",
    "reasoning_tokens": "bigint",
    "tokens_estimated": "boolean",
    "has_usage": "boolean",
    "cost": "double precision",
    "cost_source": "text",
    "saved_cost": "double precision",
    "cached": "boolean",
    "streamed": "boolean",
    "fallback_used": "boolean",
    "user_id": "text",
    "agent": "text",
    "tags": "jsonb",  # containment (@>) for tag filters, GIN-indexed
    "guard_decisions": "text",  # exact JSON text: jsonb would rewrite numbers
    "schema_version": "integer",
}
"""The current column types of the request log, for `PostgresEventStore`'s `unnest`
casts (the steps below keep their own literal text)."""

PG_MIGRATIONS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS} (version integer PRIMARY KEY,"
    " description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "request log and alerts",
        (
            # tags: jsonb for containment (@>); guard_decisions: exact JSON text (jsonb
            # would rewrite numbers). The identity keeps CACHE 1 (the default): a range
            # cached per session would hand out numbers out of commit order.
            f"""CREATE TABLE {RECORDS} (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                request_id text NOT NULL UNIQUE, "timestamp" timestamptz NOT NULL,
                operation text NOT NULL, provider text NOT NULL, model_requested text NOT NULL,
                model text, success boolean NOT NULL, error_type text, error_message text,
                latency_ms double precision NOT NULL, ttft_ms double precision,
                attempts bigint NOT NULL, input_tokens bigint NOT NULL,
                output_tokens bigint NOT NULL, cached_input_tokens bigint NOT NULL,
                cache_creation_tokens bigint NOT NULL, reasoning_tokens bigint NOT NULL,
                tokens_estimated boolean NOT NULL, has_usage boolean NOT NULL,
                cost double precision, cost_source text, saved_cost double precision,
                cached boolean NOT NULL, streamed boolean NOT NULL,
                fallback_used boolean NOT NULL, user_id text, agent text,
                tags jsonb NOT NULL, guard_decisions text NOT NULL,
                schema_version integer NOT NULL
            )""",
            f"""CREATE TABLE {ALERTS} (
                position bigint GENERATED ALWAYS AS IDENTITY,
                alert_id text PRIMARY KEY, rule text NOT NULL, severity text NOT NULL,
                status text NOT NULL, message text NOT NULL, metric text NOT NULL,
                value double precision, threshold double precision NOT NULL,
                fired_at timestamptz NOT NULL, resolved_at timestamptz,
                acknowledged_at timestamptz, labels text NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "rollups and query indexes",
        (
            f"""CREATE TABLE {ROLLUPS} (
                rollup_key text PRIMARY KEY, bucket_start timestamptz NOT NULL,
                bucket_seconds integer NOT NULL, model text, provider text NOT NULL,
                operation text NOT NULL, user_id text, agent text,
                requests bigint NOT NULL, failures bigint NOT NULL, cached bigint NOT NULL,
                input_tokens bigint NOT NULL, output_tokens bigint NOT NULL,
                cached_input_tokens bigint NOT NULL, reasoning_tokens bigint NOT NULL,
                cost double precision NOT NULL, saved_cost double precision NOT NULL,
                latency_ms_sum double precision NOT NULL, errors text NOT NULL,
                latency_bins text NOT NULL, ttft_bins text NOT NULL
            )""",
            f"CREATE INDEX {ROLLUPS}_bucket ON {ROLLUPS} (bucket_start)",
            f'CREATE INDEX {RECORDS}_timestamp ON {RECORDS} ("timestamp")',
            f'CREATE INDEX {RECORDS}_model ON {RECORDS} (model, "timestamp")',
            f'CREATE INDEX {RECORDS}_user ON {RECORDS} (user_id, "timestamp")',
            f'CREATE INDEX {RECORDS}_agent ON {RECORDS} (agent, "timestamp")',
            f"CREATE INDEX {RECORDS}_tags ON {RECORDS} USING gin (tags jsonb_path_ops)",
            f"CREATE INDEX {ALERTS}_fired ON {ALERTS} (fired_at)",
        ),
    ),
)
