"""Response caching: a repeated question costs nothing; 20 concurrent ones make one call.

Run: python examples/llm_cache.py
Set REDIS_URL to share the cache through Redis instead of process memory.
"""

import asyncio
import os
import uuid

from ai.cache import ResponseCache
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer


async def main() -> None:
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:  # a fresh prefix per run, so this demo starts from an empty cache
        cache = ResponseCache.redis(
            redis_url, prefix=f"devora-example:{uuid.uuid4().hex}:", ttl=600
        )
    else:
        cache = ResponseCache.memory(ttl=600)
    question = [{"role": "user", "content": "What is the capital of France?"}]
    async with FakeProviderServer() as fake:
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o-mini",
            base_url=fake.openai_base_url,
            temperature=0.0,  # any temperature is cached; the key holds it
        )
        async with LLMService(config, cache=cache) as llm:
            await llm.complete(messages=question, cache="refresh")
            _, stats = await llm.complete(messages=question)
            print(f"second call cached={stats.cached}, saved ${stats.saved_cost:.6f}")

            other = [{"role": "user", "content": "And of Italy?"}]
            results = await asyncio.gather(*(llm.complete(messages=other) for _ in range(20)))
            fresh = sum(not s.cached for _, s in results)
            print(f"20 concurrent identical calls -> {fresh} provider call(s)")
        print(f"provider requests in total: {fake.request_count()}")
    metrics = cache.get_metrics()
    print(f"hit rate {metrics['hit_rate']:.0%}, cost saved ${metrics['cost_saved']:.6f}")
    await cache.aclose()


if __name__ == "__main__":
    asyncio.run(main())
