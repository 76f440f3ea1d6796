"""ServiceMetrics: running totals over RequestRecords, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ai.calls.metrics import ServiceMetrics
from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.core.usage import Usage


def record(**overrides: Any) -> RequestRecord:
    fields: dict[str, Any] = {
        "request_id": "r",
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "provider": "openai",
        "model_requested": "gpt-4o-mini",
        "model": "gpt-4o-mini",
        "usage": Usage(input_tokens=100, output_tokens=20),
        "estimated_cost": 0.002,
        "latency_ms": 400.0,
        "time_to_first_token_ms": None,
        "attempts": 1,
        "success": True,
    }
    fields.update(overrides)
    return RequestRecord(**fields)


def test_empty_snapshot() -> None:
    snapshot = ServiceMetrics(FakeClock()).snapshot()
    assert snapshot == {
        "total_requests": 0,
        "successful_requests": 0,
        "failed_requests": 0,
        "error_rate": 0.0,
        "errors_by_type": {},
        "cached_requests": 0,
        "total_attempts": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "total_tokens": 0,
        "total_cost": 0.0,
        "unpriced_requests": 0,
        "avg_latency_ms": 0.0,
        "max_latency_ms": 0.0,
        "avg_time_to_first_token_ms": None,
        "requests_per_second": 0.0,
        "requests_by_model": {},
    }


def test_snapshot_over_a_mix_of_records() -> None:
    clock = FakeClock()
    metrics = ServiceMetrics(clock)
    metrics.observe(record())  # plain success
    metrics.observe(
        record(
            model="openai/gpt-4o",
            model_requested="openai/gpt-4o",
            usage=Usage(input_tokens=50, output_tokens=30),
            estimated_cost=0.003,
            latency_ms=1200.0,
            time_to_first_token_ms=150.0,
            streamed=True,
        )
    )
    metrics.observe(
        record(
            usage=Usage(input_tokens=100, output_tokens=20),
            estimated_cost=0.0,
            latency_ms=2.0,
            cached=True,
        )
    )
    metrics.observe(
        record(
            model=None,
            usage=None,
            estimated_cost=None,
            latency_ms=3000.0,
            attempts=4,
            success=False,
            error_type="rate_limit",
        )
    )
    metrics.observe(
        record(
            model="acme-1",
            usage=Usage(input_tokens=10, output_tokens=5),
            estimated_cost=None,  # a model without a price
            latency_ms=98.0,
            time_to_first_token_ms=50.0,
            attempts=2,
        )
    )
    clock.advance(10.0)
    snapshot = metrics.snapshot()
    assert snapshot["total_requests"] == 5
    assert snapshot["successful_requests"] == 4
    assert snapshot["failed_requests"] == 1
    assert snapshot["error_rate"] == 0.2
    assert snapshot["errors_by_type"] == {"rate_limit": 1}
    assert snapshot["cached_requests"] == 1
    assert snapshot["total_attempts"] == 1 + 1 + 1 + 4 + 2
    assert snapshot["input_tokens"] == 100 + 50 + 100 + 0 + 10
    assert snapshot["output_tokens"] == 20 + 30 + 20 + 0 + 5
    assert snapshot["total_tokens"] == 260 + 75
    assert snapshot["total_cost"] == pytest.approx(0.005)
    assert snapshot["unpriced_requests"] == 1  # acme-1; the failure had no usage to price
    assert snapshot["avg_latency_ms"] == pytest.approx((400 + 1200 + 2 + 3000 + 98) / 5)
    assert snapshot["max_latency_ms"] == 3000.0
    assert snapshot["avg_time_to_first_token_ms"] == pytest.approx(100.0)
    assert snapshot["requests_per_second"] == pytest.approx(0.5)
    assert snapshot["requests_by_model"] == {
        "gpt-4o-mini": 3,  # the failure counts under the model requested
        "openai/gpt-4o": 1,
        "acme-1": 1,
    }


def test_failure_without_error_type_counts_as_unknown() -> None:
    metrics = ServiceMetrics(FakeClock())
    metrics.observe(record(success=False, error_type=None, usage=None, estimated_cost=None))
    metrics.observe(record(success=False, error_type="timeout", usage=None, estimated_cost=None))
    metrics.observe(record(success=False, error_type="timeout", usage=None, estimated_cost=None))
    snapshot = metrics.snapshot()
    assert snapshot["errors_by_type"] == {"unknown": 1, "timeout": 2}
    assert snapshot["error_rate"] == 1.0


def test_requests_per_second_uses_time_since_creation() -> None:
    clock = FakeClock()
    clock.advance(1000.0)  # time before the metrics existed does not count
    metrics = ServiceMetrics(clock)
    for _ in range(6):
        metrics.observe(record())
    clock.advance(3.0)
    assert metrics.snapshot()["requests_per_second"] == pytest.approx(2.0)
    clock.advance(3.0)
    assert metrics.snapshot()["requests_per_second"] == pytest.approx(1.0)


def test_snapshot_is_a_copy() -> None:
    metrics = ServiceMetrics(FakeClock())
    metrics.observe(record(success=False, error_type="timeout"))
    snapshot = metrics.snapshot()
    snapshot["errors_by_type"]["timeout"] = 99
    snapshot["requests_by_model"].clear()
    assert metrics.snapshot()["errors_by_type"] == {"timeout": 1}
    assert metrics.snapshot()["requests_by_model"] == {"gpt-4o-mini": 1}


def test_counters_are_public_and_match_the_snapshot() -> None:
    metrics = ServiceMetrics(FakeClock())
    metrics.observe(record(estimated_cost=0.25))
    metrics.observe(record(estimated_cost=0.5, cached=True))
    assert (metrics.requests, metrics.cached, metrics.cost) == (2, 1, 0.75)
    assert metrics.by_model == {"gpt-4o-mini": 2}
