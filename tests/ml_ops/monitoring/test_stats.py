"""The stats dict: its stable keys, JSON-readiness, breakdowns per scope, track_request's
options, de-duplication, and bounded keys with an `__other__` bucket."""

from __future__ import annotations

import json
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.core.clock import FakeClock
from ai.core.usage import Usage
from ai.errors import ConfigurationError, ErrorType
from ml_ops.monitoring import KeyLimits, MLMonitor
from tests.ml_ops.monitoring.records import make_record

TOP_LEVEL_KEYS = {
    "window", "window_seconds", "covered_seconds", "as_of",
    "total_requests", "successful_requests", "failed_requests", "cached_requests", "outcomes",
    "requests_per_second", "success_rate", "error_rate", "cache_hit_rate",
    "latency_ms", "time_to_first_token_ms",
    "total_cost", "cost_per_request", "cost_per_hour", "saved_cost", "tokens", "error_types",
    "cost_by_model", "cost_by_provider", "cost_by_operation", "cost_by_agent", "cost_by_user",
    "error_trends", "by_model", "by_provider", "by_operation", "by_agent", "by_user",
}  # fmt: skip
SUMMARY_KEYS = TOP_LEVEL_KEYS - {
    "window", "window_seconds", "covered_seconds", "as_of", "error_trends",
    *(f"cost_by_{s}" for s in ("model", "provider", "operation", "agent", "user")),
    *(f"by_{s}" for s in ("model", "provider", "operation", "agent", "user")),
}  # fmt: skip
PERCENTILE_KEYS = {"count", "avg", "p50", "p75", "p90", "p95", "p99"}


def busy_monitor() -> MLMonitor:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    monitor.track_request(True, 1000, 0.02, model="gpt-4o", provider="openai", user="ann",
                          agent="coder", input_tokens=300, output_tokens=100,
                          time_to_first_token_ms=250)  # fmt: skip
    monitor.track_request(True, 3000, 0.04, model="gpt-4o", provider="openai", user="bob",
                          agent="coder", input_tokens=600, output_tokens=200)  # fmt: skip
    monitor.track_request(False, 500, 0.0, model="claude-3-5-haiku", provider="anthropic",
                          user="ann", error_type=ErrorType.RATE_LIMIT)  # fmt: skip
    monitor.track_request(True, 5, 0.0, model="gpt-4o", provider="openai", cached=True,
                          user="ann", agent="reviewer", tokens=400)  # fmt: skip
    return monitor


def test_the_stats_dict_has_its_documented_keys_and_is_json() -> None:
    stats = busy_monitor().get_real_time_stats()
    assert set(stats) == TOP_LEVEL_KEYS
    assert set(stats["latency_ms"]) == PERCENTILE_KEYS
    assert set(stats["time_to_first_token_ms"]) == PERCENTILE_KEYS
    for scope in ("model", "provider", "operation", "agent", "user"):
        for summary in stats[f"by_{scope}"].values():
            assert set(summary) == SUMMARY_KEYS
    json.dumps(stats, allow_nan=False)


def test_totals_rates_costs_and_tokens() -> None:
    stats = busy_monitor().get_real_time_stats("5m")
    assert stats["window"] == "5m" and stats["window_seconds"] == 300
    assert stats["total_requests"] == 4
    assert (stats["successful_requests"], stats["failed_requests"]) == (3, 1)
    assert stats["outcomes"] == {"success": 3, "error": 1, "cancelled": 0, "refused": 0}
    assert stats["success_rate"] == 0.75 and stats["error_rate"] == 0.25
    assert stats["cache_hit_rate"] == 0.25
    assert stats["total_cost"] == pytest.approx(0.06)
    assert stats["cost_per_request"] == pytest.approx(0.015)
    assert stats["tokens"] == {"input": 1300, "output": 300, "total": 1600,
                               "cached_input": 0, "cache_creation": 0, "reasoning": 0}  # fmt: skip
    assert stats["error_types"] == {"rate_limit": 1}
    assert stats["latency_ms"]["avg"] == pytest.approx(4505 / 4)
    # the value at rank q * (n - 1), rounded down, of [5, 500, 1000, 3000]
    assert stats["latency_ms"]["p50"] == pytest.approx(500, rel=0.01)
    assert stats["latency_ms"]["p99"] == pytest.approx(1000, rel=0.01)
    assert stats["time_to_first_token_ms"]["count"] == 1


