"""One way to open and write a SQLite file, shared by every SQLite store.

The prompt store, the embedding cache and the ml_ops event store all keep a SQLite file
that several processes may write at once. The rules that make that work are written here
once:

- `open_sqlite` creates the folder, switches the file to WAL (readers never wait for a
  writer), sets `synchronous=NORMAL` only where WAL makes it safe, sets the busy timeout,
  and leaves transactions to the caller (autocommit; `check_same_thread=False` so a store
  can use its connection from worker threads, one call at a time under its own lock).
- `write_transaction` runs a unit of work inside `BEGIN IMMEDIATE`, which takes SQLite's
  write lock before anything is read, so concurrent writers serialise instead of failing
  halfway. SQLite's busy handler waits for the lock; where SQLite answers "database is
  locked" without waiting (WAL recovery, a journal-mode switch, a handler that gave up
  early), the whole transaction is retried with bounded, jittered backoff until
  `busy_timeout` has passed. `read_transaction` does the same for a consistent snapshot.
- `sqlite_errors` (with `sqlite_store_error` behind it) is the one boundary where
  `sqlite3.Error` and `OSError` become `ai.errors.StoreError`, with a message that names
  the store, the file and what to do next.

Only the standard library's `sqlite3` is used; nothing here keeps module-level state.
"""

from __future__ import annotations

import logging
import math
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from ai.errors import ConfigurationError, StoreError

T = TypeVar("T")

#: Seconds a writer waits for another writer's lock before its transaction fails.
DEFAULT_BUSY_TIMEOUT_S = 30.0

_FIRST_DELAY_S = 0.002  # backoff between busy retries: doubles up to _MAX_DELAY_S
_MAX_DELAY_S = 0.1
_UNWRITABLE = (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM)

logger = logging.getLogger(__name__)


class Synchronous(StrEnum):
    """SQLite's `PRAGMA synchronous` levels: how often a commit waits for the disk."""

    OFF = "OFF"
    NORMAL = "NORMAL"
    FULL = "FULL"
    EXTRA = "EXTRA"


def open_sqlite(
    path: str | Path,
    *,
    store: str = "SQLite database",
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S,
    synchronous: Synchronous = Synchronous.NORMAL,
    foreign_keys: bool = False,
    advice: str = "",
) -> sqlite3.Connection:
    """A connection to the SQLite file at `path` in WAL mode, ready for several writers.

    The parent folder is created. The connection is in autocommit mode (no implicit
    transactions: use `write_transaction` / `read_transaction`) and may be used from any
    thread, one call at a time; the caller serialises its calls (a `threading.Lock`).
    `synchronous=NORMAL` is applied only when the file is in WAL mode, where it cannot
    corrupt the database on power loss (the last commits may be lost); otherwise FULL stays.
    Failures raise `StoreError` naming `store` and the file, followed by `advice`.
    """
    timeout = _checked_timeout(busy_timeout)
    target = Path(path)
    with sqlite_errors(target, store=store, operation="open", busy_timeout=timeout, advice=advice):
        target.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            target, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            _configure(conn, target, timeout, synchronous, foreign_keys)
        except BaseException:
            conn.close()
            raise
        return conn


