"""`RecordWriter` on an injected clock: batching, back-pressure into the spill file and
replay, retries with backoff while the store is down, retention once an hour, closing.

Time only moves when a test calls `clock.advance`; waiting for the writer is a bounded
number of event-loop turns (`settle`), never a sleep. The stores are in memory (wrapped to
fail or to record), so every step completes within those turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ai.core.records import RecordBus, RequestRecord
from ai.errors import ConfigurationError, StoreError
from ml_ops.store import (
    BackoffPolicy,
    MemoryEventStore,
    RecordQuery,
    RecordWriter,
    RetentionPolicy,
    RetentionReport,
)
from ml_ops.store.codec import spill_line
from tests.ml_ops.store.clocks import ManualClock, settle
from tests.ml_ops.store.factories import make_record


class ScriptedStore(MemoryEventStore):
    """A memory store that records each append (batch sizes, clock time) and fails the
    next `fail_next` appends with `StoreError`, as a database that is down would."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock
        self.fail_next = 0
        self.batches: list[int] = []
        self.attempts: list[float] = []
        self.retention_cutoffs: list[datetime] = []

    async def append(self, records: Sequence[RequestRecord]) -> int:
        self.attempts.append(self.clock.monotonic())
        if self.fail_next > 0:
            self.fail_next -= 1
            raise StoreError("PostgreSQL event store append failed: connection refused")
        self.batches.append(len(records))
        return await super().append(records)

    async def apply_retention(self, *, keep_raw_until: datetime) -> RetentionReport:
        self.retention_cutoffs.append(keep_raw_until)
        return await super().apply_retention(keep_raw_until=keep_raw_until)

    async def stored_ids(self) -> list[str]:
        return [r.request_id for r in await self.query(RecordQuery())]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> ScriptedStore:
    return ScriptedStore(clock)


@pytest.fixture
async def make_writer(
    store: ScriptedStore, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Callable[..., RecordWriter]]:
    made: list[RecordWriter] = []

    def make(**options: Any) -> RecordWriter:
        options = {"clock": clock, "spill_dir": tmp_path / "spill", "retention": None} | options
        writer = RecordWriter(options.pop("store", store), **options)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        await writer.aclose()  # spills what a store left failing could not take


def records(start: int, count: int) -> list[RequestRecord]:
    return [make_record(n) for n in range(start, start + count)]


