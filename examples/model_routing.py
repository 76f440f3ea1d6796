"""Model selection: the cheap model for simple tasks, the capable one for complex tasks.

`ModelRouter` is a guard on `LLMService`: a call that asks for the capable model (or for
the alias "auto") goes to the cheap one when the router is confident the task is simple
(a short prompt, an easy template category, the caller's hint); when unsure it keeps the
capable model. `routing_savings` prices what the cheap model saved.

Run: python examples/model_routing.py
"""

import asyncio

from ai.core.records import RequestRecord
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.routing import ModelRouter, routing_savings
from ai.testing import FakeProviderServer

CALLS = [  # (model asked for, prompt, tags)
    ("auto", "What is the capital of France?", {}),
    ("gpt-4o", "Design the sharding scheme for our orders database.", {"category": "architecture"}),
    ("gpt-4o", "Turn these notes into a changelog entry: fixed login.", {"complexity": "simple"}),
]


async def main() -> None:
    router = ModelRouter(cheap="gpt-4o-mini", capable="gpt-4o")
    records: list[RequestRecord] = []
    async with FakeProviderServer() as fake:
        config = LLMConfig(
            provider=LLMProvider.OPENAI,
            api_key=fake.api_key,
            model="gpt-4o",
            base_url=fake.openai_base_url,
        )
        async with LLMService(config, guards=[router]) as llm:
            llm.subscribe(records.append)  # every call's RequestRecord
            for model, prompt, tags in CALLS:
                messages = [{"role": "user", "content": prompt}]
                _, stats = await llm.complete(messages, model=model, tags=tags)
                route = records[-1].tags["route"]
                print(f"{model!r} -> {stats.model} (route {route}), ${stats.estimated_cost:.6f}")
            savings = routing_savings(records, llm.pricing)
    print(
        f"{savings.routed_calls} calls routed to gpt-4o-mini cost ${savings.cost:.6f}; "
        f"on gpt-4o: ${savings.cost_if_capable:.6f} (saved ${savings.saving:.6f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
