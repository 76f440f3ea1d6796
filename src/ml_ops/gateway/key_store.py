"""Where virtual keys are kept: a SQLite file beside the event store (the embedded
default) or the deployment's PostgreSQL, one table either way. Only digests are stored.

    open_key_store(None)                 beside the event store ($DEVORA_EVENT_STORE,
                                         $POSTGRES_CONNECTION_STRING, else .devora/)
    open_key_store("keys.db")            a SQLite file
    open_key_store("postgresql://...")   a table in that database

The request path never reads the store directly: `KeyRing` caches what it looked up.
"""

# ruff: noqa: S608 - only the fixed table and column names are formatted into SQL text

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ai.core.lifecycle import AsyncClosing
from ai.db.sqlite import open_sqlite, sqlite_errors, write_transaction
from ai.errors import ConfigurationError
from ml_ops.cost_tracker.periods import BudgetPeriod
from ml_ops.gateway.keys import BudgetSpec, VirtualKey

TABLE = "devora_gateway_keys"
FILE_NAME = "gateway_keys.db"
_COLUMNS = (
    "id, digest, user_name, team, agent, name, budget_limit, budget_period, rpm, tpm, "
    "models, created_at, expires_at, revoked_at"
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    user_name TEXT NOT NULL,
    team TEXT,
    agent TEXT,
    name TEXT,
    budget_limit DOUBLE PRECISION,
    budget_period TEXT,
    rpm INTEGER,
    tpm INTEGER,
    models TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
)"""


class KeyStore(AsyncClosing, ABC):
    """Virtual keys by id and by digest."""

    @abstractmethod
    async def add(self, key: VirtualKey) -> None:
        """Store a new key."""

    @abstractmethod
    async def by_digest(self, digest: str) -> VirtualKey | None:
        """The key with this digest, revoked and expired ones included."""

    @abstractmethod
    async def list(self) -> list[VirtualKey]:
        """Every key, oldest first."""

    @abstractmethod
    async def revoke(self, key_id: str, when: datetime | None = None) -> VirtualKey | None:
        """Mark a key revoked (idempotent); None when no key has that id."""

    async def aclose(self) -> None:
        return None


def key_row(key: VirtualKey) -> tuple[Any, ...]:
    """The table row of `key`, in `_COLUMNS` order."""
    budget = key.budget
    return (
        key.id,
        key.digest,
        key.user,
        key.team,
        key.agent,
        key.name,
        None if budget is None else budget.limit,
        None if budget is None else budget.period.value,
        key.rpm,
        key.tpm,
        json.dumps(list(key.models)),
        key.created_at.isoformat(),
        None if key.expires_at is None else key.expires_at.isoformat(),
        None if key.revoked_at is None else key.revoked_at.isoformat(),
    )


def key_from_row(row: Sequence[Any]) -> VirtualKey:
    """The inverse of `key_row`."""
    limit, period = row[6], row[7]
    return VirtualKey(
        id=row[0],
        digest=row[1],
        user=row[2],
        team=row[3],
        agent=row[4],
        name=row[5],
        budget=None if limit is None else BudgetSpec(float(limit), BudgetPeriod(period)),
        rpm=row[8],
        tpm=row[9],
        models=tuple(json.loads(row[10])),
        created_at=_time(row[11]) or datetime.now(UTC),
        expires_at=_time(row[12]),
        revoked_at=_time(row[13]),
    )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class SQLiteKeyStore(KeyStore):
    """Keys in a SQLite file (WAL; several processes may share it)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({str(self.path)!r})"

    def _run(self, operation: str, work: Any) -> Any:
        with self._lock, sqlite_errors(self.path, store="key store", operation=operation):
            if self._conn is None:
                self._conn = open_sqlite(self.path, store="key store")
                self._conn.execute(_SCHEMA)
            return work(self._conn)

    async def add(self, key: VirtualKey) -> None:
        sql = f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES ({', '.join('?' * 14)})"
        await asyncio.to_thread(
            self._run, "add", lambda c: write_transaction(c, lambda t: t.execute(sql, key_row(key)))
        )

    async def by_digest(self, digest: str) -> VirtualKey | None:
        sql = f"SELECT {_COLUMNS} FROM {TABLE} WHERE digest = ?"
        row = await asyncio.to_thread(
            self._run, "lookup", lambda c: c.execute(sql, (digest,)).fetchone()
        )
        return None if row is None else key_from_row(row)

    async def list(self) -> list[VirtualKey]:
        sql = f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY created_at, id"
        rows = await asyncio.to_thread(self._run, "list", lambda c: c.execute(sql).fetchall())
        return [key_from_row(row) for row in rows]

    async def revoke(self, key_id: str, when: datetime | None = None) -> VirtualKey | None:
        stamp = (when or datetime.now(UTC)).isoformat()
        update = f"UPDATE {TABLE} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        select = f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = ?"

        def work(conn: sqlite3.Connection) -> Any:
            conn.execute(update, (stamp, key_id))
            return conn.execute(select, (key_id,)).fetchone()

        row = await asyncio.to_thread(self._run, "revoke", lambda c: write_transaction(c, work))
        return None if row is None else key_from_row(row)

    async def aclose(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class PostgresKeyStore(KeyStore):
    """Keys in a PostgreSQL table (created on first use)."""

    def __init__(self, url: str) -> None:
        from ai.db.postgres import PoolOptions, PostgresPool

        self._pool = PostgresPool(
            url, name="key store", owner="PostgresKeyStore", options=PoolOptions(max_size=4)
        )
        self._ready = False

    def __repr__(self) -> str:
        return "PostgresKeyStore(<url>)"

    async def _conn_ready(self, conn: Any) -> None:
        if not self._ready:
            await conn.execute(_SCHEMA)
            self._ready = True

    async def _fetch(self, operation: str, sql: str, *args: Any) -> list[Any]:
        async with self._pool.connection(operation) as conn:
            await self._conn_ready(conn)
            return list(await conn.fetch(sql, *args))

    async def add(self, key: VirtualKey) -> None:
        marks = ", ".join(f"${i}" for i in range(1, 15))
        await self._fetch(
            "add", f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES ({marks})", *key_row(key)
        )

    async def by_digest(self, digest: str) -> VirtualKey | None:
        rows = await self._fetch(
            "lookup", f"SELECT {_COLUMNS} FROM {TABLE} WHERE digest = $1", digest
        )
        return key_from_row(tuple(rows[0])) if rows else None

    async def list(self) -> list[VirtualKey]:
        rows = await self._fetch("list", f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY created_at, id")
        return [key_from_row(tuple(row)) for row in rows]

    async def revoke(self, key_id: str, when: datetime | None = None) -> VirtualKey | None:
        stamp = (when or datetime.now(UTC)).isoformat()
        await self._fetch(
            "revoke",
            f"UPDATE {TABLE} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            stamp,
            key_id,
        )
        rows = await self._fetch("revoke", f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = $1", key_id)
        return key_from_row(tuple(rows[0])) if rows else None

    async def aclose(self) -> None:
        await self._pool.aclose()


def key_store_location(
    store: str | None,
    *,
    event_store: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Where keys live: `store` if given, else beside the event store (`event_store`, else
    the environment's: its PostgreSQL, or `gateway_keys.db` in the SQLite store's folder;
    `.devora/` by default)."""
    if store:
        return store
    env = os.environ if environ is None else environ
    candidates = [os.fspath(event_store)] if event_store is not None else []
    candidates += [env.get(name, "").strip() for name in _STORE_VARIABLES]
    for value in candidates:
        if value.startswith(("postgresql://", "postgres://")):
            return value
        if value and value != "memory:":
            path = Path(value.split("://", 1)[1][1:] if "://" in value else value)
            folder = path.parent if path.suffix else path
            return str(folder / FILE_NAME)
    return str(Path(".devora") / FILE_NAME)


_STORE_VARIABLES = ("DEVORA_EVENT_STORE", "POSTGRES_CONNECTION_STRING")


def open_key_store(
    location: str | None = None,
    *,
    event_store: str | os.PathLike[str] | None = None,
    must_exist: bool = False,
) -> KeyStore:
    """The key store at `location` (see `key_store_location`). With `must_exist`, a SQLite
    file that is not there is a `ConfigurationError` (listing or revoking keys in a
    mistyped path would otherwise create an empty store)."""
    where = key_store_location(location, event_store=event_store)
    if where.startswith(("postgresql://", "postgres://")):
        return PostgresKeyStore(where)
    if "://" in where:
        raise ConfigurationError(
            f"key store {where.split('://', 1)[0]}:// is not supported; use a SQLite file "
            "path or a postgresql:// URL."
        )
    if must_exist and not Path(where).is_file():
        raise ConfigurationError(
            f"no key store at {where!r}: no key was created there; check --store, "
            "--event-store or the config's keys.store, or create a key with `devora keys create`"
        )
    return SQLiteKeyStore(where)
