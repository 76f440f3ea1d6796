"""The event store in one SQLite file: the embedded default, no server to run.

`SQLiteEventStore(path)` keeps its tables (see `ml_ops.store.migrations`) in `path`,
`.devora/events.db` unless told otherwise; the file and its folder are created on first
use, in WAL mode so readers never wait for the writer. Several processes may write the
same file: every write is one `BEGIN IMMEDIATE` transaction (`ai.db.sqlite`), so writers
take turns and `seq` (INTEGER PRIMARY KEY AUTOINCREMENT) is handed out in commit order,
which makes `read_after` exactly-once without further work. AUTOINCREMENT also means a
number freed by retention is never used again.

All blocking work runs in `asyncio.to_thread`, one call at a time on the store's one
connection. `append_blocking` is the same append without an event loop, for the
writer's flush at interpreter exit.

Errors: `sqlite3.Error`, `OSError` (and an integer too large for SQLite) leave as
`StoreError` at `_guarded`, naming the file and what to check.
"""

# ruff: noqa: S608 - only fixed table and column names are formatted into SQL text

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ai.core.lifecycle import AsyncClosing
from ai.core.records import RequestRecord
from ai.db.sqlite import (
    DEFAULT_BUSY_TIMEOUT_S,
    open_sqlite,
    read_transaction,
    sqlite_errors,
    sqlite_store_error,
    write_transaction,
)
from ai.errors import StoreError
from ml_ops.store import migrations as m
from ml_ops.store.base import AlertRecord, AlertStatus, RecordQuery, RetentionReport, Rollup
from ml_ops.store.codec import (
    ALERT_COLUMNS,
    COLUMNS,
    ROLLUP_COLUMNS,
    alert_from_row,
    alert_row,
    from_row,
    rollup_from_row,
    rollup_key,
    rollup_row,
    to_row,
    utc_text,
)
from ml_ops.store.query_sql import Param, record_order, record_where
from ml_ops.store.rollup import HOUR, merge_into, roll_up, rollup_order

_T = TypeVar("_T")

DEFAULT_PATH = Path(".devora") / "events.db"
_STORE = "SQLite event store"
_CHUNK = 5000  # records rolled up per step of a retention pass

_SELECT = "SELECT seq, " + ", ".join(f'"{c}"' for c in COLUMNS) + f" FROM {m.RECORDS}"
_INSERT = (
    f"INSERT INTO {m.RECORDS} ("
    + ", ".join(f'"{c}"' for c in COLUMNS)
    + ") VALUES ("
    + ", ".join("?" for _ in COLUMNS)
    + ") ON CONFLICT (request_id) DO NOTHING"
)
_UPSERT_ROLLUP = (
    f"INSERT OR REPLACE INTO {m.ROLLUPS} ({', '.join(ROLLUP_COLUMNS)}) VALUES ("
    + ", ".join("?" for _ in ROLLUP_COLUMNS)
    + ")"
)
_UPSERT_ALERT = (
    f"INSERT INTO {m.ALERTS} ({', '.join(ALERT_COLUMNS)}) VALUES ("
    + ", ".join("?" for _ in ALERT_COLUMNS)
    + ") ON CONFLICT (alert_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ALERT_COLUMNS[1:])
)
_TIME_COLUMNS = frozenset(
    {"timestamp", "bucket_start", "fired_at", "resolved_at", "acknowledged_at"}
)


