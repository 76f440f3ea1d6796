"""ResponseCache over a real Redis: what it finds under its prefix that is not a value it
wrote (a key of another type, a damaged or out-of-range entry) is dropped and counted,
and never taken for an outage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from ai.cache import CachedResponse, CachePlan, ResponseCache
from ai.providers.base import ChatRequest

if TYPE_CHECKING:
    import redis.asyncio


def plan_for(cache: ResponseCache, question: str) -> CachePlan:
    request = ChatRequest(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": question}],
        temperature=0.0,
        max_tokens=50,
    )
    plan = cache.plan("openai", request, None)
    assert plan is not None
    return plan


ANSWER = CachedResponse(text="Paris.", model="gpt-4o-mini", provider="openai", cost=0.002)


@pytest.fixture
async def cache(redis_url: str, redis_key_prefix: str) -> AsyncIterator[ResponseCache]:
    built = ResponseCache.redis(redis_url, prefix=redis_key_prefix)
    yield built
    await built.aclose()


async def test_a_key_of_another_type_is_dropped_like_a_corrupt_value(
    cache: ResponseCache, redis_client: redis.asyncio.Redis, redis_key_prefix: str
) -> None:
    other = plan_for(cache, "What is the capital of Italy?")
    await cache.store(other, ANSWER)
    plan = plan_for(cache, "What is the capital of France?")
    await redis_client.rpush(redis_key_prefix + plan.key, b"not a cached answer")
    assert await cache.lookup(plan) is None
    metrics = cache.get_metrics()
    assert metrics["skipped"] == {"corrupt": 1}
    assert (metrics["backend_errors"], metrics["outages"], metrics["available"]) == (0, 0, True)
    assert await redis_client.exists(redis_key_prefix + plan.key) == 0  # deleted, not re-hit
    assert await cache.lookup(other) == ANSWER  # the rest of the cache stayed up
    await cache.store(plan, ANSWER)
    assert await cache.lookup(plan) == ANSWER


@pytest.mark.parametrize("cost", ["NaN", "Infinity", "-5"])
async def test_an_entry_with_a_bad_cost_is_never_served(
    cache: ResponseCache, redis_client: redis.asyncio.Redis, redis_key_prefix: str, cost: str
) -> None:
    plan = plan_for(cache, "What is the capital of France?")
    await cache.store(plan, ANSWER)
    assert await cache.lookup(plan) == ANSWER
    damaged = b'j{"v":1,"t":"x","m":null,"p":"openai","u":null,"c":%s,"f":null,"k":[],"a":0}'
    await redis_client.set(redis_key_prefix + plan.key, damaged % cost.encode())
    assert await cache.lookup(plan) is None
    metrics = cache.get_metrics()
    assert metrics["skipped"] == {"corrupt": 1}
    assert metrics["cost_saved"] == pytest.approx(0.002)  # neither NaN nor lowered
    assert await redis_client.exists(redis_key_prefix + plan.key) == 0