def write_transaction(
    conn: sqlite3.Connection,
    work: Callable[[sqlite3.Connection], T],
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `work(conn)` inside `BEGIN IMMEDIATE ... COMMIT`, retrying while the file is busy.

    On "database is locked" the transaction is rolled back and `work` runs again from the
    start, so it must read what it needs inside the transaction and have no effects
    outside it. Retries stop `busy_timeout` seconds after the first attempt; the last
    `sqlite3.OperationalError` is raised then, and any other error at once (convert them
    with `sqlite_errors`). `sleep` and `clock` are injectable for tests.
    """
    return _retry_busy(
        lambda: _transaction(conn, "BEGIN IMMEDIATE", work), busy_timeout, sleep, clock
    )


def read_transaction(
    conn: sqlite3.Connection,
    work: Callable[[sqlite3.Connection], T],
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `work(conn)` on one snapshot of the file (`BEGIN ... COMMIT`), retrying on busy.

    In WAL mode a reader rarely meets a busy file (only while another connection recovers
    the log); when it does, it retries like `write_transaction`.
    """
    return _retry_busy(lambda: _transaction(conn, "BEGIN", work), busy_timeout, sleep, clock)


def is_sqlite_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's "database is locked" (SQLITE_BUSY and its extended codes)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = _primary_code(exc)
    if code is None:
        return "database is locked" in str(exc)
    return code == sqlite3.SQLITE_BUSY


@contextmanager
def sqlite_errors(
    path: str | Path,
    *,
    store: str,
    operation: str,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S,
    advice: str = "",
) -> Iterator[None]:
    """The one boundary: `sqlite3.Error` and `OSError` inside leave as `StoreError`."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise sqlite_store_error(
            exc,
            path=path,
            store=store,
            operation=operation,
            busy_timeout=busy_timeout,
            advice=advice,
        ) from exc


def sqlite_store_error(
    exc: BaseException,
    *,
    path: str | Path,
    store: str,
    operation: str,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S,
    advice: str = "",
) -> StoreError:
    """A `StoreError` for `exc`: "<store> <path>: <operation> failed: <error>. <what to do>"."""
    message = (
        f"{store} {path}: {operation} failed: {type(exc).__name__}: {exc}. "
        f"{_hint(exc, busy_timeout)}"
    )
    return StoreError(f"{message} {advice}" if advice else message)


# --- the parts ------------------------------------------------------------------------


def _checked_timeout(busy_timeout: float) -> float:
    if isinstance(busy_timeout, bool) or not (
        isinstance(busy_timeout, int | float) and math.isfinite(busy_timeout) and busy_timeout >= 0
    ):
        raise ConfigurationError(
            f"busy_timeout must be a finite number of seconds >= 0, got {busy_timeout!r}."
        )
    return float(busy_timeout)


def _configure(
    conn: sqlite3.Connection,
    path: Path,
    busy_timeout: float,
    synchronous: Synchronous,
    foreign_keys: bool,
) -> None:
    """Per connection: busy timeout, foreign keys, WAL, then the matching synchronous level."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    mode = _use_wal(conn, busy_timeout)
    if mode != "wal":
        logger.warning(
            "SQLite file %s stays in %s journal mode (WAL unavailable here); writers will "
            "block readers",
            path,
            mode,
        )
        if synchronous is Synchronous.NORMAL:
            synchronous = Synchronous.FULL  # NORMAL is only crash-safe with WAL
    conn.execute(f"PRAGMA synchronous = {Synchronous(synchronous).value}")


def _use_wal(conn: sqlite3.Connection, busy_timeout: float) -> str:
    """Switch the file to WAL (a no-op once it is) and return the journal mode in force.

    Leaving the rollback journal needs an exclusive lock, and SQLite answers SQLITE_BUSY
    at once instead of calling the busy handler, so processes opening a new file together
    would fail without the retry.
    """

    def switch() -> str:
        return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()

    return _retry_busy(switch, busy_timeout, time.sleep, time.monotonic)


def _transaction(
    conn: sqlite3.Connection, begin: str, work: Callable[[sqlite3.Connection], T]
) -> T:
    """One attempt: `begin`, `work`, COMMIT; anything that fails rolls back first."""
    conn.execute(begin)
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # some errors (a full disk) have rolled back already
            with suppress(sqlite3.Error):  # the original error is the one to report
                conn.execute("ROLLBACK")
        raise
    return result


def _retry_busy(
    attempt: Callable[[], T],
    busy_timeout: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> T:
    """`attempt()` until it does not fail with busy, or `busy_timeout` seconds have passed.

    The waits double from 2 ms up to 100 ms, each drawn at random from its upper half so
    that processes that collided once do not collide again in step.
    """
    deadline = clock() + busy_timeout
    delay = _FIRST_DELAY_S
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            left = deadline - clock()
            if not is_sqlite_busy(exc) or left <= 0:
                raise
        sleep(min(left, random.uniform(delay / 2, delay)))  # jitter, not secrets
        delay = min(delay * 2, _MAX_DELAY_S)


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


def _primary_code(exc: BaseException) -> int | None:
    """SQLite's primary result code (the low byte of an extended one like BUSY_SNAPSHOT)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None
