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

Errors: `sqlite3.Error` and `OSError` become `StoreError` in `_guarded`, the one boundary,
with a message that names the file and says what to check.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ai.errors import StoreError
from ai.prompts.stores.base import HistoryChange, TemplateStore, added_versions
from ai.prompts.stores.rows import history_from_rows, label_changes, version_row
from ai.prompts.versions import TemplateHistory, TemplateVersion

_T = TypeVar("_T")

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
        return await asyncio.to_thread(self._run, "load", lambda conn: _read(conn, name))

    async def names(self) -> list[str]:
        return await asyncio.to_thread(self._run, "names", _names)

    async def update(self, name: str, change: HistoryChange) -> TemplateHistory:
        return await asyncio.to_thread(
            self._run, "update", lambda conn: _update(conn, name, change)
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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE for writes
                check_same_thread=False,  # worker threads, one at a time under self._lock
            )
            try:
                _prepare(conn, self._busy_timeout)
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

    @contextmanager
    def _guarded(self, operation: str) -> Iterator[None]:
        """The one boundary: SQLite and file-system errors leave as `StoreError`."""
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"SQLite template store {self.path}: {operation} failed: "
                f"{type(exc).__name__}: {exc}. {_hint(exc, self._busy_timeout)}"
            ) from exc


def _prepare(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Per connection: WAL, the busy timeout, foreign keys, and the tables."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    _use_wal(conn, busy_timeout)
    present = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
        " AND name IN ('prompt_versions', 'prompt_labels')"
    ).fetchone()[0]
    if present < len(SCHEMA_SQL):  # only a first use needs the write lock
        with _transaction(conn, "BEGIN IMMEDIATE"):
            for statement in SCHEMA_SQL:
                conn.execute(statement)


def _use_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch the file to WAL (a no-op once it is), retrying while another opener holds it.

    Leaving the rollback journal needs an exclusive lock, and SQLite answers SQLITE_BUSY
    at once instead of calling the busy handler, so processes opening a new file together
    would fail without this loop.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if _primary_code(exc) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(0.005)


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # some errors (a full disk) have rolled back already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _names(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT DISTINCT name FROM prompt_versions").fetchall()
    return sorted(str(row[0]) for row in rows)


def _read(conn: sqlite3.Connection, name: str) -> TemplateHistory | None:
    with _transaction(conn):  # one snapshot for versions and labels
        return _select(conn, name)


def _select(conn: sqlite3.Connection, name: str) -> TemplateHistory | None:
    versions = conn.execute(_SELECT_VERSIONS, (name,)).fetchall()
    labels = conn.execute(_SELECT_LABELS, (name,)).fetchall()
    return history_from_rows(name, versions, labels)


def _update(conn: sqlite3.Connection, name: str, change: HistoryChange) -> TemplateHistory:
    with _transaction(conn, "BEGIN IMMEDIATE"):
        old = _select(conn, name)
        new = change(old)
        added = added_versions(name, old, new)
        conn.executemany(_INSERT_VERSION, [_sqlite_row(version) for version in added])
        removed, moved = label_changes(old, new)
        conn.executemany(_DELETE_LABEL, [(name, label) for label in removed])
        now = datetime.now(UTC).isoformat()
        conn.executemany(
            _UPSERT_LABEL, [(name, label, number, now) for label, number in moved.items()]
        )
        return new


def _sqlite_row(version: TemplateVersion) -> tuple[Any, ...]:
    row = version_row(version)
    return (*row[:3], version.created_at.isoformat(), *row[4:])


def _hint(exc: BaseException, busy_timeout: float) -> str:
    """What to do next, for the errors people meet."""
    code = _primary_code(exc)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return (
            f"Another writer kept the database locked for more than {busy_timeout}s; retry, "
            "or raise busy_timeout."
        )
    if isinstance(exc, OSError) or code in _UNWRITABLE:
        return "Check that the folder exists (or can be created) and is writable."
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return "The file is not a healthy SQLite database; restore it from a backup."
    return "Check the file, its folder's permissions and the free disk space."


_UNWRITABLE = (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM)


def _primary_code(exc: BaseException) -> int | None:
    """SQLite's primary result code (the low byte of an extended one like BUSY_SNAPSHOT)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None
