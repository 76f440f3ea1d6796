"""`ResponseCache` options: none given to the wrong backend is ignored.

An option of one backend factory given to another (a Redis `prefix` to `memory()`) is a
`ConfigurationError` naming the right factory; the cases come from `BACKEND_OPTIONS`. A
backend built by the caller keeps its own `default_ttl` unless `ttl` is given.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from ai.cache import CachedResponse, MemoryBackend, ResponseCache
from ai.cache.response_cache import BACKEND_OPTIONS, CACHE_OPTIONS, reject_unused
from ai.core.clock import FakeClock
from ai.errors import ConfigurationError
from ai.providers.base import ChatRequest

SAMPLES: dict[str, Any] = {
    "url": "redis://127.0.0.1:1/0",
    "prefix": "app:",
    "timeout": 0.2,
    "max_entries": 10,
    "max_bytes": 2**20,
}
REQUEST = ChatRequest(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Hi"}],
    temperature=0.0,
    max_tokens=50,
)


def _misplaced() -> list[Any]:
    every = set().union(*BACKEND_OPTIONS.values())
    return [
        pytest.param(factory, name, id=f"{factory}-{name}")
        for factory, allowed in BACKEND_OPTIONS.items()
        for name in sorted(every - allowed)
    ]


@pytest.mark.parametrize(("factory", "name"), _misplaced())
def test_an_option_of_another_backend_is_an_error_naming_it(factory: str, name: str) -> None:
    assert name in SAMPLES, f"add a sample value for {name!r} to SAMPLES"
    with pytest.raises(ConfigurationError) as caught:
        getattr(ResponseCache, factory)(**{name: SAMPLES[name]})
    others = [other for other, allowed in BACKEND_OPTIONS.items() if name in allowed]
    message = str(caught.value)
    assert message.startswith(f"ResponseCache.{factory}() does not use {name}; remove it, ")
    assert all(f"ResponseCache.{other}(...)" in message for other in others)


@pytest.mark.parametrize("factory", sorted(BACKEND_OPTIONS))
def test_declarations_match_the_factories(factory: str) -> None:
    parameters = inspect.signature(getattr(ResponseCache, factory)).parameters.values()
    named = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD}
    assert named == BACKEND_OPTIONS[factory]
    front = set(inspect.signature(ResponseCache).parameters) - {"backend", "ttl"}
    assert front == CACHE_OPTIONS


@pytest.mark.parametrize("factory", sorted(BACKEND_OPTIONS))
def test_an_option_no_factory_takes_is_an_error(factory: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        getattr(ResponseCache, factory)(socket_timeout=0.2, max_entires=5)
    assert str(caught.value) == (
        f"ResponseCache.{factory}() does not use max_entires, socket_timeout; remove them."
    )


async def test_the_caches_own_options_pass_through() -> None:
    reject_unused("memory", dict.fromkeys(CACHE_OPTIONS))
    cache = ResponseCache.memory(deterministic_only=True, max_value_bytes=10, clock=None)
    assert cache.deterministic_only and cache.max_value_bytes == 10
    redis = ResponseCache.redis(SAMPLES["url"], prefix="app:", retry_interval=5.0)
    assert redis.retry_interval == 5.0 and redis.backend.name == "redis"
    await redis.aclose()


def _answer() -> CachedResponse:
    return CachedResponse(text="Hello", model="gpt-4o-mini", provider="openai")


async def _alive_after(cache: ResponseCache, clock: FakeClock, seconds: float) -> bool:
    plan = cache.plan("openai", REQUEST, None)
    assert plan is not None
    await cache.store(plan, _answer())
    clock.advance(seconds)
    return await cache.lookup(plan) is not None


async def test_a_given_backend_keeps_its_default_ttl_when_ttl_is_left_out() -> None:
    clock = FakeClock()
    cache = ResponseCache(MemoryBackend(default_ttl=60, clock=clock), clock=clock)
    assert cache.ttl is None
    assert not await _alive_after(cache, clock, 61)


async def test_a_given_ttl_overrides_the_backends_default() -> None:
    clock = FakeClock()
    cache = ResponseCache(MemoryBackend(default_ttl=60, clock=clock), ttl=10, clock=clock)
    assert not await _alive_after(cache, clock, 11)


def test_ttl_none_cannot_turn_off_a_given_backends_expiry() -> None:
    with pytest.raises(ConfigurationError, match="default_ttl=None"):
        ResponseCache(MemoryBackend(), ttl=None)


@pytest.mark.parametrize(
    ("options", "seconds", "alive"),
    [({}, 3599, True), ({}, 3601, False), ({"ttl": None}, 10**9, True), ({"ttl": 5}, 6, False)],
)
async def test_the_backend_built_here_expires_by_ttl(
    options: dict[str, Any], seconds: float, alive: bool
) -> None:
    clock = FakeClock()
    assert await _alive_after(ResponseCache(clock=clock, **options), clock, seconds) is alive
    memory = ResponseCache.memory(clock=clock, **options)
    assert await _alive_after(memory, clock, seconds) is alive
