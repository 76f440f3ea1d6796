"""ResponseCache policy over the memory backend: what is cached, modes, metrics, skips."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from ai.cache import CachedResponse, CacheMode, ResponseCache
from ai.core.clock import FakeClock
from ai.errors import ConfigurationError
from ai.providers.base import ChatRequest

HI = [{"role": "user", "content": "Hi"}]


def request(temperature: float = 0.0, **changes: object) -> ChatRequest:
    base = ChatRequest(model="gpt-4o-mini", messages=HI, temperature=temperature, max_tokens=50)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def answer(text: str = "Hello", cost: float | None = 0.002) -> CachedResponse:
    return CachedResponse(text=text, model="gpt-4o-mini", provider="openai", cost=cost)


async def test_deterministic_requests_round_trip_and_count_savings() -> None:
    cache = ResponseCache.memory(clock=FakeClock())
    plan = cache.plan("openai", request(), None)
    assert plan is not None and plan.read and plan.store
    assert await cache.lookup(plan) is None
    await cache.store(plan, answer())
    hit = await cache.lookup(plan)
    assert hit is not None and hit.text == "Hello"
    metrics = cache.get_metrics()
    assert (metrics["hits"], metrics["misses"], metrics["sets"]) == (1, 1, 1)
    assert metrics["hit_rate"] == 0.5
    assert metrics["cost_saved"] == pytest.approx(0.002)
    assert metrics["entries"] == 1 and metrics["bytes"] > 0


async def test_sampled_requests_are_cached_by_default_with_the_temperature_in_the_key() -> None:
    cache = ResponseCache.memory()
    warm = cache.plan("openai", request(temperature=0.7), None)
    cold = cache.plan("openai", request(temperature=0.0), None)
    assert warm is not None and cold is not None and warm.key != cold.key


async def test_deterministic_only_skips_sampled_requests_and_says_why_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = ResponseCache.memory(deterministic_only=True)
    with caplog.at_level(logging.INFO, logger="ai.cache"):
        assert cache.plan("openai", request(temperature=0.7), None) is None
        assert cache.plan("openai", request(temperature=0.9), None) is None
    assert cache.get_metrics()["skipped"] == {"nondeterministic": 2}
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "deterministic_only" in caplog.records[0].getMessage()
    assert cache.plan("openai", request(temperature=0.7), "use") is not None


def test_the_old_opt_in_still_works_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="deterministic_only"):
        cache = ResponseCache.memory(cache_nondeterministic=False)
    assert cache.deterministic_only


@pytest.mark.parametrize(
    ("mode", "read", "store"),
    [(CacheMode.AUTO, True, True), ("refresh", False, True), ("no-store", True, False)],
)
def test_modes(mode: str, read: bool, store: bool) -> None:
    plan = ResponseCache.memory().plan("openai", request(), mode)
    assert plan is not None and (plan.read, plan.store) == (read, store)


def test_bypass_and_unknown_modes() -> None:
    cache = ResponseCache.memory()
    assert cache.plan("openai", request(), "bypass") is None
    with pytest.raises(ValueError, match="sometimes"):
        cache.plan("openai", request(), "sometimes")


async def test_no_store_reads_but_never_writes() -> None:
    cache = ResponseCache.memory()
    plan = cache.plan("openai", request(), "no-store")
    assert plan is not None
    await cache.store(plan, answer())
    assert cache.get_metrics()["sets"] == 0 and cache.get_metrics()["entries"] == 0


async def test_oversized_and_unserialisable_values_are_skipped_with_a_reason() -> None:
    cache = ResponseCache.memory(max_value_bytes=1_000)
    plan = cache.plan("openai", request(), None)
    assert plan is not None
    await cache.store(plan, answer(text="x" * 5_000))
    assert cache.get_metrics()["skipped"] == {"oversized": 1}
    assert await cache.lookup(plan) is None


async def test_expired_entries_are_never_served() -> None:
    clock = FakeClock()
    cache = ResponseCache.memory(ttl=60, clock=clock)
    plan = cache.plan("openai", request(), None)
    assert plan is not None
    await cache.store(plan, answer())
    clock.advance(59)
    assert await cache.lookup(plan) is not None
    clock.advance(2)
    assert await cache.lookup(plan) is None
    assert cache.get_metrics()["expirations"] == 1


async def test_unkeyable_requests_go_uncached() -> None:
    cache = ResponseCache.memory()
    assert cache.plan("openai", request(extra={"x": object()}), None) is None
    assert cache.get_metrics()["skipped"] == {"unkeyable": 1}


def test_invalid_settings_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="ttl"):
        ResponseCache(ttl=0)
    with pytest.raises(ConfigurationError, match="max_value_bytes"):
        ResponseCache(max_value_bytes=0)
