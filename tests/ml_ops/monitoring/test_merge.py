"""Monitors of several processes merge into one view: the merge of two monitors' snapshots
equals one monitor fed both streams, in every window, percentiles included."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.core.clock import FakeClock
from ai.errors import ConfigurationError, ErrorType
from ml_ops.monitoring import MLMonitor, WindowSpec
from tests.ml_ops.monitoring.compare import assert_same
from tests.ml_ops.monitoring.records import make_record

WINDOWS = ("1m", "5m", "1h", "24h", "all")


def record_for(clock: FakeClock, rng: random.Random) -> Any:
    success = rng.random() > 0.1
    return make_record(
        clock,
        model=rng.choice(["gpt-4o", "gpt-4o-mini", "claude-3-5-haiku"]),
        user=rng.choice(["ann", "bob", "cy", None]),
        agent=rng.choice(["coder", None]),
        latency_ms=rng.lognormvariate(6, 1),
        time_to_first_token_ms=rng.choice([None, rng.uniform(50, 500)]),
        estimated_cost=rng.uniform(0, 0.01),
        cached=rng.random() < 0.2,
        success=success,
        error_type=None if success else rng.choice(list(ErrorType)[:5]),
    )


def test_merging_two_monitors_equals_one_monitor_fed_both_streams() -> None:
    clock = FakeClock()
    first, second, both = (MLMonitor(clock=clock) for _ in range(3))
    rng = random.Random(3)
    for _ in range(3000):  # about 2.5 hours of traffic
        clock.advance(rng.uniform(0, 6))
        record = record_for(clock, rng)
        (first if rng.random() < 0.5 else second).observe(record)
        both.observe(record)
    snapshot = json.loads(json.dumps(second.snapshot()))  # as another process would send it
    first.merge(snapshot)
    for window in WINDOWS:
        assert_same(first.get_real_time_stats(window), both.get_real_time_stats(window))


def test_a_snapshot_taken_earlier_merges_into_the_right_slots() -> None:
    clock = FakeClock()
    early, late, both = (MLMonitor(clock=clock) for _ in range(3))
    for monitor in (early, both):
        monitor.observe(make_record(clock))
    snapshot = early.snapshot()  # the other process stopped reporting here
    clock.advance(2 * 3600)
    for monitor in (late, both):
        monitor.observe(make_record(clock))
    late.merge(snapshot)
    for window in WINDOWS:
        assert_same(late.get_real_time_stats(window), both.get_real_time_stats(window))


def test_only_monitors_with_the_same_windows_merge() -> None:
    other = MLMonitor(windows=[WindowSpec("1m", 10, 6)])
    with pytest.raises(ConfigurationError, match="same windows"):
        MLMonitor().merge(other.snapshot())
    with pytest.raises(ConfigurationError, match="version"):
        MLMonitor().merge({"version": 99})


@settings(max_examples=25, deadline=None)
@given(
    calls=st.lists(
        st.tuples(
            st.floats(0, 120),  # seconds since the previous call
            st.floats(0.5, 60_000),  # latency
            st.booleans(),  # which process
            st.sampled_from(["a", "b", "c"]),
        ),
        max_size=60,
    )
)
def test_merged_percentiles_equal_those_of_the_union(
    calls: list[tuple[float, float, bool, str]],
) -> None:
    clock = FakeClock()
    first, second, both = (MLMonitor(clock=clock) for _ in range(3))
    for gap, latency, to_first, user in calls:
        clock.advance(gap)
        record = make_record(clock, latency_ms=latency, user=user)
        (first if to_first else second).observe(record)
        both.observe(record)
    first.merge(second.snapshot())
    for window in WINDOWS:
        merged = first.get_real_time_stats(window)
        union = both.get_real_time_stats(window)
        assert merged["latency_ms"] == pytest.approx(union["latency_ms"])
        assert merged["by_user"].keys() == union["by_user"].keys()
        for user, summary in union["by_user"].items():
            assert merged["by_user"][user]["latency_ms"] == pytest.approx(summary["latency_ms"])
