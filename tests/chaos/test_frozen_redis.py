"""A frozen Redis (SIGSTOP: it accepts connections and never answers) must not slow every
call down: the cache gives up within its operation timeout, then steps aside, probing it
once per interval while the other calls skip it."""

from __future__ import annotations

import asyncio
import os
import signal

from ai.cache import ResponseCache
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer
from tests.ai.provider_configs import openai_config
from tests.services.redis_server import RedisServer

WORKERS = 20
CALLS_PER_WORKER = 20


async def test_calls_go_on_uncached_while_redis_is_frozen(
    upstream: FakeProviderServer, redis_server: RedisServer, redis_key_prefix: str
) -> None:
    # An operation timeout as long as the retry interval: the back-off must count from the
    # end of a failure, or it has already expired when the failure is noted.
    cache = ResponseCache.redis(
        redis_server.url, prefix=redis_key_prefix, timeout=0.5, retry_interval=0.5
    )
    async with LLMService(openai_config(upstream, temperature=0.0), cache=cache) as llm:
        await llm.complete(messages=[{"role": "user", "content": "warm up"}])
        assert redis_server.pid is not None
        os.kill(redis_server.pid, signal.SIGSTOP)
        try:

            async def worker(index: int) -> int:
                done = 0
                for call in range(CALLS_PER_WORKER):
                    content = f"question {index}-{call}"
                    await llm.complete(messages=[{"role": "user", "content": content}])
                    done += 1
                return done

            finished = await asyncio.gather(*(worker(i) for i in range(WORKERS)))
        finally:
            os.kill(redis_server.pid, signal.SIGCONT)
        assert sum(finished) == WORKERS * CALLS_PER_WORKER
        errors = cache.metrics.backend_errors
        skipped = cache.metrics.skipped["backend_unavailable"]
        # Only the first wave of concurrent operations and one probe per interval waited for
        # the timeout; every other lookup and store skipped Redis at once.
        assert errors <= 2 * WORKERS + 10, (errors, skipped)
        assert skipped >= WORKERS * CALLS_PER_WORKER, (errors, skipped)
        assert cache.metrics.outages == 1
        # Once Redis answers again, caching resumes by itself after the retry interval.
        await asyncio.sleep(cache.retry_interval)
        question = [{"role": "user", "content": "after the thaw"}]
        await llm.complete(messages=question)
        _, stats = await llm.complete(messages=question)
        assert stats.cached and cache.available
    await cache.aclose()