class SQLiteEventStore(AsyncClosing):
    """The `EventStore` in the SQLite file at `path` (created with its folder on first use).

    `busy_timeout` is how long a write waits for another process's write lock.
    """

    def __init__(
        self, path: str | Path = DEFAULT_PATH, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S
    ) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteEventStore({str(self.path)!r})"

    @property
    def spill_dir(self) -> Path:
        """Where a `RecordWriter` on this store spills by default: next to the file."""
        return self.path.with_name(self.path.name + ".spill")

    async def append(self, records: Sequence[RequestRecord]) -> int:
        rows = [_values(to_row(r), COLUMNS) for r in records]
        return await asyncio.to_thread(self._run, "append", lambda c: self._insert(c, rows))

    def append_blocking(self, records: Sequence[RequestRecord]) -> int:
        """`append` without an event loop (the writer's flush at interpreter exit)."""
        rows = [_values(to_row(r), COLUMNS) for r in records]
        return self._run("append", lambda c: self._insert(c, rows))

    async def query(self, query: RecordQuery) -> list[RequestRecord]:
        sql, params = _query_sql(query)
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        return await asyncio.to_thread(self._run, "query", lambda c: _records(c, sql, params))

    async def read_after(self, seq: int, limit: int = 1000) -> tuple[list[RequestRecord], int]:
        sql = f"{_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?"

        def work(conn: sqlite3.Connection) -> tuple[list[RequestRecord], int]:
            rows = conn.execute(sql, (int(seq), max(int(limit), 0))).fetchall()
            return [from_row(row) for row in rows], (int(rows[-1]["seq"]) if rows else seq)

        return await asyncio.to_thread(self._run, "read_after", work)

    async def count(self, query: RecordQuery) -> int:
        params: list[Any] = []
        where = _where(query, params)
        sql = f"SELECT count(*) FROM {m.RECORDS} {where}"
        return await asyncio.to_thread(
            self._run, "count", lambda c: int(c.execute(sql, params).fetchone()[0])
        )

    async def rollups(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Rollup]:
        clauses, params = [], []
        if since is not None:
            clauses.append("bucket_start >= ?")
            params.append(utc_text(since))
        if until is not None:
            clauses.append("bucket_start < ?")
            params.append(utc_text(until))
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT * FROM {m.ROLLUPS} {where}"

        def work(conn: sqlite3.Connection) -> list[Rollup]:
            found = [rollup_from_row(row) for row in conn.execute(sql, params)]
            return sorted(found, key=rollup_order)

        return await asyncio.to_thread(self._run, "rollups", work)

    async def apply_retention(self, *, keep_raw_until: datetime) -> RetentionReport:
        cutoff = utc_text(keep_raw_until)
        return await asyncio.to_thread(
            self._run, "apply_retention", lambda c: self._write(c, lambda t: _retain(t, cutoff))
        )

    async def save_alert(self, alert: AlertRecord) -> None:
        values = _values(alert_row(alert), ALERT_COLUMNS)
        await asyncio.to_thread(
            self._run,
            "save_alert",
            lambda c: self._write(c, lambda t: t.execute(_UPSERT_ALERT, values)),
        )

    async def alerts(
        self, *, status: AlertStatus | None = None, since: datetime | None = None
    ) -> list[AlertRecord]:
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(str(status))
        if since is not None:
            clauses.append("fired_at >= ?")
            params.append(utc_text(since))
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT * FROM {m.ALERTS} {where} ORDER BY fired_at DESC, rowid ASC"

        def work(conn: sqlite3.Connection) -> list[AlertRecord]:
            return [alert_from_row(row) for row in conn.execute(sql, params)]

        return await asyncio.to_thread(self._run, "alerts", work)

    async def aclose(self) -> None:
        """Close the connection; the store refuses work afterwards. Idempotent."""
        await asyncio.to_thread(self._close)

    # --- blocking parts, run in a worker thread ------------------------------------------

    def _run(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock, self._guarded(operation):
            return work(self._connection())

    def _write(self, conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return write_transaction(conn, work, busy_timeout=self._busy_timeout)

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
        def work(c: sqlite3.Connection) -> int:
            before = c.total_changes
            c.executemany(_INSERT, rows)
            return c.total_changes - before

        return self._write(conn, work) if rows else 0

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(
                f"{_STORE} {self.path}: the store is closed; create a new SQLiteEventStore."
            )
        if self._conn is None:
            conn = open_sqlite(self.path, store=_STORE, busy_timeout=self._busy_timeout)
            conn.row_factory = sqlite3.Row
            try:
                migrate(conn, busy_timeout=self._busy_timeout, where=str(self.path))
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
            with sqlite_errors(
                self.path, store=_STORE, operation=operation, busy_timeout=self._busy_timeout
            ):
                yield
        except OverflowError as exc:  # an integer beyond SQLite's 64 bits
            raise sqlite_store_error(
                exc, path=self.path, store=_STORE, operation=operation
            ) from exc


# --- migrations -------------------------------------------------------------------------


def migrate(conn: sqlite3.Connection, *, busy_timeout: float, where: str) -> list[int]:
    """Apply the missing `SQLITE_MIGRATIONS` steps in order, one `BEGIN IMMEDIATE`
    transaction each; returns the versions this call applied."""
    applied: list[int] = []
    if _current_versions(conn, busy_timeout, where) == {s.version for s in m.SQLITE_MIGRATIONS}:
        return applied  # the common case: nothing to do, no write lock taken
    write_transaction(
        conn, lambda c: c.execute(m.SQLITE_MIGRATIONS_TABLE), busy_timeout=busy_timeout
    )
    for step in m.SQLITE_MIGRATIONS:

        def apply(c: sqlite3.Connection, step: m.Migration = step) -> bool:
            versions = {int(r[0]) for r in c.execute(f"SELECT version FROM {m.MIGRATIONS}")}
            if step not in m.pending(versions, m.SQLITE_MIGRATIONS, where):
                return False  # another opener got here first
            for statement in step.statements:
                c.execute(statement)
            c.execute(
                f"INSERT INTO {m.MIGRATIONS} VALUES (?, ?, ?)",
                (step.version, step.description, datetime.now(UTC).isoformat()),
            )
            return True

        if write_transaction(conn, apply, busy_timeout=busy_timeout):
            applied.append(step.version)
    return applied


def _current_versions(conn: sqlite3.Connection, busy_timeout: float, where: str) -> set[int]:
    def read(c: sqlite3.Connection) -> set[int]:
        exists = c.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (m.MIGRATIONS,)
        ).fetchone()
        if exists is None:
            return set()
        return {int(r[0]) for r in c.execute(f"SELECT version FROM {m.MIGRATIONS}")}

    versions = read_transaction(conn, read, busy_timeout=busy_timeout)
    m.pending(versions, m.SQLITE_MIGRATIONS, where)  # refuses a newer schema early
    return versions


# --- the parts --------------------------------------------------------------------------


def _values(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    """A row's values in column order, times as fixed-width UTC text."""
    return tuple(
        utc_text(row[c]) if c in _TIME_COLUMNS and row[c] is not None else row[c] for c in columns
    )


def _where(query: RecordQuery, params: list[Any]) -> str:
    def param(value: Any) -> str:
        params.append(value)
        return "?"

    return record_where(query, param, time_value=utc_text, tags_clause=_tags_clause)


def _tags_clause(tags: Mapping[str, str], param: Param) -> list[str]:
    # json_each rather than a JSON path: any key works, dots and quotes included.
    return [
        f"EXISTS (SELECT 1 FROM json_each({m.RECORDS}.tags) WHERE key = {param(key)}"
        f" AND type = 'text' AND value = {param(value)})"
        for key, value in tags.items()
    ]


def _query_sql(query: RecordQuery) -> tuple[str, list[Any]]:
    params: list[Any] = []
    where = _where(query, params)
    return f"{_SELECT} {where} {record_order(query)}", params


def _records(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[RequestRecord]:
    return [from_row(row) for row in conn.execute(sql, params)]


def _retain(conn: sqlite3.Connection, cutoff: str) -> RetentionReport:
    """Inside one write transaction: roll old records up, merge, upsert, delete."""
    fresh: dict[tuple[Any, ...], Rollup] = {}
    seen = 0
    cursor = conn.execute(f'{_SELECT} WHERE "timestamp" < ? ORDER BY seq', (cutoff,))
    while chunk := cursor.fetchmany(_CHUNK):
        seen += len(chunk)
        merge_into(fresh, roll_up([from_row(row) for row in chunk], HOUR))
    if not seen:
        return RetentionReport(rolled_up=0, pruned=0, buckets_written=0)
    merged: dict[tuple[Any, ...], Rollup] = {}
    for key, rollup in fresh.items():
        stored = conn.execute(
            f"SELECT * FROM {m.ROLLUPS} WHERE rollup_key = ?", (rollup_key(rollup),)
        ).fetchone()
        merged[key] = rollup
        if stored is not None:
            merge_into(merged, [rollup_from_row(stored)])
    conn.executemany(
        _UPSERT_ROLLUP, [_values(rollup_row(r), ROLLUP_COLUMNS) for r in merged.values()]
    )
    pruned = conn.execute(f'DELETE FROM {m.RECORDS} WHERE "timestamp" < ?', (cutoff,)).rowcount
    return RetentionReport(rolled_up=seen, pruned=pruned, buckets_written=len(fresh))
