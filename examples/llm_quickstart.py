"""Quick Start 1 of the spec, offline: the same code, pointed at the loopback fake.

Run: python examples/llm_quickstart.py
To use the real OpenRouter, drop `base_url` and set OPENROUTER_API_KEY.
"""

import asyncio

from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer


async def main() -> None:
    async with FakeProviderServer(api_key="your_api_key") as fake:
        config = LLMConfig(
            provider=LLMProvider.OPENROUTER,
            api_key="your_api_key",
            model="openai/gpt-4o-mini",
            max_retries=3,
            base_url=fake.openrouter_base_url,
        )
        async with LLMService(config) as llm:
            response, stats = await llm.complete(
                messages=[{"role": "user", "content": "Hello!"}],
            )
            print(f"Response: {response}")
            print(f"Cost: ${stats.estimated_cost:.4f}")
            print(f"Tokens: {stats.input_tokens} in, {stats.output_tokens} out")
            print(f"Latency: {stats.latency_ms:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
