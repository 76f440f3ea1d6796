"""Streaming from Anthropic's wire format: deltas as they come, usage and cost at the end.

Run: python examples/llm_streaming.py
"""

import asyncio

from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer


async def main() -> None:
    async with FakeProviderServer() as fake:
        config = LLMConfig(
            provider=LLMProvider.ANTHROPIC,
            api_key=fake.api_key,
            model="claude-3-5-haiku-20241022",
            base_url=fake.anthropic_base_url,
        )
        async with LLMService(config) as llm:
            stream = llm.stream(
                messages=[
                    {"role": "system", "content": "You are a concise storyteller."},
                    {"role": "user", "content": "Tell me about a lighthouse keeper."},
                ]
            )
            async for delta in stream:
                print(delta, end="", flush=True)
            print()
            stats = stream.stats
            assert stats is not None
            print(f"time to first token: {stats.time_to_first_token_ms:.1f} ms")
            print(f"tokens: {stats.input_tokens} in / {stats.output_tokens} out")
            print(f"cost: ${stats.estimated_cost:.6f}")


if __name__ == "__main__":
    asyncio.run(main())
