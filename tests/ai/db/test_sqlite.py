"""The shared SQLite opener: WAL and its settings, write transactions that wait their turn
(threads and processes), snapshots, and the one error boundary.

Concurrency tests set `PRAGMA busy_timeout = 0` on their connections, so SQLite's own busy
handler never waits and only `write_transaction`'s retry can make both writers succeed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ai.db
from ai.db.sqlite import (
    Synchronous,
    is_sqlite_busy,
    open_sqlite,
    read_transaction,
    sqlite_errors,
    sqlite_store_error,
    write_transaction,
)
from ai.errors import ConfigurationError, StoreError


class FakeTime:
    """An injected clock whose `sleep` only records the wait and moves the clock on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def counter_db(path: Path) -> None:
    """A file with one row, `counter(value)`, at 0."""
    conn = open_sqlite(path)
    write_transaction(conn, _create_counter)
    conn.close()


def _create_counter(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE counter (value INTEGER NOT NULL)")
    conn.execute("INSERT INTO counter VALUES (0)")


def increment(conn: sqlite3.Connection, hold: float = 0.0) -> None:
    """Read, wait `hold` seconds holding the lock, write: lost updates would show."""
    value = conn.execute("SELECT value FROM counter").fetchone()[0]
    time.sleep(hold)
    conn.execute("UPDATE counter SET value = ?", (value + 1,))


def counter_value(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT value FROM counter").fetchone()[0])
    finally:
        conn.close()


def holding_the_write_lock(path: Path) -> sqlite3.Connection:
    """Another writer, holding SQLite's write lock until it rolls back."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


# --- opening ---------------------------------------------------------------------------


def test_open_creates_the_folder_and_sets_wal_and_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.db"
    conn = open_sqlite(path, busy_timeout=2.5)
    try:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 0
        assert conn.isolation_level is None  # autocommit: the caller owns transactions
        conn.execute("CREATE TABLE t (x)")
        assert not conn.in_transaction
    finally:
        conn.close()
    independent = sqlite3.connect(path)
    try:  # WAL is a property of the file, seen by every later connection
        assert independent.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        independent.close()


def test_open_options(tmp_path: Path) -> None:
    conn = open_sqlite(tmp_path / "x.db", synchronous=Synchronous.FULL, foreign_keys=True)
    try:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        conn.close()


def test_without_wal_normal_is_not_used(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ai.db.sqlite"):
        conn = open_sqlite(":memory:")  # an in-memory database cannot be in WAL mode
    try:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL, not NORMAL
        assert "WAL unavailable" in caplog.text
    finally:
        conn.close()


async def test_a_connection_serves_worker_threads_one_call_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    counter_db(path)
    conn = open_sqlite(path)
    try:
        for _ in range(3):
            await asyncio.to_thread(write_transaction, conn, increment)
        value = await asyncio.to_thread(
            read_transaction, conn, lambda c: c.execute("SELECT value FROM counter").fetchone()
        )
        assert value == (3,)
    finally:
        conn.close()


@pytest.mark.parametrize("busy_timeout", [-1, float("nan"), float("inf"), True])
def test_invalid_busy_timeout_is_named(tmp_path: Path, busy_timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="busy_timeout"):
        open_sqlite(tmp_path / "x.db", busy_timeout=busy_timeout)


# --- errors ----------------------------------------------------------------------------


def _under_a_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    return blocker / "store.db"


@pytest.mark.parametrize(
    "where",
    [_under_a_file, lambda _: Path("/proc/devora-db-test.db")],
    ids=["under-a-file", "unwritable-folder"],
)
def test_an_unusable_path_is_a_store_error_naming_it(tmp_path: Path, where: object) -> None:
    assert callable(where)
    path = where(tmp_path)
    with pytest.raises(StoreError) as caught:
        open_sqlite(path, store="event store", advice="Set DEVORA_DB to a writable file.")
    message = str(caught.value)
    assert message.startswith(f"event store {path}: open failed: ")
    assert "writable" in message
    assert message.endswith("Set DEVORA_DB to a writable file.")
    assert isinstance(caught.value.__cause__, OSError | sqlite3.Error)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"not a database at all " * 300)
    with pytest.raises(StoreError, match="not a healthy SQLite database"):
        open_sqlite(path)


def test_sqlite_errors_converts_only_sqlite_and_os_errors(tmp_path: Path) -> None:
    memory = sqlite3.connect(":memory:")
    with (
        pytest.raises(StoreError, match=r"^s .*x\.db: read failed: OperationalError: no such"),
        sqlite_errors(tmp_path / "x.db", store="s", operation="read"),
    ):
        memory.execute("SELECT * FROM missing")
    memory.close()
    with pytest.raises(KeyError), sqlite_errors(tmp_path / "x.db", store="s", operation="read"):
        raise KeyError("not ours to convert")
    error = sqlite_store_error(PermissionError(13, "denied"), path="p.db", store="s", operation="w")
    assert "Check that the folder exists (or can be created) and is writable." in str(error)


# --- write transactions and the busy retry -------------------------------------------


def test_write_transaction_commits_and_returns(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    counter_db(path)
    conn = open_sqlite(path)

    def work(c: sqlite3.Connection) -> str:
        increment(c)
        return "done"

    try:
        assert write_transaction(conn, work) == "done"
        assert not conn.in_transaction
    finally:
        conn.close()
    assert counter_value(path) == 1


def test_a_failing_write_rolls_back_and_is_not_retried(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    counter_db(path)
    conn = open_sqlite(path)
    calls: list[int] = []

    def half_done(c: sqlite3.Connection) -> None:
        calls.append(1)
        increment(c)
        c.execute("INSERT INTO missing VALUES (1)")

    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            write_transaction(conn, half_done)
        assert calls == [1] and not conn.in_transaction
    finally:
        conn.close()
    assert counter_value(path) == 0


def test_a_busy_file_is_retried_with_bounded_growing_waits(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    counter_db(path)
    conn = open_sqlite(path)
    conn.execute("PRAGMA busy_timeout = 0")
    other = holding_the_write_lock(path)
    fake = FakeTime()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if len(fake.waits) == 6:
            other.execute("ROLLBACK")  # the other writer finishes

    try:
        write_transaction(conn, increment, busy_timeout=5, sleep=sleep, clock=fake.clock)
    finally:
        other.close()
        conn.close()
    assert counter_value(path) == 1
    assert len(fake.waits) == 6
    assert all(0 < wait <= 0.1 for wait in fake.waits)
    assert fake.waits[-1] > fake.waits[0]  # backoff grows (each wait drawn from its upper half)


def test_retries_stop_after_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    counter_db(path)
    conn = open_sqlite(path)
    conn.execute("PRAGMA busy_timeout = 0")
    other = holding_the_write_lock(path)
    fake = FakeTime()
    try:
        with (
            pytest.raises(StoreError, match="raise busy_timeout") as caught,
            sqlite_errors(path, store="s", operation="write", busy_timeout=2),
        ):
            write_transaction(conn, increment, busy_timeout=2, sleep=fake.sleep, clock=fake.clock)
        assert is_sqlite_busy(caught.value.__cause__)  # type: ignore[arg-type]
        assert str(path) in str(caught.value)
        assert sum(fake.waits) == pytest.approx(2)  # the last wait is cut to the deadline
        assert not conn.in_transaction
    finally:
        other.close()
        conn.close()


def test_is_sqlite_busy() -> None:
    assert is_sqlite_busy(sqlite3.OperationalError("database is locked"))
    assert not is_sqlite_busy(sqlite3.OperationalError("no such table: x"))
    assert not is_sqlite_busy(ValueError("database is locked"))


def test_two_threads_writing_concurrently_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    counter_db(path)
    waits: list[float] = []
    failures: list[BaseException] = []

    def writer() -> None:
        conn = open_sqlite(path)
        conn.execute("PRAGMA busy_timeout = 0")  # only the retry may wait
        try:
            for _ in range(40):
                write_transaction(conn, lambda c: increment(c, hold=0.001), sleep=_recording(waits))
        except BaseException as exc:
            failures.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert counter_value(path) == 80  # no write lost, none failed
    assert waits, "the writers never collided, so the retry went untested"


def _recording(waits: list[float]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    return sleep


_PROCESS_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ai.db.sqlite import open_sqlite, write_transaction

    path, go, rounds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    conn = open_sqlite(path)
    conn.execute("PRAGMA busy_timeout = 0")  # only the retry may wait
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    def increment(c):
        value = c.execute("SELECT value FROM counter").fetchone()[0]
        time.sleep(0.002)
        c.execute("UPDATE counter SET value = ?", (value + 1,))

    while not go.exists():
        time.sleep(0.001)
    for _ in range(rounds):
        write_transaction(conn, increment, sleep=sleep)
    conn.close()
    print(len(waits))
    """
)


def test_two_processes_writing_one_file_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    go = tmp_path / "go"
    counter_db(path)
    rounds = 40
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_WRITER, str(path), str(go), str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)  # let both import and open the file before they start together
    go.touch()
    outputs = [writer.communicate(timeout=60) for writer in writers]
    for writer, (_, stderr) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, stderr
    assert counter_value(path) == 2 * rounds
    assert sum(int(stdout) for stdout, _ in outputs) > 0, "the processes never collided"


# --- snapshots and exports ---------------------------------------------------------------


def test_a_read_transaction_sees_one_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    counter_db(path)
    reader, writer = open_sqlite(path), open_sqlite(path)

    def read_twice(c: sqlite3.Connection) -> tuple[int, int]:
        first = c.execute("SELECT value FROM counter").fetchone()[0]
        write_transaction(writer, increment)  # WAL: the writer does not wait for the reader
        second = c.execute("SELECT value FROM counter").fetchone()[0]
        return first, second

    try:
        assert read_transaction(reader, read_twice) == (0, 0)
        assert counter_value(path) == 1
    finally:
        reader.close()
        writer.close()


def test_ai_db_exports_the_sqlite_names() -> None:
    assert ai.db.open_sqlite is open_sqlite
    assert ai.db.write_transaction is write_transaction
    assert {"open_sqlite", "write_transaction", "read_transaction", "sqlite_errors"} <= set(
        ai.db.__all__
    )
