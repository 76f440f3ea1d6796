"""Sliding windows on a fake clock: records leave each window as its slots age out, stay in
the all-time totals, and late records land in the windows their time belongs to."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ai.core.clock import FakeClock
from ai.errors import ConfigurationError
from ml_ops.monitoring import MLMonitor, WindowSpec
from tests.ml_ops.monitoring.records import make_record

WINDOWS = ("1m", "5m", "1h", "24h", "all")


def totals(monitor: MLMonitor) -> dict[str, int]:
    return {w: monitor.get_real_time_stats(w)["total_requests"] for w in WINDOWS}


def test_a_record_slides_out_of_each_window_in_turn() -> None:
    clock = FakeClock()  # starts at midnight: every slot boundary lines up
    monitor = MLMonitor(clock=clock)
    clock.advance(5)
    monitor.observe(make_record(clock))
    assert totals(monitor) == dict.fromkeys(WINDOWS, 1)

    clock.advance(60)  # 65 s: the 10 s slot it sits in left the 1 minute ring
    assert totals(monitor) == {"1m": 0, "5m": 1, "1h": 1, "24h": 1, "all": 1}
    clock.advance(300)
    assert totals(monitor) == {"1m": 0, "5m": 0, "1h": 1, "24h": 1, "all": 1}
    clock.advance(3600)
    assert totals(monitor) == {"1m": 0, "5m": 0, "1h": 0, "24h": 1, "all": 1}
    clock.advance(24 * 3600)
    assert totals(monitor) == {"1m": 0, "5m": 0, "1h": 0, "24h": 0, "all": 1}


def test_windows_keep_their_recent_records_while_time_moves_on() -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    for _ in range(120):  # one record every 30 s for an hour
        monitor.observe(make_record(clock))
        clock.advance(30)
    # Now 01:00:00, the last record at 00:59:30. Each window is its open slot plus the
    # whole slots behind it: 1m from 00:59:10, 5m from 00:56:00, 1h from 00:05:00.
    assert totals(monitor) == {"1m": 1, "5m": 8, "1h": 110, "24h": 120, "all": 120}
    stats = monitor.get_real_time_stats("5m")
    assert stats["requests_per_second"] == pytest.approx(
        stats["total_requests"] / stats["covered_seconds"]
    )


def test_a_late_record_counts_in_every_window_that_covers_its_time() -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    clock.advance(3 * 3600)
    monitor.get_real_time_stats()  # the rings move on: earlier slots are closed
    ten_minutes_ago = clock.now() - timedelta(minutes=10)
    two_hours_ago = clock.now() - timedelta(hours=2)
    monitor.observe(make_record(timestamp=ten_minutes_ago))
    monitor.observe(make_record(timestamp=two_hours_ago))
    assert totals(monitor) == {"1m": 0, "5m": 0, "1h": 1, "24h": 2, "all": 2}
    clock.advance(24 * 3600)
    assert totals(monitor) == {"1m": 0, "5m": 0, "1h": 0, "24h": 0, "all": 2}


def test_error_trends_have_one_point_per_slot() -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    clock.advance(60 * 3)
    monitor.observe(make_record(clock, success=False))
    monitor.observe(make_record(clock))
    clock.advance(60)
    monitor.observe(make_record(clock))
    trend = monitor.get_real_time_stats("5m")["error_trends"]
    assert [point["seconds"] for point in trend] == [60] * 5
    assert [point["requests"] for point in trend] == [0, 0, 0, 2, 1]
    assert [point["errors"] for point in trend] == [0, 0, 0, 1, 0]
    assert trend[3]["error_rate"] == 0.5 and trend[3]["error_types"] == {"rate_limit": 1}
    assert trend[0]["error_rate"] is None
    assert len(monitor.get_real_time_stats("all")["error_trends"]) == 24


def test_custom_windows_must_cascade() -> None:
    with pytest.raises(ConfigurationError, match="multiple"):
        MLMonitor(windows=[WindowSpec("a", 10, 6), WindowSpec("b", 15, 4)])
    with pytest.raises(ConfigurationError, match="distinct"):
        MLMonitor(windows=[WindowSpec("a", 10, 6), WindowSpec("a", 60, 4)])
    with pytest.raises(ConfigurationError):
        WindowSpec("all", 10, 6)
    monitor = MLMonitor(windows=[WindowSpec("30s", 5, 6), WindowSpec("10m", 60, 10)])
    assert monitor.windows == ("30s", "10m", "all")
    with pytest.raises(ConfigurationError, match="unknown window"):
        monitor.get_real_time_stats("5m")
