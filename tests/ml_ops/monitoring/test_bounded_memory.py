"""Memory stays bounded whatever the volume: after a million records from a million users
over more than a day, the monitor holds a fixed number of slots and groups (counted as
objects, not timed)."""

from __future__ import annotations

import gc

import pytest

from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.core.usage import Usage
from ml_ops.monitoring import DEFAULT_WINDOWS, GroupStats, KeyLimits, LatencySketch, MLMonitor
from ml_ops.store.rollup import sketch_key

RECORDS = 1_000_000


def live(kind: type) -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if type(thing) is kind)


@pytest.mark.timeout(900)  # a million records through the real path: slow on a busy box
def test_a_million_records_from_a_million_users_stay_within_fixed_bounds() -> None:
    clock = FakeClock()
    limits = KeyLimits()
    monitor = MLMonitor(clock=clock, limits=limits, dedup_capacity=10_000)
    usage = Usage(input_tokens=120, output_tokens=30)
    earlier: dict[str, int] = {}
    now = clock.now()
    for index in range(RECORDS):
        if index % 1000 == 0:  # bursts of 1,000 every 100 s: 27.8 hours in all
            clock.advance(100)
            now = clock.now()
        monitor.observe(
            RequestRecord(
                request_id=str(index), timestamp=now, provider="openai",
                model_requested="m", model=f"model-{index % 400}", usage=usage,
                estimated_cost=0.0001, latency_ms=50.0 + index % 5000,
                time_to_first_token_ms=None, attempts=1, success=index % 50 != 0,
                user=f"user-{index}", agent=f"agent-{index % 300}",
            )
        )  # fmt: skip
        if index == RECORDS * 9 // 10:  # 25 hours in: every ring is full
            earlier = monitor.footprint()
    footprint = monitor.footprint()

    max_slots = sum(spec.slots for spec in DEFAULT_WINDOWS) + 1  # rings + all-time
    per_slot = (limits.series + 1) + (limits.agents + 1) + (limits.users + 1)
    for seen in (earlier, footprint):  # the same bound at 900,000 records and at 1,000,000
        assert seen["slots"] <= max_slots
        assert seen["groups"] <= max_slots * per_slot
        assert seen["tracked_request_ids"] == 10_000
    # Latencies here span 50 ms to 5 s: that many 1% bins at most, per group.
    bins_per_group = sketch_key(5050.0) - sketch_key(50.0) + 1
    assert footprint["sketch_bins"] <= bins_per_group * max_slots * per_slot
    # Counted independently of the monitor's own bookkeeping: every group is an object.
    assert live(GroupStats) <= max_slots * per_slot
    assert live(LatencySketch) <= 2 * max_slots * per_slot

    stats = monitor.get_real_time_stats("all")
    assert stats["total_requests"] == RECORDS
    assert stats["failed_requests"] == RECORDS // 50
    assert len(stats["by_user"]) == limits.users + 1  # the top users and "__other__"
    assert sum(s["total_requests"] for s in stats["by_user"].values()) == RECORDS
