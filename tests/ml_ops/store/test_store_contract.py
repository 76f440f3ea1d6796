"""The `EventStore` contract, through the public API, on memory, SQLite and PostgreSQL.

`MemoryEventStore` (with `matches`) is the reference: every query must answer on the
database stores exactly what it answers. Durability and dead-database tests leave memory
out.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from ai.core.records import Operation, RequestRecord
from ai.errors import ConfigurationError, StoreError
from ml_ops.store import (
    AlertStatus,
    EventStore,
    MemoryEventStore,
    PostgresEventStore,
    RecordQuery,
    RetentionReport,
    SQLiteEventStore,
)
from ml_ops.store.memory import matches
from ml_ops.store.rollup import roll_up
from tests.ml_ops.store.conftest import ALL_BACKENDS, DURABLE_BACKENDS, Backend
from tests.ml_ops.store.factories import PLUS_TWO, T0, make_alert, make_record, rich_record
from tests.services.ports import closed_port

every_backend = pytest.mark.parametrize("backend", ALL_BACKENDS, indirect=True)
durable_backend = pytest.mark.parametrize("backend", DURABLE_BACKENDS, indirect=True)

RECORDS = [make_record(n) for n in range(42)]
# Two records at the same instant as record 5, one written in another time zone:
# ties keep insertion order, and time zones do not change the order.
TIES = [
    make_record(100, at=RECORDS[5].timestamp),
    make_record(101, at=RECORDS[5].timestamp.astimezone(PLUS_TWO)),
]
ALL = RECORDS + TIES

QUERIES = [
    RecordQuery(),
    RecordQuery(newest_first=True),
    RecordQuery(limit=5),
    RecordQuery(limit=0),
    RecordQuery(newest_first=True, limit=7),
    RecordQuery(since=RECORDS[10].timestamp),
    RecordQuery(until=RECORDS[10].timestamp),
    RecordQuery(since=RECORDS[4].timestamp, until=RECORDS[6].timestamp.astimezone(PLUS_TWO)),
    RecordQuery(model="claude-haiku"),
    RecordQuery(provider="openrouter"),
    RecordQuery(user="alice"),
    RecordQuery(agent="planner"),
    RecordQuery(operation=Operation.EMBEDDING),
    RecordQuery(operation=Operation.CHAT, success=True),
    RecordQuery(success=False),
    RecordQuery(tags={"team": "chat"}),
    RecordQuery(tags={"team": "chat", "prompt.v": "1"}),
    RecordQuery(tags={"team": "nobody"}),
    RecordQuery(tags={"missing": "x"}),
    RecordQuery(
        since=T0,
        until=T0 + timedelta(hours=9),
        provider="openai",
        user="alice",
        success=True,
        tags={"team": "search"},
        newest_first=True,
        limit=3,
    ),
]


def ids(records: list[RequestRecord]) -> list[str]:
    return [r.request_id for r in records]


async def filled(backend: Backend) -> EventStore:
    store = backend.open()
    assert await store.append(RECORDS) == len(RECORDS)
    assert await store.append(TIES) == len(TIES)
    return store


# --- append --------------------------------------------------------------------------------


@every_backend
async def test_every_store_is_an_event_store(backend: Backend) -> None:
    assert isinstance(backend.open(), EventStore)


@every_backend
async def test_append_is_idempotent_by_request_id(backend: Backend) -> None:
    store = backend.open()
    assert await store.append(RECORDS[:10]) == 10
    assert await store.append(RECORDS[5:15]) == 5  # 5..9 known: skipped
    assert await store.append([RECORDS[20], RECORDS[20], RECORDS[21]]) == 2  # twice in a batch
    changed = dataclasses.replace(RECORDS[0], latency_ms=9999.0)
    assert await store.append([changed]) == 0  # the first write wins
    assert await store.append([]) == 0
    stored = await store.query(RecordQuery())
    assert ids(stored) == ids(RECORDS[:15] + RECORDS[20:22])
    assert stored[0] == RECORDS[0]


@every_backend
async def test_records_round_trip_with_every_field(backend: Backend) -> None:
    store = backend.open()
    record = rich_record()
    await store.append([record, RECORDS[3]])  # RECORDS[3] failed: no usage, no cost
    assert await store.query(RecordQuery()) == [RECORDS[3], record]
    got, _ = await store.read_after(0)
    assert got == [record, RECORDS[3]]
    assert got[0].guard_decisions == record.guard_decisions
    assert got[0].timestamp == record.timestamp  # the same instant, whatever the zone


# --- query and count ----------------------------------------------------------------------


@every_backend
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: repr(q)[12:70])
async def test_query_and_count_match_the_reference(backend: Backend, query: RecordQuery) -> None:
    store = await filled(backend)
    reference = MemoryEventStore()
    await reference.append(ALL)
    expected = await reference.query(query)
    assert ids(await store.query(query)) == ids(expected)
    assert await store.query(query) == expected
    assert await store.count(query) == len([r for r in ALL if matches(r, query)])


@every_backend
async def test_every_filter_selects_something_and_leaves_something_out(backend: Backend) -> None:
    """Guards the data set: a filter that matched everything or nothing would prove little."""
    store = await filled(backend)
    for query in QUERIES[5:17]:
        assert 0 < await store.count(query) < len(ALL), query


@every_backend
async def test_same_instant_keeps_insertion_order_both_ways(backend: Backend) -> None:
    store = await filled(backend)
    at = RECORDS[5].timestamp
    window = RecordQuery(since=at, until=at + timedelta(microseconds=1))
    assert ids(await store.query(window)) == ["req-00005", "req-00100", "req-00101"]
    newest = dataclasses.replace(window, newest_first=True)
    assert ids(await store.query(newest)) == ["req-00005", "req-00100", "req-00101"]


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="limit"):
        RecordQuery(limit=-1)


# --- read_after ---------------------------------------------------------------------------


@every_backend
async def test_read_after_pages_through_everything_once_in_insertion_order(
    backend: Backend,
) -> None:
    store = backend.open()
    await store.append(RECORDS[:30])
    await store.append(list(reversed(RECORDS[30:])))  # insertion order, not time order
    seen: list[RequestRecord] = []
    cursors = [0]
    while True:
        page, cursor = await store.read_after(cursors[-1], limit=7)
        if not page:
            assert cursor == cursors[-1]
            break
        assert len(page) <= 7 and cursor > cursors[-1]
        seen.extend(page)
        cursors.append(cursor)
    assert seen == RECORDS[:30] + list(reversed(RECORDS[30:]))
    await store.append(TIES)
    more, last = await store.read_after(cursors[-1])
    assert more == TIES
    assert await store.read_after(last) == ([], last)
    assert await store.read_after(last, limit=0) == ([], last)


@every_backend
async def test_read_after_never_reuses_numbers_after_retention(backend: Backend) -> None:
    store = await filled(backend)
    _, last = await store.read_after(0, limit=10_000)
    await store.apply_retention(keep_raw_until=RECORDS[-1].timestamp + timedelta(days=1))
    assert await store.count(RecordQuery()) == 0
    assert await store.read_after(0) == ([], 0)
    await store.append([make_record(500)])
    page, cursor = await store.read_after(last)
    assert ids(page) == ["req-00500"] and cursor > last


@every_backend
async def test_concurrent_writers_and_a_reader_see_every_record_once(backend: Backend) -> None:
    """Two writers append small batches at once while a reader follows the log."""
    writers = [backend.open(), backend.open()]
    reader = backend.open()
    batches = {
        w: [[make_record(1000 * (w + 1) + 5 * b + i) for i in range(5)] for b in range(12)]
        for w in (0, 1)
    }
    done = asyncio.Event()
    seen: list[str] = []

    async def write(number: int) -> None:
        for batch in batches[number]:
            await writers[number].append(batch)
            await asyncio.sleep(0)

    async def follow() -> None:
        cursor = 0
        while True:
            finished = done.is_set()  # read once more after the writers are done
            page, cursor = await reader.read_after(cursor, limit=8)
            seen.extend(ids(page))
            if finished and not page:
                return
            await asyncio.sleep(0)

    following = asyncio.create_task(follow())
    await asyncio.gather(write(0), write(1))
    done.set()
    await asyncio.wait_for(following, 60)
    expected = {r.request_id for w in (0, 1) for batch in batches[w] for r in batch}
    assert len(seen) == len(expected) == 120
    assert set(seen) == expected
    for number in (0, 1):  # each writer's batches in its own order
        mine = [i for i in seen if i in {r.request_id for b in batches[number] for r in b}]
        assert mine == sorted(mine)


# --- retention and rollups ----------------------------------------------------------------


@every_backend
async def test_retention_rolls_up_then_prunes_like_roll_up(backend: Backend) -> None:
    store = await filled(backend)
    cutoff = RECORDS[15].timestamp + timedelta(minutes=10)  # inside an hour bucket
    old = [r for r in ALL if r.timestamp < cutoff]
    report = await store.apply_retention(keep_raw_until=cutoff)
    assert report == RetentionReport(
        rolled_up=len(old), pruned=len(old), buckets_written=len(roll_up(old))
    )
    assert await store.rollups() == roll_up(old)
    assert await store.query(RecordQuery()) == [r for r in RECORDS if r.timestamp >= cutoff]
    assert await store.apply_retention(keep_raw_until=cutoff) == RetentionReport(0, 0, 0)

    # A later pass adds to the bucket the first one cut through: merged, not duplicated.
    later = RECORDS[30].timestamp
    report = await store.apply_retention(keep_raw_until=later)
    everything_old = [r for r in ALL if r.timestamp < later]
    assert report.rolled_up == len(everything_old) - len(old)
    assert await store.rollups() == roll_up(everything_old)
    assert await store.count(RecordQuery()) == len(ALL) - len(everything_old)


@every_backend
async def test_rollups_filter_by_bucket_start(backend: Backend) -> None:
    store = await filled(backend)
    await store.apply_retention(keep_raw_until=RECORDS[-1].timestamp + timedelta(hours=1))
    every = await store.rollups()
    assert [r.bucket_start for r in every] == sorted(r.bucket_start for r in every)
    since, until = T0 + timedelta(hours=3), T0 + timedelta(hours=6)
    expected = [r for r in every if since <= r.bucket_start < until]
    assert 0 < len(expected) < len(every)
    assert await store.rollups(since=since, until=until) == expected
    assert await store.rollups(since=since.astimezone(PLUS_TWO)) == [
        r for r in every if r.bucket_start >= since
    ]


@every_backend
async def test_retention_with_nothing_old_changes_nothing(backend: Backend) -> None:
    store = await filled(backend)
    assert await store.apply_retention(keep_raw_until=T0) == RetentionReport(0, 0, 0)
    assert await store.rollups() == []
    assert await store.count(RecordQuery()) == len(ALL)


# --- alerts -------------------------------------------------------------------------------


@every_backend
async def test_alerts_upsert_filter_and_order(backend: Backend) -> None:
    store = backend.open()
    first, second, third = make_alert(1), make_alert(2), make_alert(3, value=None)
    for alert in (first, second, third):
        await store.save_alert(alert)
    assert await store.alerts() == [third, second, first]
    resolved = dataclasses.replace(
        second,
        status=AlertStatus.RESOLVED,
        resolved_at=second.fired_at + timedelta(minutes=5),
        acknowledged_at=(second.fired_at + timedelta(minutes=1)).astimezone(PLUS_TWO),
        labels={"model": "gpt-4o-mini", "note": "ack'd ✓"},
    )
    await store.save_alert(resolved)
    assert await store.alerts() == [third, resolved, first]
    assert await store.alerts(status=AlertStatus.FIRING) == [third, first]
    assert await store.alerts(status=AlertStatus.RESOLVED) == [resolved]
    assert await store.alerts(since=second.fired_at) == [third, resolved]
    assert await store.alerts(status=AlertStatus.FIRING, since=second.fired_at) == [third]


@every_backend
async def test_alerts_fired_at_the_same_moment_keep_saving_order(backend: Backend) -> None:
    store = backend.open()
    same = [make_alert(n, fired_at=T0) for n in (7, 5, 6)]
    for alert in same:
        await store.save_alert(alert)
    await store.save_alert(dataclasses.replace(same[0], message="updated"))
    assert [a.alert_id for a in await store.alerts()] == ["alert-7", "alert-5", "alert-6"]


# --- durability, closing, errors ----------------------------------------------------------


@durable_backend
async def test_another_store_object_sees_everything(backend: Backend) -> None:
    first = await filled(backend)
    await first.save_alert(make_alert(1))
    await first.apply_retention(keep_raw_until=RECORDS[10].timestamp)
    await first.aclose()
    await first.aclose()  # idempotent
    again = backend.open()
    assert await again.query(RecordQuery()) == [
        r for r in ALL if r.timestamp >= RECORDS[10].timestamp
    ]
    assert await again.rollups() == roll_up([r for r in ALL if r.timestamp < RECORDS[10].timestamp])
    assert await again.alerts() == [make_alert(1)]


@durable_backend
async def test_a_closed_store_refuses_work(backend: Backend) -> None:
    store = backend.open()
    await store.append(RECORDS[:1])
    await store.aclose()
    with pytest.raises(StoreError, match="closed"):
        await store.query(RecordQuery())


async def test_dead_postgres_raises_store_error_without_the_password() -> None:
    url = f"postgresql://devora:hunter2-secret@127.0.0.1:{closed_port()}/events"
    store = PostgresEventStore(url)
    try:
        for attempt in (store.append(RECORDS[:1]), store.query(RecordQuery())):
            with pytest.raises(StoreError) as caught:
                await attempt
            message = str(caught.value)
            assert "PostgreSQL event store" in message and "hunter2" not in message
            assert "running and reachable" in message
    finally:
        await store.aclose()


async def test_unwritable_sqlite_path_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = SQLiteEventStore(blocker / "events.db")  # its folder cannot be created
    try:
        with pytest.raises(StoreError, match="SQLite event store") as caught:
            await store.append(RECORDS[:1])
        assert "writable" in str(caught.value)
        with pytest.raises(StoreError):
            await store.apply_retention(keep_raw_until=T0)
    finally:
        await store.aclose()


async def test_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    path.write_bytes(b"this is not SQLite" * 100)
    store = SQLiteEventStore(path)
    try:
        with pytest.raises(StoreError, match=r"not a healthy SQLite database|not a database"):
            await store.count(RecordQuery())
    finally:
        await store.aclose()
