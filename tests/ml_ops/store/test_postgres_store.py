"""What only the PostgreSQL store has to prove: `read_after` stays exactly-once while
several connections and processes append at once, and tables follow the search_path.

Tests use a fresh schema each (`postgres_test_url`, `pg_conn`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from ml_ops.store import PostgresEventStore, RecordQuery
from tests.ml_ops.store.factories import make_record

HOLD_KEY = 424242  # the test's own advisory lock, taken by the trigger below

HOLD_TRIGGER = (
    f"""CREATE FUNCTION hold_slow_inserts() RETURNS trigger AS $$
    BEGIN
        IF NEW.request_id LIKE 'slow-%' THEN PERFORM pg_advisory_xact_lock({HOLD_KEY}); END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER hold_slow BEFORE INSERT ON devora_events
    FOR EACH ROW EXECUTE FUNCTION hold_slow_inserts()""",
)


async def waiting_advisory_locks(pg_conn: Any, at_least: int) -> bool:
    waiting = await pg_conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    )
    return int(waiting) >= at_least


async def poll(check: Callable[[], Any], tries: int = 3000) -> None:
    """Until `check()` (a bool or an awaitable of one) holds; fails after `tries` looks."""
    for _ in range(tries):
        outcome = check()
        if outcome is True or (outcome is not False and await outcome):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_writer_that_commits_late_is_not_skipped(
    postgres_test_url: str, pg_conn: Any
) -> None:
    """Writer A takes its sequence number, then stalls before committing (a trigger waits
    on a lock the test holds); writer B appends meanwhile. Were B's larger number visible
    before A's, a reader would move past A's record for good. The store makes B wait."""
    slow, fast = make_record(1, request_id="slow-1"), make_record(2, request_id="fast-1")
    stores = [PostgresEventStore(postgres_test_url) for _ in range(3)]
    writer_a, writer_b, reader = stores
    try:
        await writer_a.append([make_record(0)])  # creates the tables
        _, cursor = await reader.read_after(0)
        for statement in HOLD_TRIGGER:
            await pg_conn.execute(statement)
        await pg_conn.execute("SELECT pg_advisory_lock($1)", HOLD_KEY)
        task_a = asyncio.create_task(writer_a.append([slow]))
        await poll(lambda: waiting_advisory_locks(pg_conn, 1))  # A holds its number, waits
        task_b = asyncio.create_task(writer_b.append([fast]))
        await poll(lambda: task_b.done() or waiting_advisory_locks(pg_conn, 2))
        seen, cursor = await reader.read_after(cursor)  # B must not be visible yet
        await pg_conn.execute("SELECT pg_advisory_unlock($1)", HOLD_KEY)
        assert await asyncio.wait_for(asyncio.gather(task_a, task_b), 30) == [1, 1]
        page, cursor = await reader.read_after(cursor)
        seen += page
        assert [r.request_id for r in seen] == ["slow-1", "fast-1"]
        assert await reader.read_after(cursor) == ([], cursor)
    finally:
        for store in stores:
            await store.aclose()


WRITER_SCRIPT = """
import asyncio, sys
from ml_ops.store import PostgresEventStore
from tests.ml_ops.store.factories import make_record

url, base, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

async def main():
    store = PostgresEventStore(url)
    try:
        for b in range(batches):
            await store.append([make_record(base + 10 * b + i) for i in range(10)])
    finally:
        await store.aclose()

asyncio.run(main())
"""


async def test_two_processes_write_and_a_reader_sees_both(postgres_test_url: str) -> None:
    reader = PostgresEventStore(postgres_test_url)
    await reader.count(RecordQuery())  # tables exist before the writers race
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER_SCRIPT,
            postgres_test_url,
            str(base),
            "20",
            stderr=asyncio.subprocess.PIPE,
        )
        for base in (10_000, 20_000)
    ]
    seen: list[str] = []
    cursor = 0
    try:
        async with asyncio.timeout(60):
            while any(p.returncode is None for p in processes):
                page, cursor = await reader.read_after(cursor, limit=50)
                seen += [r.request_id for r in page]
                await asyncio.sleep(0.005)
            for process in processes:
                _, stderr = await process.communicate()
                assert process.returncode == 0, stderr.decode()
        page, cursor = await reader.read_after(cursor, limit=10_000)
        seen += [r.request_id for r in page]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await reader.aclose()
    expected = {make_record(base + n).request_id for base in (10_000, 20_000) for n in range(200)}
    assert len(seen) == len(expected) == 400
    assert set(seen) == expected
    for base in ("req-1", "req-2"):  # each process's records in its own order
        mine = [i for i in seen if i.startswith(base)]
        assert mine == sorted(mine)


async def test_tables_land_in_the_search_path_schema(postgres_test_url: str, pg_conn: Any) -> None:
    async with PostgresEventStore(postgres_test_url) as store:
        await store.append([make_record(1)])
    schema = await pg_conn.fetchval("SELECT current_schema()")
    tables = await pg_conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema
    )
    assert [t["tablename"] for t in tables] == [
        "devora_event_alerts",
        "devora_event_migrations",
        "devora_event_rollups",
        "devora_events",
    ]
    assert await pg_conn.fetchval("SELECT tags->>'team' FROM devora_events") == "chat"


def test_repr_and_default_spill_folder_hide_the_password() -> None:
    store = PostgresEventStore("postgresql://u:hunter2-secret@db.internal/events")
    assert "hunter2" not in repr(store)
    assert "hunter2" not in str(store.spill_dir)
    same = PostgresEventStore("postgresql://u:other-password@db.internal/events")
    assert same.spill_dir == store.spill_dir  # one folder per database, not per password
