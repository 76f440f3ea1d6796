"""Records are counted in batches (`ml_ops.monitoring.batch`): every read sees every
record observed before it, and counting a batch at once gives the statistics that counting
record by record gives, whatever the mix of records, key limits, late records and time."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ai.core.clock import FakeClock
from ai.core.records import Operation, RequestRecord
from ai.core.usage import Usage
from ai.errors import ConfigurationError, ErrorType
from ml_ops.monitoring import AlertRule, KeyLimits, MLMonitor
from tests.ml_ops.monitoring.compare import assert_same
from tests.ml_ops.monitoring.records import make_record

WINDOWS = ("1m", "5m", "1h", "24h", "all")
SMALL_LIMITS = KeyLimits(series=2, agents=1, users=2, error_types=2)


def scraped_requests(monitor: MLMonitor) -> int:
    text = generate_latest(monitor.prometheus_registry()).decode()
    return round(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "devora_requests_total"
        )
    )


def merged_requests(monitor: MLMonitor) -> int:
    other = MLMonitor(clock=FakeClock())
    other.merge(json.loads(json.dumps(monitor.snapshot())))
    return int(other.get_real_time_stats("all")["total_requests"])


READS: dict[str, Callable[[MLMonitor], int]] = {
    "stats": lambda monitor: monitor.get_real_time_stats("1m")["total_requests"],
    "series": lambda monitor: sum(group.requests for group in monitor.series("1m").values()),
    "snapshot": merged_requests,
    "prometheus": scraped_requests,
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_a_read_sees_every_record_observed_before_it(read: Callable[[MLMonitor], int]) -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    observed = 0
    for batch in (1, 999, 5000, 3):  # below, at and far above the batch threshold
        for index in range(batch):
            monitor.observe(make_record(clock, user=f"user-{index % 7}", latency_ms=index + 1.0))
        observed += batch
        assert read(monitor) == observed


async def test_an_alert_judges_the_records_observed_before_it() -> None:
    clock = FakeClock()
    rule = AlertRule("busy", "total_requests", ">=", 3000, "1m", cooldown=0)
    monitor = MLMonitor(clock=clock, rules=[rule], evaluation_interval=3600)
    await monitor.evaluate()
    for _ in range(3000):
        monitor.observe(make_record(clock))
    (fired,) = await monitor.evaluate()
    assert fired.value == 3000


def test_a_record_that_cannot_be_counted_is_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    for index in range(2000):
        latency = float("nan") if index == 1234 else 100.0
        monitor.observe(make_record(clock, latency_ms=latency, request_id=f"r{index}"))
    with caplog.at_level(logging.ERROR):
        stats = monitor.get_real_time_stats("1m")
    assert stats["total_requests"] == 1999
    assert stats["latency_ms"]["avg"] == 100.0
    assert "r1234" in caplog.text and "cannot be counted" in caplog.text
    with pytest.raises(ConfigurationError, match="finite"):
        monitor.track_request(True, float("inf"))
    with pytest.raises(ConfigurationError, match="time_to_first_token_ms"):
        monitor.track_request(True, 10, time_to_first_token_ms=float("nan"))


class Traffic:
    """A random stream of calls, fed identically to several monitors on one clock."""

    def __init__(self, seed: int, late: bool) -> None:
        self.rng = random.Random(seed)
        self.clock = FakeClock()
        self.late = late  # some stretches of records stamped up to 2 hours ago
        self.lateness = 0.0
        self.ids = 0

    def feed(self, monitors: list[MLMonitor], count: int, after_each: Callable[[], object]) -> None:
        for _ in range(count):
            gap = self.rng.random()  # mostly calls close together: long batches
            self.clock.advance(0.004 if gap < 0.9993 else 40.0 if gap < 0.9998 else 900.0)
            if self.late and self.rng.random() < 0.002:  # as a store's page read back
                self.lateness = self.rng.choice([0.0, self.rng.uniform(0, 2 * 3600)])
            self.ids += 1
            if not self.lateness and self.rng.random() < 0.1:  # stamped now
                self._track(monitors)
            else:
                record = self._record()
                for monitor in monitors:
                    monitor.observe(record)
            after_each()

    def _track(self, monitors: list[MLMonitor]) -> None:
        """A failure with an own error label, made by hand."""
        label = self.rng.choice(["RateLimitError", "Boom", "Odd", ErrorType.TIMEOUT.value])
        latency = self.rng.lognormvariate(5, 1)
        for monitor in monitors:
            monitor.track_request(False, latency, 0.001, 10, model="gpt-4o", agent="coder",
                                  error_type=label, request_id=f"t{self.ids}")  # fmt: skip

    def _record(self) -> RequestRecord:
        rng = self.rng
        success = rng.random() < 0.85
        return make_record(
            timestamp=self.clock.now() - timedelta(seconds=self.lateness),
            request_id=f"r{self.ids}",
            provider=rng.choice(["openai", "openai", "anthropic"]),
            model=rng.choice(["gpt-4o", "gpt-4o-mini", "claude-3-5-haiku", None, ""]),
            model_requested=rng.choice(["gpt-4o", "o3-mini"]),
            operation=rng.choice([Operation.CHAT, Operation.CHAT, Operation.EMBEDDING]),
            agent=rng.choice([None, "coder", "reviewer", "planner"]),
            user=rng.choice([None, *(f"user-{n}" for n in range(12))]),
            success=success,
            error_type=None if success else rng.choice([None, *list(ErrorType)[:6]]),
            cached=rng.random() < 0.2,
            usage=rng.choice([None, Usage(100, 20), Usage(500, 80, 200, 100, 30)]),
            estimated_cost=rng.choice([None, 0.0, rng.uniform(0, 0.01)]),
            saved_cost=rng.choice([None, rng.uniform(0, 0.01)]),
            latency_ms=rng.choice([rng.lognormvariate(6, 1), 0.0, 1.0, -5.0]),
            time_to_first_token_ms=rng.choice([None, None, rng.uniform(20, 800)]),
        )


def all_stats(monitor: MLMonitor) -> dict[str, Any]:
    return {window: monitor.get_real_time_stats(window) for window in WINDOWS}


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(300, 3000),
    small_limits=st.booleans(),
    late=st.booleans(),
)
def test_counting_in_batches_equals_counting_one_by_one(
    seed: int, count: int, small_limits: bool, late: bool
) -> None:
    # With full key limits any stream works; with small ones, records stamped now: a
    # late record may then reach a coarser slot by a merge (which keeps the busiest
    # keys) rather than by admission (first come), naming other keys of the long tail.
    limits = SMALL_LIMITS if small_limits else KeyLimits()
    traffic = Traffic(seed, late=late and not small_limits)
    batched = MLMonitor(clock=traffic.clock, limits=limits)
    one_by_one = MLMonitor(clock=traffic.clock, limits=limits)
    traffic.feed([batched, one_by_one], count, after_each=one_by_one.footprint)  # reads
    assert_same(all_stats(batched), all_stats(one_by_one))
    assert batched.footprint() == one_by_one.footprint()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(300, 6000))
def test_batched_percentiles_are_within_one_percent_of_numpy(seed: int, count: int) -> None:
    rng = np.random.default_rng(seed)
    latencies = rng.lognormal(6.0, 1.2, count)
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    for index, latency in enumerate(latencies):
        monitor.observe(make_record(clock, latency_ms=float(latency), user=f"u{index % 9}"))
    stats = monitor.get_real_time_stats("1m")
    assert stats["latency_ms"]["avg"] == pytest.approx(float(latencies.mean()), rel=1e-9)
    for p in (50, 75, 90, 95, 99):
        exact = float(np.percentile(latencies, p, method="lower"))
        assert abs(stats["latency_ms"][f"p{p}"] - exact) / exact <= 0.01