def spilled_lines(folder: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl"))


# --- batching -----------------------------------------------------------------------------


async def test_records_wait_for_the_interval_then_go_in_one_batch(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore, clock: ManualClock
) -> None:
    writer = make_writer(flush_interval=1.0, batch_size=100)
    for record in records(0, 5):
        writer.submit(record)
    await settle()
    assert store.batches == [] and writer.stats.pending == 5
    clock.advance(0.5)
    await settle()
    assert store.batches == []
    clock.advance(0.5)
    await settle(lambda: writer.stats.written == 5)
    assert store.batches == [5]
    for record in records(5, 3):
        writer.submit(record)
    clock.advance(1.0)
    await settle(lambda: writer.stats.written == 8)
    assert store.batches == [5, 3]
    assert await store.stored_ids() == [r.request_id for r in records(0, 8)]
    stats = writer.stats
    assert (stats.submitted, stats.written, stats.pending, stats.spilled) == (8, 8, 0, 0)
    assert stats.retried == 0 and stats.last_error is None


async def test_a_full_batch_is_written_without_waiting_for_the_interval(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore, clock: ManualClock
) -> None:
    writer = make_writer(flush_interval=1.0, batch_size=10)
    for record in records(0, 9):
        writer.submit(record)
    await settle()
    assert store.batches == []
    writer.submit(make_record(9))
    await settle(lambda: writer.stats.written == 10)
    for record in records(10, 25):  # 2.5 batches at once: written in batch_size pieces
        writer.submit(record)
    await settle(lambda: writer.stats.written == 35)
    assert store.batches == [10, 10, 10, 5]
    assert clock.monotonic() == 0.0  # no time passed: the batches did not wait


async def test_flush_writes_now(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore
) -> None:
    writer = make_writer(flush_interval=60.0)
    for record in records(0, 3):
        writer.submit(record)
    await writer.flush()
    assert store.batches == [3] and writer.stats.pending == 0


async def test_the_bus_delivers_to_the_writer_until_it_closes(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore
) -> None:
    bus = RecordBus()
    writer = make_writer()
    writer.attach(bus)
    bus.emit(make_record(1))
    await writer.aclose()
    assert await store.stored_ids() == ["req-00001"]
    bus.emit(make_record(2))  # detached: not delivered
    assert writer.stats.submitted == 1


# --- back-pressure and spill --------------------------------------------------------------


async def test_a_full_buffer_spills_to_disk_and_the_next_flush_replays(
    make_writer: Callable[..., RecordWriter],
    store: ScriptedStore,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    writer = make_writer(max_buffer=10, batch_size=100)
    for record in records(0, 25):
        writer.submit(record)  # synchronous: nothing is written in between
    stats = writer.stats
    assert (stats.spilled, stats.pending, stats.written) == (15, 25, 0)
    assert spilled_lines(tmp_path / "spill") == 15
    clock.advance(1.0)
    await settle(lambda: writer.stats.written == 25)
    assert writer.stats.replayed == 15 and writer.stats.pending == 0
    assert sorted(await store.stored_ids()) == [r.request_id for r in records(0, 25)]
    assert list((tmp_path / "spill").glob("*.jsonl")) == []  # replayed files are removed


async def test_a_new_writer_replays_what_others_left_on_disk(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore, tmp_path: Path
) -> None:
    folder = tmp_path / "spill"
    folder.mkdir()
    left = records(0, 4)  # as a process that died with a spill file would leave it
    (folder / "999999-deadbeef.jsonl").write_text(
        "".join(spill_line(r) + "\n" for r in left) + '{"request_id": "torn'  # torn line
    )
    writer = make_writer(flush_interval=1.0)
    writer.submit(make_record(10))  # starts the writer: replays at once
    await settle(lambda: writer.stats.replayed == 4)
    assert sorted(await store.stored_ids()) == [r.request_id for r in [*left, make_record(10)]]
    assert list(folder.glob("*.jsonl")) == []


async def test_a_spill_file_held_by_a_live_writer_is_left_alone(
    make_writer: Callable[..., RecordWriter], clock: ManualClock, tmp_path: Path
) -> None:
    first_store, second_store = ScriptedStore(clock), ScriptedStore(clock)
    first = make_writer(store=first_store, max_buffer=1, batch_size=1)
    second = make_writer(store=second_store)
    first_store.fail_next = 10**6  # down: its spill file stays open
    for record in records(0, 3):
        first.submit(record)
    await settle()
    assert first.stats.spilled >= 1
    await second.flush()  # same folder; the first writer still holds its file
    assert await second_store.stored_ids() == []


# --- the database is down -----------------------------------------------------------------


async def test_store_down_retries_with_exponential_backoff_and_loses_nothing(
    make_writer: Callable[..., RecordWriter],
    store: ScriptedStore,
    clock: ManualClock,
) -> None:
    writer = make_writer(
        flush_interval=1.0, max_buffer=20, backoff=BackoffPolicy(initial=0.5, maximum=4.0)
    )
    for record in records(0, 5):
        writer.submit(record)
    store.fail_next = 5
    expected_attempts = [1.0, 1.5, 2.5, 4.5, 8.5, 12.5]  # waits 0.5, 1, 2, 4, 4 (capped)
    for moment in expected_attempts[:-1]:
        clock.advance(moment - clock.monotonic())
        await settle(lambda m=moment: store.attempts[-1:] == [m])
        clock.advance(0.25)  # not yet time for the next try
        await settle()
        assert store.attempts[-1] == moment
        clock.advance(-0.25)
    for record in records(5, 30):  # meanwhile: 15 more fill the buffer, 15 spill
        writer.submit(record)
    stats = writer.stats
    assert (stats.retried, stats.written, stats.pending, stats.spilled) == (5, 0, 35, 15)
    assert stats.last_error is not None and "connection refused" in stats.last_error
    clock.advance(expected_attempts[-1] - clock.monotonic())
    await settle(lambda: writer.stats.written == 35)
    assert store.attempts[: len(expected_attempts)] == expected_attempts
    assert sorted(await store.stored_ids()) == [r.request_id for r in records(0, 35)]
    assert writer.stats.pending == 0


async def test_flush_raises_while_the_store_is_down_and_keeps_the_records(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore
) -> None:
    writer = make_writer()
    for record in records(0, 3):
        writer.submit(record)
    store.fail_next = 1
    with pytest.raises(StoreError, match="3 records are kept"):
        await writer.flush()
    await writer.flush()
    assert len(await store.stored_ids()) == 3


async def test_closing_while_the_store_is_down_spills_for_the_next_writer(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore, tmp_path: Path
) -> None:
    writer = make_writer()
    for record in records(0, 6):
        writer.submit(record)
    store.fail_next = 10**6
    await writer.aclose()
    assert spilled_lines(tmp_path / "spill") == 6
    writer.submit(make_record(6))  # after closing: spilled too, not dropped
    assert spilled_lines(tmp_path / "spill") == 7
    store.fail_next = 0
    successor = make_writer()
    await successor.flush()
    assert sorted(await store.stored_ids()) == [r.request_id for r in records(0, 7)]


async def test_submit_never_raises_even_when_nothing_can_keep_the_record(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    writer = make_writer(max_buffer=1, spill_dir=blocker / "spill")
    writer.submit(make_record(1))
    writer.submit(make_record(2))  # buffer full, spill folder impossible
    stats = writer.stats
    assert (stats.submitted, stats.lost, stats.pending) == (2, 1, 1)
    assert stats.last_error is not None


# --- retention ----------------------------------------------------------------------------


async def test_retention_runs_at_most_once_an_hour_on_the_writers_clock(
    make_writer: Callable[..., RecordWriter], store: ScriptedStore, clock: ManualClock
) -> None:
    writer = make_writer(flush_interval=600.0, retention=RetentionPolicy(raw_days=30))
    writer.submit(make_record(1))
    for _ in range(6):  # t = 600 ... 3600
        clock.advance(600)
        await settle(lambda: len(store.retention_cutoffs) >= 1)
    assert store.retention_cutoffs == [clock.now() - timedelta(seconds=3000, days=30)]
    clock.advance(600)  # t = 4200: an hour after the first run
    await settle(lambda: len(store.retention_cutoffs) == 2)
    assert store.retention_cutoffs[1] == clock.now() - timedelta(days=30)


def test_settings_are_checked() -> None:
    store = MemoryEventStore()
    for bad in ({"flush_interval": 0}, {"max_buffer": 0}, {"batch_size": 1.5}):
        with pytest.raises(ConfigurationError):
            RecordWriter(store, **bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        RetentionPolicy(raw_days=0)
    with pytest.raises(ConfigurationError):
        BackoffPolicy(initial=2, maximum=1)
    assert [BackoffPolicy().delay(n) for n in (1, 2, 3, 7, 8, 5000)] == [
        0.5,
        1.0,
        2.0,
        30.0,
        30.0,
        30.0,
    ]


async def test_closing_twice_is_fine(make_writer: Callable[..., RecordWriter]) -> None:
    writer = make_writer()
    await writer.aclose()
    await writer.aclose()
    await asyncio.sleep(0)
