"""The writer's promises that need real processes and a real database: what SIGKILL can
lose, the flush at interpreter exit (and its time bound), and a PostgreSQL that stops and
comes back.

Nothing here asserts a duration: waits are bounded loops that fail when the condition
never holds, and the SIGKILL bound is a count of records derived from the child's pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ml_ops.store import (
    BackoffPolicy,
    PostgresEventStore,
    RecordQuery,
    RecordWriter,
    SQLiteEventStore,
)
from tests.ml_ops.store.factories import make_record
from tests.service_fixtures import POSTGRES_HINT
from tests.services.policy import service_unavailable
from tests.services.postgres_server import PostgresService, PostgresUnavailable, start_pgserver

ROOT = Path(__file__).resolve().parents[3]


def run_child(script: str, *args: str, **options: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,  # `tests.` importable; every path the child uses is given to it
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,  # type: ignore[arg-type]
    )


async def stored_ids(path: Path) -> list[str]:
    """Every record in the SQLite store, in insertion (seq) order."""
    async with SQLiteEventStore(path) as store:
        records, _ = await store.read_after(0, limit=1_000_000)
    return [r.request_id for r in records]


# --- SIGKILL ------------------------------------------------------------------------------

KILLED_CHILD = """
import asyncio, sys
from ml_ops.store import RecordWriter, SQLiteEventStore
from tests.ml_ops.store.factories import make_record

path, spill, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Acknowledging:
    "Prints `ack N` once records 0..N-1 are stored (batches are written in order)."
    def __init__(self, store):
        self.store = store
    async def append(self, records):
        count = await self.store.append(records)
        print("ack", int(records[-1].request_id.split("-")[1]) + 1, flush=True)
        return count

async def main():
    writer = RecordWriter(Acknowledging(SQLiteEventStore(path)), flush_interval=1.0,
                          spill_dir=spill, retention=None)
    number = 0
    while True:  # paced by sleeps: never faster than `rate` records a second
        writer.submit(make_record(number))
        print("sub", number, flush=True)
        number += 1
        await asyncio.sleep(1 / rate)

asyncio.run(main())
"""


async def test_sigkill_loses_at_most_the_last_interval(tmp_path: Path) -> None:
    rate, interval = 200, 1.0
    path = tmp_path / "events.db"
    child = run_child(KILLED_CHILD, str(path), str(tmp_path / "spill"), str(rate))
    assert child.stdout is not None
    acks_seen, since_ack = 0, 0
    output: list[str] = []
    try:
        # Kill half an interval after the second acknowledged flush (counted in records).
        for line in child.stdout:
            output.append(line)
            acks_seen += line.startswith("ack")
            since_ack = 0 if line.startswith("ack") else since_ack + 1
            if acks_seen >= 2 and since_ack >= rate * interval / 2:
                break
        else:
            pytest.fail(f"the child ended early: {child.communicate()[1]}")
    finally:
        child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    lines = [line.split() for line in [*output, *rest.splitlines()] if line.strip()]
    submitted = 1 + max(int(n) for kind, n in lines if kind == "sub")
    last_ack = max(int(n) for kind, n in lines if kind == "ack")
    stored = await stored_ids(path)
    kept = len(stored)
    # What was stored is exactly the first `kept` records, once each, in order...
    assert stored == [make_record(n).request_id for n in range(kept)]
    # ... nothing acknowledged is missing (the last flush may have committed unseen) ...
    assert kept >= last_ack >= 1
    # ... and the loss is at most one interval of traffic (plus the flush in flight).
    lost = max(submitted, kept) - kept
    assert lost <= 2 * rate * interval, (submitted, kept, last_ack)
    print(f"SIGKILL: submitted {submitted}, acknowledged {last_ack}, kept {kept}, lost {lost}")


# --- interpreter exit ---------------------------------------------------------------------

EXITING_CHILD = """
import asyncio, sys
from ml_ops.store import RecordWriter, SQLiteEventStore
from tests.ml_ops.store.factories import make_record

