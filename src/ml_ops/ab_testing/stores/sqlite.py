"""Experiments in one SQLite file: the embedded default, `.devora/experiments.db`.

Opened through `ai.db.sqlite` (WAL, busy timeout, autocommit) and written only inside
`write_transaction` (`BEGIN IMMEDIATE`), so several processes may share the file: a state
update reads the stored state and writes the new one under SQLite's write lock, and adding
totals reads and rewrites each row under the same lock, so no count is lost. Calls are
synchronous; the store's one connection is used one call at a time under a lock.

Errors: `sqlite3.Error` and `OSError` leave as `StoreError` at `sqlite_errors`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from ai.db.sqlite import (
    DEFAULT_BUSY_TIMEOUT_S,
    open_sqlite,
    read_transaction,
    sqlite_errors,
    write_transaction,
)
from ai.errors import StoreError
from ml_ops.ab_testing.state import ExperimentState
from ml_ops.ab_testing.stores.base import (
    StateChange,
    TotalsKey,
    merged,
    not_found,
    state_from_text,
    state_text,
    totals_from_text,
)
from ml_ops.ab_testing.totals import VariantTotals

_T = TypeVar("_T")

DEFAULT_PATH = Path(".devora") / "experiments.db"
_STORE = "SQLite experiment store"
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ab_experiments (
        name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        revision INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ab_totals (
        experiment TEXT NOT NULL,
        variant TEXT NOT NULL,
        period INTEGER NOT NULL,
        totals TEXT NOT NULL,
        PRIMARY KEY (experiment, variant, period)
    )""",
)


class SQLiteExperimentStore:
    """The `ExperimentStore` in the SQLite file at `path` (created with its folder on
    first use). `busy_timeout` is how long a write waits for another process's lock."""

    def __init__(
        self, path: str | Path = DEFAULT_PATH, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S
    ) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteExperimentStore({str(self.path)!r})"

    def create(self, state: ExperimentState) -> tuple[ExperimentState, bool]:
        def work(conn: sqlite3.Connection) -> tuple[ExperimentState, bool]:
            row = conn.execute(
                "SELECT state FROM ab_experiments WHERE name = ?", (state.name,)
            ).fetchone()
            if row is not None:
                return state_from_text(row[0]), False
            conn.execute(
                "INSERT INTO ab_experiments VALUES (?, ?, ?, ?)",
                (state.name, state_text(state), state.revision, _now()),
            )
            return state, True

        return self._write("create", work)

    def load(self, name: str) -> ExperimentState | None:
        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT state FROM ab_experiments WHERE name = ?", (name,))
            found = row.fetchone()
            return None if found is None else str(found[0])

        text = self._read("load", work)
        return None if text is None else state_from_text(text)

    def load_all(self) -> list[ExperimentState]:
        def work(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute("SELECT state FROM ab_experiments ORDER BY name").fetchall()
            return [str(row[0]) for row in rows]

        return [state_from_text(text) for text in self._read("list", work)]

    def update(self, name: str, change: StateChange) -> ExperimentState:
        def work(conn: sqlite3.Connection) -> ExperimentState:
            row = conn.execute("SELECT state FROM ab_experiments WHERE name = ?", (name,))
            found = row.fetchone()
            if found is None:
                names = [r[0] for r in conn.execute("SELECT name FROM ab_experiments")]
                raise not_found(name, sorted(names))
            stored = state_from_text(found[0])
            changed = change(stored)
            if changed is stored:
                return stored
            changed = replace(changed, revision=stored.revision + 1)
            conn.execute(
                "UPDATE ab_experiments SET state = ?, revision = ?, updated_at = ? WHERE name = ?",
                (state_text(changed), changed.revision, _now(), name),
            )
            return changed

        return self._write("update", work)

    def add_totals(self, deltas: Mapping[TotalsKey, VariantTotals]) -> None:
        if not deltas:
            return

        def work(conn: sqlite3.Connection) -> None:
            for (experiment, variant, period), delta in sorted(deltas.items()):
                row = conn.execute(
                    "SELECT totals FROM ab_totals WHERE experiment = ? AND variant = ? "
                    "AND period = ?",
                    (experiment, variant, period),
                ).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO ab_totals VALUES (?, ?, ?, ?)",
                    (experiment, variant, period, merged(None if row is None else row[0], delta)),
                )

        self._write("add totals", work)

    def totals(self, name: str) -> dict[tuple[str, int], VariantTotals]:
        def work(conn: sqlite3.Connection) -> list[tuple[str, int, str]]:
            rows = conn.execute(
                "SELECT variant, period, totals FROM ab_totals WHERE experiment = ?", (name,)
            )
            return [(str(v), int(p), str(t)) for v, p, t in rows.fetchall()]

        return {(v, p): totals_from_text(t) for v, p, t in self._read("read totals", work)}

    def close(self) -> None:
        """Close the connection; later calls raise `StoreError`. Idempotent."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # --- the connection -----------------------------------------------------------------

    def _write(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return self._run(
            operation,
            lambda conn: write_transaction(conn, work, busy_timeout=self._busy_timeout),
        )

    def _read(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return self._run(
            operation,
            lambda conn: read_transaction(conn, work, busy_timeout=self._busy_timeout),
        )

    def _run(self, operation: str, job: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            if self._closed:
                raise StoreError(
                    f"{_STORE} {self.path}: {operation}: the store is closed; create a new "
                    "ABTester (or SQLiteExperimentStore)."
                )
            with sqlite_errors(
                self.path, store=_STORE, operation=operation, busy_timeout=self._busy_timeout
            ):
                return job(self._connection())

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = open_sqlite(self.path, store=_STORE, busy_timeout=self._busy_timeout)
            try:
                write_transaction(conn, _create_tables, busy_timeout=self._busy_timeout)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn


def _create_tables(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        conn.execute(statement)


def _now() -> str:
    return datetime.now(UTC).isoformat()
