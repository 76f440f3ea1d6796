"""Prometheus: a collector that reads the monitor at scrape time, scraped with
generate_latest and parsed back with the official parser."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import DuplicateTimeseries
from prometheus_client.samples import Sample

from ai.core.clock import FakeClock
from ai.core.records import Operation
from ai.core.usage import Usage
from ai.errors import ErrorType
from ml_ops.monitoring import MLMonitor, MonitorCollector, register_prometheus
from tests.ml_ops.monitoring.records import make_record

SERIES = {"provider": "openai", "model": "gpt-4o-mini", "operation": "chat"}


def scrape(registry: CollectorRegistry) -> dict[str, list[Sample]]:
    text = generate_latest(registry).decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    (found,) = [s.value for s in samples if s.name == name and s.labels == labels]
    return found


def fed_monitor() -> MLMonitor:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock)
    usage = Usage(input_tokens=100, output_tokens=40, cached_input_tokens=60, reasoning_tokens=10)
    for latency in (100.0, 200.0, 3000.0):
        ttft = latency * 0.4
        monitor.observe(make_record(clock, latency_ms=latency, usage=usage, user="ann",
                                    time_to_first_token_ms=ttft, estimated_cost=0.25))  # fmt: skip
    monitor.observe(make_record(clock, success=False, error_type=ErrorType.TIMEOUT, usage=None,
                                estimated_cost=None, user="bob"))  # fmt: skip
    monitor.observe(make_record(clock, cached=True, estimated_cost=0.0, saved_cost=0.25))
    monitor.observe(make_record(clock, operation=Operation.EMBEDDING, estimated_cost=0.5,
                                model="text-embedding-3-small"))  # fmt: skip
    return monitor


def test_a_scrape_renders_every_metric_from_the_monitor() -> None:
    monitor = fed_monitor()
    families = scrape(monitor.prometheus_registry())
    requests = families["devora_requests"]
    assert value(requests, "devora_requests_total", **SERIES, status="success") == 4
    assert value(requests, "devora_requests_total", **SERIES, status="error") == 1
    assert value(requests, "devora_requests_total", **SERIES, status="refused") == 0
    assert value(families["devora_errors"], "devora_errors_total", **SERIES,
                 error_type="timeout") == 1  # fmt: skip

    latency = families["devora_request_latency_seconds"]
    bucket = "devora_request_latency_seconds_bucket"
    assert value(latency, bucket, **SERIES, le="0.05") == 0
    # chat latencies: 100, 200, 3000 ms, then 100 ms twice (the failure, the cache hit)
    assert value(latency, bucket, **SERIES, le="0.25") == 4
    assert value(latency, bucket, **SERIES, le="2.5") == 4
    assert value(latency, bucket, **SERIES, le="5.0") == 5
    assert value(latency, bucket, **SERIES, le="+Inf") == 5
    assert value(latency, "devora_request_latency_seconds_count", **SERIES) == 5
    assert value(latency, "devora_request_latency_seconds_sum", **SERIES) == pytest.approx(3.5)
    ttft = families["devora_time_to_first_token_seconds"]
    assert value(ttft, "devora_time_to_first_token_seconds_count", **SERIES) == 3
    ttft_bucket = "devora_time_to_first_token_seconds_bucket"  # 40, 80 and 1200 ms
    assert value(ttft, ttft_bucket, **SERIES, le="0.05") == 1
    assert value(ttft, ttft_bucket, **SERIES, le="0.1") == 2
    assert value(ttft, ttft_bucket, **SERIES, le="2.5") == 3

    tokens = families["devora_tokens"]
    assert value(tokens, "devora_tokens_total", **SERIES, type="input") == 4 * 100
    assert value(tokens, "devora_tokens_total", **SERIES, type="cached_input") == 180
    assert value(tokens, "devora_tokens_total", **SERIES, type="reasoning") == 30
    cost = families["devora_cost_usd"]
    assert value(cost, "devora_cost_usd_total", provider="openai",
                 model="gpt-4o-mini") == pytest.approx(0.75)  # fmt: skip
    assert value(cost, "devora_cost_usd_total", provider="openai",
                 model="text-embedding-3-small") == pytest.approx(0.5)  # fmt: skip
    assert value(families["devora_saved_cost_usd"], "devora_saved_cost_usd_total",
                 provider="openai", model="gpt-4o-mini") == pytest.approx(0.25)  # fmt: skip
    assert value(families["devora_cache_hits"], "devora_cache_hits_total", **SERIES) == 1

    allowed = {"provider", "model", "operation", "status", "error_type", "type", "le"}
    for samples in families.values():
        for sample in samples:
            assert set(sample.labels) <= allowed  # never a user id
            assert "ann" not in sample.labels.values()


def test_each_scrape_reads_the_monitor_as_it_is_now() -> None:
    monitor = MLMonitor(clock=FakeClock())
    registry = CollectorRegistry()
    register_prometheus(monitor, registry)
    assert scrape(registry)["devora_requests"] == []
    monitor.observe(make_record())
    monitor.observe(make_record())
    requests = scrape(registry)["devora_requests"]
    assert value(requests, "devora_requests_total", **SERIES, status="success") == 2


def test_names_are_checked_for_clashes_and_buckets_configurable() -> None:
    monitor = fed_monitor()
    registry = register_prometheus(monitor, buckets=(0.5, 10.0), namespace="llm")
    with pytest.raises(DuplicateTimeseries):
        registry.register(MonitorCollector(monitor, namespace="llm"))
    latency = scrape(registry)["llm_request_latency_seconds"]
    bounds = {s.labels["le"] for s in latency if s.name.endswith("_bucket")}
    assert bounds == {"0.5", "10.0", "+Inf"}
    with pytest.raises(ValueError, match="ascending"):
        MonitorCollector(monitor, buckets=(2.0, 1.0))