def test_breakdowns_per_model_provider_agent_and_user() -> None:
    stats = busy_monitor().get_real_time_stats()
    assert stats["cost_by_model"] == pytest.approx({"gpt-4o": 0.06, "claude-3-5-haiku": 0.0})
    assert list(stats["cost_by_model"]) == ["gpt-4o", "claude-3-5-haiku"]  # busiest first
    assert stats["cost_by_provider"] == pytest.approx({"openai": 0.06, "anthropic": 0.0})
    assert stats["cost_by_user"] == pytest.approx({"ann": 0.02, "bob": 0.04})
    assert stats["cost_by_agent"] == pytest.approx({"coder": 0.06, "reviewer": 0.0})
    gpt = stats["by_model"]["gpt-4o"]
    assert gpt["total_requests"] == 3 and gpt["cache_hit_rate"] == pytest.approx(1 / 3)
    assert gpt["tokens"]["total"] == 1600
    assert stats["by_model"]["claude-3-5-haiku"]["error_rate"] == 1.0
    ann = stats["by_user"]["ann"]
    assert ann["total_requests"] == 3 and ann["error_types"] == {"rate_limit": 1}
    assert stats["by_agent"]["coder"]["latency_ms"]["p50"] == pytest.approx(1000, rel=0.01)


def test_track_request_labels_and_checks() -> None:
    monitor = MLMonitor(clock=FakeClock())
    monitor.track_request(False, 10, error_type="RateLimitError")  # not an ErrorType value
    monitor.track_request(False, 10, error_type="timeout")
    monitor.track_request(False, 10, error_type="cancelled")
    monitor.track_request(False, 10, error_type="refused")
    monitor.track_request(False, 10)
    stats = monitor.get_real_time_stats()
    assert stats["error_types"] == {
        "RateLimitError": 1, "cancelled": 1, "refused": 1, "timeout": 1, "unknown": 1,
    }  # fmt: skip
    assert stats["outcomes"] == {"success": 0, "error": 3, "cancelled": 1, "refused": 1}
    assert stats["error_rate"] == 1.0
    with pytest.raises(ConfigurationError, match="no error_type"):
        monitor.track_request(True, 10, error_type="timeout")
    with pytest.raises(ConfigurationError, match="differs"):
        monitor.track_request(True, 10, tokens=5, input_tokens=1, output_tokens=1)
    with pytest.raises(ConfigurationError, match="latency_ms"):
        monitor.track_request(True, -1)


@pytest.mark.parametrize("cost", [math.nan, math.inf, -0.01])
def test_a_cost_that_is_not_a_finite_amount_is_refused_and_totals_stay_numbers(
    cost: float,
) -> None:
    monitor = MLMonitor(clock=FakeClock())
    monitor.track_request(True, 10, cost=0.5)
    with pytest.raises(ConfigurationError, match="cost must be a finite number"):
        monitor.track_request(True, 10, cost=cost)
    stats = monitor.get_real_time_stats("all")
    assert stats["total_requests"] == 1 and stats["total_cost"] == 0.5
    json.dumps(stats, allow_nan=False)  # still JSON


def test_hand_tracked_tokens_and_operations_are_checked_with_a_configuration_error() -> None:
    monitor = MLMonitor(clock=FakeClock())
    with pytest.raises(ConfigurationError, match="input_tokens must be >= 0"):
        monitor.track_request(True, 10, tokens=-5)
    with pytest.raises(ConfigurationError, match="unknown operation 'rerank'; one of: chat"):
        monitor.track_request(True, 10, operation="rerank")
    assert monitor.get_real_time_stats("all")["total_requests"] == 0


def test_a_record_seen_twice_counts_once() -> None:
    monitor = MLMonitor(clock=FakeClock())
    record = make_record()
    assert monitor.observe(record) is True
    assert monitor.observe(record) is False
    assert monitor.get_real_time_stats()["total_requests"] == 1


