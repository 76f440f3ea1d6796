"""State from the event store: restore from raw records and rollups, refresh and follow
what other processes write, and never count a record twice when it also came on the bus."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from ai.core.clock import FakeClock
from ai.core.records import RecordBus, RequestRecord
from ai.errors import ConfigurationError, StoreError
from ml_ops.monitoring import MLMonitor
from ml_ops.store import MemoryEventStore
from tests.ml_ops.monitoring.compare import assert_same
from tests.ml_ops.monitoring.records import make_record


def history(clock: FakeClock, hours: int, every_minutes: int = 10) -> list[RequestRecord]:
    """Records every `every_minutes` over the last `hours`, varied latencies and users."""
    rng = random.Random(5)
    now = clock.now()
    count = hours * 60 // every_minutes
    return [
        make_record(
            timestamp=now - timedelta(minutes=every_minutes * (count - index)),
            latency_ms=rng.lognormvariate(6, 0.8),
            user=rng.choice(["ann", "bob"]),
            success=rng.random() > 0.1,
        )
        for index in range(count)
    ]


async def test_restore_rebuilds_windows_and_all_time_from_records_and_rollups() -> None:
    clock = FakeClock()
    clock.advance(40 * 3600)
    store = MemoryEventStore()
    records = history(clock, hours=30)
    await store.append(records)
    report = await store.apply_retention(keep_raw_until=clock.now() - timedelta(hours=2))
    assert report.pruned > 100  # most of the history now lives in hourly rollups only

    restored = MLMonitor(store, clock=clock)
    raw = await restored.restore()
    assert raw == len(records) - report.pruned

    direct = MLMonitor(clock=clock)  # the same records, fed one by one
    for record in records:
        direct.observe(record)
    for window in ("24h", "all"):
        assert_same(restored.get_real_time_stats(window), direct.get_real_time_stats(window))
    for window in ("1m", "5m", "1h"):  # raw records only here: the rollups are older
        restored_stats = restored.get_real_time_stats(window)
        direct_stats = direct.get_real_time_stats(window)
        assert restored_stats["total_requests"] == direct_stats["total_requests"]
        assert restored_stats["latency_ms"] == direct_stats["latency_ms"]
    assert restored.get_real_time_stats("all")["total_requests"] == len(records)


async def test_refresh_counts_what_other_processes_wrote_since() -> None:
    clock = FakeClock()
    store = MemoryEventStore()
    await store.append([make_record(clock) for _ in range(3)])
    monitor = MLMonitor(store, clock=clock, page_size=2)
    assert await monitor.refresh() == 3  # restores on first use
    assert await monitor.refresh() == 0
    clock.advance(30)
    await store.append([make_record(clock) for _ in range(5)])  # another process
    assert await monitor.refresh() == 5
    assert monitor.get_real_time_stats("1m")["total_requests"] == 8
    assert await monitor.restore() == 0  # a second restore only refreshes


async def test_a_record_from_the_bus_and_from_the_store_counts_once() -> None:
    clock = FakeClock()
    store = MemoryEventStore()
    bus = RecordBus()
    written: list[RequestRecord] = []
    bus.subscribe(written.append)  # stands in for the batched store writer
    monitor = MLMonitor(store, clock=clock)
    monitor.attach(bus)
    await monitor.restore()
    mine = [make_record(clock) for _ in range(4)]
    for record in mine:
        bus.emit(record)
    await store.append(written)
    await store.append([make_record(clock, user="elsewhere") for _ in range(2)])
    assert await monitor.refresh() == 2  # only the other process's records are new
    stats = monitor.get_real_time_stats()
    assert stats["total_requests"] == 6 and stats["by_user"]["elsewhere"]["total_requests"] == 2


async def spin_until(condition: Callable[[], bool], turns: int = 10_000) -> None:
    """Let other tasks run (the fake clock's sleeps return at once) until `condition`."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_follow_reads_evaluates_and_sleeps_on_the_clock() -> None:
    clock = FakeClock()
    store = MemoryEventStore()
    monitor = MLMonitor(store, clock=clock)
    task = asyncio.create_task(monitor.follow(interval=5))
    try:
        for _ in range(5):
            await asyncio.sleep(0)
        await store.append([make_record(clock) for _ in range(3)])
        await spin_until(lambda: monitor.get_real_time_stats()["total_requests"] == 3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert clock.sleeps and set(clock.sleeps) == {5}


class BrokenStore(MemoryEventStore):
    async def read_after(self, seq: int, limit: int = 1000) -> tuple[list[RequestRecord], int]:
        raise StoreError("database is down")


async def test_follow_logs_a_failing_store_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    monitor = MLMonitor(BrokenStore(), clock=clock)
    task = asyncio.create_task(monitor.follow(interval=1))
    with caplog.at_level(logging.WARNING):
        await spin_until(lambda: len(clock.sleeps) >= 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    failures = [r for r in caplog.records if "database is down" in r.getMessage()]
    assert len(failures) >= 2
    # One line each, the store's own message: no traceback every few seconds of an outage.
    assert all(r.exc_info is None and r.levelno == logging.WARNING for r in failures)


async def test_the_store_methods_need_a_store() -> None:
    with pytest.raises(ConfigurationError, match="no event store"):
        await MLMonitor().restore()
