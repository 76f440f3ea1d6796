"""Retries, Retry-After, fallbacks across providers and the record of every call.

The fake injects a 429 with Retry-After, then makes the primary model overloaded so
the call falls back to Anthropic. Every call emits one RequestRecord.

Run: python examples/llm_resilience.py
"""

import asyncio

from ai.llm_service import LLMConfig, LLMProvider, LLMService, ModelRoute, RequestRecord
from ai.testing import FakeProviderServer, Fault


def show(record: RequestRecord) -> None:
    outcome = "ok" if record.success else f"failed ({record.error_type})"
    print(
        f"  record: {record.provider}/{record.model} {outcome}, "
        f"attempts={record.attempts}, fallback={record.fallback_used}, cost={record.estimated_cost}"
    )


async def main() -> None:
    async with FakeProviderServer() as fake:
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o-mini",
            base_url=fake.openai_base_url,
            max_retries=2,
            retry_delay=0.1,
            fallback_models=[
                ModelRoute(
                    LLMProvider.ANTHROPIC,
                    "claude-3-5-haiku-20241022",
                    api_key=fake.api_key,
                    base_url=fake.anthropic_base_url,
                )
            ],
        )
        async with LLMService(config) as llm:
            llm.subscribe(show)
            messages = [{"role": "user", "content": "Hello!"}]

            print("1. a 429 with Retry-After: 0.2 s, then success")
            fake.faults.push(Fault.rate_limit(retry_after=0.2))
            await llm.complete(messages=messages)

            print("2. the primary model is down (503 on every try): fall back to Anthropic")
            fake.faults.add(Fault.server_error(503), times=None, model="gpt-4o-mini")
            _, stats = await llm.complete(messages=messages)
            print(f"  answered by {stats.provider}/{stats.model}")

            print("summary:", llm.get_metrics()["errors_by_type"] or "no failed calls")


if __name__ == "__main__":
    asyncio.run(main())