path, spill, exit_timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
writer = RecordWriter(SQLiteEventStore(path), flush_interval=3600, spill_dir=spill,
                      retention=None, exit_timeout=exit_timeout)
for number in range(20):  # no event loop at all: buffered
    writer.submit(make_record(number))

async def main():
    for number in range(20, 50):  # inside a loop; it ends before any flush is due
        writer.submit(make_record(number))

asyncio.run(main())
print("exiting", flush=True)
# no aclose(): the atexit handler must write the 50 records
"""


async def test_exit_writes_sqlite_records_without_an_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    child = run_child(EXITING_CHILD, str(path), str(tmp_path / "spill"), "10")
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "exiting" in out
    assert await stored_ids(path) == [make_record(n).request_id for n in range(50)]
    assert not list((tmp_path / "spill").glob("*.jsonl"))


async def test_exit_is_bounded_and_spills_when_the_database_is_locked(tmp_path: Path) -> None:
    path, spill = tmp_path / "events.db", tmp_path / "spill"
    async with SQLiteEventStore(path) as store:
        await store.append([make_record(1000)])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # every other writer waits (busy timeout: 30 s)
    try:
        child = run_child(EXITING_CHILD, str(path), str(spill), "0.5")
        _, err = child.communicate(timeout=25)  # far below the 30 s a writer would wait
        assert child.returncode == 0, err
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    lines = sum(len(p.read_text().splitlines()) for p in spill.glob("*.jsonl"))
    assert lines == 50
    store = SQLiteEventStore(path)
    writer = RecordWriter(store, spill_dir=spill, retention=None)
    await writer.flush()  # the next writer replays the spill file
    await writer.aclose()
    assert await store.count(RecordQuery()) == 51
    await store.aclose()


# --- PostgreSQL stops and comes back --------------------------------------------------------


@pytest.fixture
def private_postgres() -> Iterator[PostgresService]:
    """A PostgreSQL of this test's own (the session's may be external or shared)."""
    try:
        service = start_pgserver()
    except PostgresUnavailable as exc:
        service_unavailable("PostgreSQL (private, for a restart)", str(exc), POSTGRES_HINT)
    try:
        yield service
    finally:
        service.close()


async def until(condition: Callable[[], bool], what: str, tries: int = 2000) -> None:
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"never happened: {what}")


async def test_postgres_restart_loses_nothing(
    private_postgres: PostgresService, tmp_path: Path
) -> None:
    from ai.db.postgres import PoolOptions

    server = private_postgres._server
    options = PoolOptions(min_size=0, max_size=2, connect_timeout_s=2, command_timeout_s=2)
    store = PostgresEventStore(private_postgres.url, pool=options)
    writer = RecordWriter(
        store,
        flush_interval=0.05,
        spill_dir=tmp_path / "spill",
        retention=None,
        backoff=BackoffPolicy(initial=0.05, maximum=0.2),
    )
    try:
        for number in range(10):
            writer.submit(make_record(number))
        await until(lambda: writer.stats.written == 10, "first records written")
        await asyncio.to_thread(server.stop)  # pg_ctl stop: connections are cut
        for number in range(10, 40):
            writer.submit(make_record(number))
        await until(lambda: writer.stats.retried >= 2, "writes failing while it is down")
        assert writer.stats.pending == 30
        await asyncio.to_thread(server.ensure_postgres_running)
        await until(lambda: writer.stats.written == 40, "everything written after restart")
    finally:
        await writer.aclose()
        with contextlib.suppress(Exception):
            await store.aclose()
    assert writer.stats.last_error is not None and "PostgreSQL" in writer.stats.last_error
    async with PostgresEventStore(private_postgres.url) as reader:
        stored = await reader.query(RecordQuery())
    assert sorted(r.request_id for r in stored) == [make_record(n).request_id for n in range(40)]
    assert writer.stats.pending == 0 and writer.stats.spilled == 0
