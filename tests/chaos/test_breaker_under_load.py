"""The circuit breaker under concurrency: it must not turn a flaky upstream's transient
faults into user-visible failures, and must still trip fast on a dead upstream."""

from __future__ import annotations

import asyncio

from ai.errors import ProviderError
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import openai_config

HELLO = [{"role": "user", "content": "Hello!"}]
CONCURRENCY = 100
CALLS = 600
BREAKER_OFF = {"circuit_failure_threshold": 10**6, "circuit_window": 10**6}


async def failed_calls(upstream: FakeProviderServer, **settings: object) -> int:
    """How many of CALLS calls, CONCURRENCY at a time, the caller saw fail."""
    config = openai_config(upstream, retry_delay=0.001, max_retry_delay=0.005, **settings)
    gate = asyncio.Semaphore(CONCURRENCY)
    async with LLMService(config) as llm:

        async def one() -> bool:
            async with gate:
                try:
                    await llm.complete(messages=HELLO, max_tokens=5)
                except ProviderError:
                    return False
                return True

        outcomes = await asyncio.gather(*(one() for _ in range(CALLS)))
    return outcomes.count(False)


async def test_a_flaky_upstream_fails_no_more_calls_with_the_breaker_than_without(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.add(Fault.disconnect(), every=4)  # 25% of attempts dropped
    with_breaker = await failed_calls(upstream)
    upstream.reset()
    upstream.faults.add(Fault.disconnect(), every=4)
    without_breaker = await failed_calls(upstream, **BREAKER_OFF)
    assert with_breaker <= without_breaker + CALLS // 200  # no worse, within 0.5%
    assert with_breaker <= CALLS // 100  # and retries absorb nearly everything


async def test_a_dead_upstream_trips_the_breaker_after_a_few_attempts(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.add(Fault.server_error(503))  # every attempt fails
    failed = await failed_calls(upstream, circuit_cooldown=60.0)
    assert failed == CALLS
    # Without a breaker every call would make 4 attempts (CALLS * 4 requests); with it,
    # the first waves of concurrent calls reach the upstream and the rest are refused.
    assert len(upstream.requests) < CALLS
