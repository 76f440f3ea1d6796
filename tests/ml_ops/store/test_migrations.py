"""Schema versions: a database made by an older release is upgraded step by step on open,
openers that start together apply each step once, and a newer schema is refused.

The version-1 schema below is a frozen copy of what release 1 created, written by hand,
so the test keeps checking the upgrade path even if someone edits the code's step 1.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ai.errors import StoreError
from ml_ops.store import PostgresEventStore, RecordQuery, SQLiteEventStore
from ml_ops.store.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from tests.ml_ops.store.factories import T0, make_record

LATEST = SQLITE_MIGRATIONS[-1].version

SQLITE_V1 = (
    """CREATE TABLE devora_event_migrations (version INTEGER PRIMARY KEY,
        description TEXT NOT NULL, applied_at TEXT NOT NULL)""",
    """CREATE TABLE devora_events (
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
        guard_decisions TEXT NOT NULL, schema_version INTEGER NOT NULL)""",
    """CREATE TABLE devora_event_alerts (
        alert_id TEXT PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL,
        status TEXT NOT NULL, message TEXT NOT NULL, metric TEXT NOT NULL,
        value REAL, threshold REAL NOT NULL, fired_at TEXT NOT NULL,
        resolved_at TEXT, acknowledged_at TEXT, labels TEXT NOT NULL)""",
    "INSERT INTO devora_event_migrations VALUES (1, 'request log and alerts', '2026-01-01')",
    """INSERT INTO devora_events (request_id, "timestamp", operation, provider,
        model_requested, model, success, latency_ms, attempts, input_tokens, output_tokens,
        cached_input_tokens, cache_creation_tokens, reasoning_tokens, tokens_estimated,
        has_usage, cost, cached, streamed, fallback_used, user_id, tags, guard_decisions,
        schema_version)
        VALUES ('old-1', '2026-01-01T00:00:00.000000+00:00', 'chat', 'openai', 'gpt-4o',
        'gpt-4o', 1, 120.5, 1, 10, 5, 0, 0, 0, 0, 1, 0.5, 0, 0, 0, 'alice',
        '{"team": "search"}', '[]', 2)""",
)

POSTGRES_V1 = (
    """CREATE TABLE devora_event_migrations (version integer PRIMARY KEY,
        description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE devora_events (
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
        tags jsonb NOT NULL, guard_decisions text NOT NULL, schema_version integer NOT NULL)""",
    """CREATE TABLE devora_event_alerts (
        position bigint GENERATED ALWAYS AS IDENTITY,
        alert_id text PRIMARY KEY, rule text NOT NULL, severity text NOT NULL,
        status text NOT NULL, message text NOT NULL, metric text NOT NULL,
        value double precision, threshold double precision NOT NULL,
        fired_at timestamptz NOT NULL, resolved_at timestamptz,
        acknowledged_at timestamptz, labels text NOT NULL)""",
    "INSERT INTO devora_event_migrations (version, description) VALUES (1, 'request log')",
    """INSERT INTO devora_events (request_id, "timestamp", operation, provider,
        model_requested, model, success, latency_ms, attempts, input_tokens, output_tokens,
        cached_input_tokens, cache_creation_tokens, reasoning_tokens, tokens_estimated,
        has_usage, cost, cached, streamed, fallback_used, user_id, tags, guard_decisions,
        schema_version)
        VALUES ('old-1', '2026-01-01T00:00:00+00:00', 'chat', 'openai', 'gpt-4o',
        'gpt-4o', true, 120.5, 1, 10, 5, 0, 0, 0, false, true, 0.5, false, false, false,
        'alice', '{"team": "search"}', '[]', 2)""",
)


def test_the_code_knows_the_same_versions_for_both_databases() -> None:
    assert [s.version for s in SQLITE_MIGRATIONS] == list(range(1, LATEST + 1))
    assert [s.version for s in POSTGRES_MIGRATIONS] == list(range(1, LATEST + 1))


# --- SQLite -------------------------------------------------------------------------------


def sqlite_versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT version FROM devora_event_migrations ORDER BY version")
        versions = [int(row[0]) for row in rows]
    conn.close()
    return versions


def sqlite_objects(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    return names


async def test_sqlite_version_1_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with sqlite3.connect(path) as conn:
        for statement in SQLITE_V1:
            conn.execute(statement)
    conn.close()
    assert sqlite_versions(path) == [1]
    async with SQLiteEventStore(path) as store:
        (old,) = await store.query(RecordQuery(tags={"team": "search"}))
        assert (old.request_id, old.user, old.estimated_cost) == ("old-1", "alice", 0.5)
        await store.append([make_record(1)])
        report = await store.apply_retention(keep_raw_until=T0)  # needs version 2's table
        assert report.pruned == 1
        assert [r.requests for r in await store.rollups()] == [1]
    assert sqlite_versions(path) == list(range(1, LATEST + 1))
    assert {"devora_event_rollups", "devora_events_timestamp", "devora_events_user"} <= (
        sqlite_objects(path)
    )


async def test_sqlite_openers_starting_together_apply_each_step_once(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    stores = [SQLiteEventStore(path) for _ in range(4)]
    try:
        counts = await asyncio.gather(*(s.append([make_record(n)]) for n, s in enumerate(stores)))
        assert counts == [1, 1, 1, 1]
        assert await stores[0].count(RecordQuery()) == 4
    finally:
        for store in stores:
            await store.aclose()
    assert sqlite_versions(path) == list(range(1, LATEST + 1))


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    async with SQLiteEventStore(path) as store:
        await store.append([make_record(1)])
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO devora_event_migrations VALUES (99, 'future', 'later')")
    conn.close()
    async with SQLiteEventStore(path) as store:
        with pytest.raises(StoreError, match=r"version 99.*Upgrade devora-ai"):
            await store.count(RecordQuery())


# --- PostgreSQL ---------------------------------------------------------------------------


async def pg_versions(pg_conn: Any) -> list[int]:
    rows = await pg_conn.fetch("SELECT version FROM devora_event_migrations ORDER BY version")
    return [int(row["version"]) for row in rows]


async def test_postgres_version_1_is_upgraded_on_open(postgres_test_url: str, pg_conn: Any) -> None:
    for statement in POSTGRES_V1:
        await pg_conn.execute(statement)
    async with PostgresEventStore(postgres_test_url) as store:
        (old,) = await store.query(RecordQuery(tags={"team": "search"}))
        assert (old.request_id, old.user, old.estimated_cost) == ("old-1", "alice", 0.5)
        await store.append([make_record(1)])
        report = await store.apply_retention(keep_raw_until=T0)
        assert report.pruned == 1
    assert await pg_versions(pg_conn) == list(range(1, LATEST + 1))
    for name in ("devora_event_rollups", "devora_events_tags", "devora_events_timestamp"):
        assert await pg_conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name), name


async def test_postgres_openers_starting_together_apply_each_step_once(
    postgres_test_url: str, pg_conn: Any
) -> None:
    stores = [PostgresEventStore(postgres_test_url) for _ in range(4)]
    try:
        counts = await asyncio.gather(*(s.append([make_record(n)]) for n, s in enumerate(stores)))
        assert counts == [1, 1, 1, 1]
    finally:
        for store in stores:
            await store.aclose()
    assert await pg_versions(pg_conn) == list(range(1, LATEST + 1))


async def test_postgres_refuses_a_newer_schema(postgres_test_url: str, pg_conn: Any) -> None:
    async with PostgresEventStore(postgres_test_url) as store:
        await store.append([make_record(1)])
    await pg_conn.execute(
        "INSERT INTO devora_event_migrations (version, description) VALUES (99, 'future')"
    )
    async with PostgresEventStore(postgres_test_url) as store:
        with pytest.raises(StoreError, match=r"version 99.*Upgrade devora-ai"):
            await store.count(RecordQuery())
