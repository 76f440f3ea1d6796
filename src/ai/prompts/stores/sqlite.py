"""Template versions in one SQLite file: a durable store with no server to run.

Two tables, created on first use:

    prompt_versions(name, version, author, created_at, note, content_hash, content JSON)
    prompt_labels(name, label, version, updated_at)

A write runs inside `BEGIN IMMEDIATE`, which takes SQLite's single write lock before it
reads the history, so writers on any number of connections or processes serialise and the
next number is always read after the previous writer committed; the primary key
(name, version) is the backstop. The file is in WAL mode, so readers never wait for a
writer. A read verifies every version's content hash (`TemplateHistory.from_dict`), so a
row edited behind the store's back is refused rather than served.

The row conversions at the bottom are shared with the PostgreSQL store, which keeps the
same two tables.

Opening the file, the write transaction with its retry on a busy file, and the error
conversion are `ai.db.sqlite`'s, shared with the other SQLite stores. Errors:
`sqlite3.Error` and `OSError` become `StoreError` in `_guarded`, the one boundary, with a
message that names the file and says what to check.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ai.db.sqlite import open_sqlite, read_transaction, sqlite_errors, write_transaction
from ai.errors import StoreError
from ai.prompts.stores.base import HistoryChange, TemplateStore, added_versions
from ai.prompts.stores.rows import history_from_rows, label_changes, version_row
from ai.prompts.versions import TemplateHistory, TemplateVersion

_T = TypeVar("_T")

_STORE = "SQLite template store"

SCHEMA_SQL = (
    """CREATE TABLE IF NOT EXISTS prompt_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        author TEXT NOT NULL,
        created_at TEXT NOT NULL,
        note TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        content TEXT NOT NULL CHECK (json_valid(content)),
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE IF NOT EXISTS prompt_labels (
        name TEXT NOT NULL,
        label TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (name, label),
        FOREIGN KEY (name, version) REFERENCES prompt_versions (name, version)
    )""",
)
_SELECT_VERSIONS = (
    "SELECT version, author, created_at, note, content_hash, content FROM prompt_versions"
    " WHERE name = ? ORDER BY version"
)
_SELECT_LABELS = "SELECT label, version FROM prompt_labels WHERE name = ?"
_INSERT_VERSION = "INSERT INTO prompt_versions VALUES (?, ?, ?, ?, ?, ?, ?)"
_UPSERT_LABEL = (
    "INSERT INTO prompt_labels VALUES (?, ?, ?, ?) ON CONFLICT (name, label)"
    " DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at"
)
_DELETE_LABEL = "DELETE FROM prompt_labels WHERE name = ? AND label = ?"


class SQLiteTemplateStore(TemplateStore):
    """Template histories in the SQLite database at `path` (created with its folder).

    One connection per store, used from worker threads one call at a time. `busy_timeout`
    is how long a writer waits for another writer's lock before giving up.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteTemplateStore({str(self.path)!r})"

    async def load(self, name: str) -> TemplateHistory | None:
        return await asyncio.to_thread(
            self._run, "load", lambda conn: _read(conn, name, self._busy_timeout)
        )

    async def names(self) -> list[str]:
        return await asyncio.to_thread(self._run, "names", _names)

    async def update(self, name: str, change: HistoryChange) -> TemplateHistory:
        return await asyncio.to_thread(
            self._run, "update", lambda conn: _update(conn, name, change, self._busy_timeout)
        )

    async def aclose(self) -> None:
        """Close the connection; the store refuses work afterwards. Idempotent."""
        await asyncio.to_thread(self._close)

    # --- blocking parts, run in a worker thread ------------------------------------------

    def _run(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock, self._guarded(operation):
            return work(self._connection())

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"SQLite template store {self.path}: the store is closed")
        if self._conn is None:
            conn = open_sqlite(
                self.path, store=_STORE, busy_timeout=self._busy_timeout, foreign_keys=True
            )
            try:
                _create_tables(conn, self._busy_timeout)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def _guarded(self, operation: str) -> AbstractContextManager[None]:
        """The one boundary: SQLite and file-system errors leave as `StoreError`."""
        return sqlite_errors(
            self.path, store=_STORE, operation=operation, busy_timeout=self._busy_timeout
        )


def _create_tables(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """The two tables, created by whichever opener gets the write lock first."""
    present = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        " AND name IN ('prompt_versions', 'prompt_labels')"
    ).fetchone()[0]
    if present < len(SCHEMA_SQL):  # only a first use needs the write lock
        write_transaction(conn, _execute_schema, busy_timeout=busy_timeout)


def _execute_schema(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA_SQL:
        conn.execute(statement)


def _names(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT DISTINCT name FROM prompt_versions").fetchall()
    return sorted(str(row[0]) for row in rows)


def _read(conn: sqlite3.Connection, name: str, busy_timeout: float) -> TemplateHistory | None:
    """Versions and labels from one snapshot."""
    return read_transaction(conn, lambda c: _select(c, name), busy_timeout=busy_timeout)


def _select(conn: sqlite3.Connection, name: str) -> TemplateHistory | None:
    versions = conn.execute(_SELECT_VERSIONS, (name,)).fetchall()
    labels = conn.execute(_SELECT_LABELS, (name,)).fetchall()
    return history_from_rows(name, versions, labels)


def _update(
    conn: sqlite3.Connection, name: str, change: HistoryChange, busy_timeout: float
) -> TemplateHistory:
    """Read, change and write under the write lock; a busy retry re-reads and re-applies."""
    return write_transaction(conn, lambda c: _apply(c, name, change), busy_timeout=busy_timeout)


def _apply(conn: sqlite3.Connection, name: str, change: HistoryChange) -> TemplateHistory:
    old = _select(conn, name)
    new = change(old)
    added = added_versions(name, old, new)
    conn.executemany(_INSERT_VERSION, [_sqlite_row(version) for version in added])
    removed, moved = label_changes(old, new)
    conn.executemany(_DELETE_LABEL, [(name, label) for label in removed])
    now = datetime.now(UTC).isoformat()
    conn.executemany(_UPSERT_LABEL, [(name, label, number, now) for label, number in moved.items()])
    return new


def _sqlite_row(version: TemplateVersion) -> tuple[Any, ...]:
    row = version_row(version)
    return (*row[:3], version.created_at.isoformat(), *row[4:])