def test_keys_beyond_the_limit_share_the_other_bucket_and_totals_stay_exact() -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock, limits=KeyLimits(users=3, series=2))
    for index in range(10):
        monitor.observe(make_record(clock, user=f"user-{index}", model=f"model-{index % 4}",
                                    estimated_cost=1.0))  # fmt: skip
        clock.advance(20)  # several 10 s slots, merged on the way up
    for window in ("1m", "5m", "all"):
        stats = monitor.get_real_time_stats(window)
        assert len(stats["by_user"]) <= 4 and len(stats["cost_by_model"]) <= 3
        assert sum(stats["cost_by_user"].values()) == pytest.approx(stats["total_cost"])
        assert (
            sum(s["total_requests"] for s in stats["by_model"].values())
            == (stats["total_requests"])
        )
    assert "__other__" in monitor.get_real_time_stats("all")["by_user"]


outcomes = st.sampled_from([None, ErrorType.TIMEOUT, ErrorType.CANCELLED, ErrorType.REFUSED])


@settings(max_examples=40, deadline=None)
@given(
    calls=st.lists(
        st.tuples(outcomes, st.booleans(), st.floats(0, 10_000), st.integers(0, 2000)),
        max_size=40,
    )
)
def test_rates_are_fractions_that_add_up(
    calls: list[tuple[ErrorType | None, bool, float, int]],
) -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    for error, cached, latency, tokens in calls:
        monitor.track_request(error is None, latency, 0.001, tokens, error_type=error,
                              cached=cached)  # fmt: skip
        clock.advance(1)
    stats = monitor.get_real_time_stats("5m")
    assert stats["total_requests"] == len(calls)
    if not calls:
        assert stats["success_rate"] is None and stats["latency_ms"]["p50"] is None
        return
    for rate in ("success_rate", "error_rate", "cache_hit_rate"):
        assert 0.0 <= stats[rate] <= 1.0
    assert stats["success_rate"] + stats["error_rate"] == pytest.approx(1.0)
    assert sum(stats["outcomes"].values()) == len(calls)
    assert sum(stats["error_types"].values()) == stats["failed_requests"]
    assert stats["tokens"]["total"] == sum(tokens for *_, tokens in calls)
    latency = stats["latency_ms"]
    assert latency["p50"] <= latency["p75"] <= latency["p90"] <= latency["p95"] <= latency["p99"]


def test_usage_subsets_are_summed_by_type() -> None:
    monitor = MLMonitor(clock=FakeClock())
    usage = Usage(input_tokens=100, output_tokens=50, cached_input_tokens=40,
                  cache_creation_tokens=10, reasoning_tokens=20)  # fmt: skip
    monitor.observe(make_record(usage=usage))
    tokens = monitor.get_real_time_stats()["tokens"]
    assert tokens == {"input": 100, "output": 50, "total": 150, "cached_input": 40,
                      "cache_creation": 10, "reasoning": 20}  # fmt: skip


def test_records_from_several_threads_are_all_counted() -> None:
    monitor = MLMonitor(clock=FakeClock())
    seen: list[int] = []

    def feed(worker: int) -> None:
        for index in range(2000):
            monitor.observe(make_record(user=f"w{worker}", request_id=f"{worker}-{index}"))

    threads = [threading.Thread(target=feed, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        seen.append(monitor.get_real_time_stats()["total_requests"])  # reads while writing
    for thread in threads:
        thread.join()
    assert monitor.get_real_time_stats()["total_requests"] == 8000
    assert seen == sorted(seen)


def test_error_labels_are_bounded_too() -> None:
    monitor = MLMonitor(clock=FakeClock(), limits=KeyLimits(error_types=2))
    for label in ("a", "b", "c", "d"):
        monitor.track_request(False, 10, error_type=label)
    assert monitor.get_real_time_stats()["error_types"] == {"__other__": 2, "a": 1, "b": 1}
    with pytest.raises(ConfigurationError, match="users"):
        KeyLimits(users=0)
