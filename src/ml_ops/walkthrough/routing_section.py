"""Section 6, model selection: `ai.routing.ModelRouter` as a guard on `LLMService`.

Both calls ask for the capable model (gpt-4o). The router sends the short question to the
cheap one (gpt-4o-mini) and keeps the architecture review, whose template category is a
hard one; `routing_savings` then prices the routed call on the model it replaced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console

from ai.core.records import RequestRecord, TagKey
from ai.routing import ModelRouter, routing_savings
from ml_ops.walkthrough.observers import Observers

CHEAP, CAPABLE = "gpt-4o-mini", "gpt-4o"
CALLS: Sequence[tuple[str, str, Mapping[str, str]]] = (
    ("simple question", "What is the capital of France?", {}),
    (
        "design review",
        "Review this design: one PostgreSQL primary takes every write, with a read replica "
        "per region. Where does it break first as traffic grows tenfold?",
        {TagKey.CATEGORY.value: "architecture"},
    ),
)


async def model_selection(console: Console, observers: Observers) -> None:
    """Two calls for gpt-4o through the router; print where each went, and the saving."""
    router = ModelRouter(cheap=CHEAP, capable=CAPABLE)
    records: list[RequestRecord] = []
    console.print(f"ModelRouter(cheap={CHEAP!r}, capable={CAPABLE!r}) guards the service")
    async with observers.service(CAPABLE, guards=[router]) as llm:
        unsubscribe = llm.subscribe(records.append)
        try:
            for label, question, tags in CALLS:
                messages = [{"role": "user", "content": question}]
                _, stats = await llm.complete(messages, tags=tags, max_tokens=100)
                route = records[-1].tags.get(TagKey.ROUTE.value)
                console.print(
                    f"{label}: asked for {stats.model_requested}, answered by {stats.model} "
                    f"(route {route}), ${stats.estimated_cost or 0:.6f}"
                )
        finally:
            unsubscribe()
        savings = routing_savings(records, llm.pricing)
    console.print(
        f"routing_savings: {savings.routed_calls} routed call cost ${savings.cost:.6f} "
        f"instead of ${savings.cost_if_capable:.6f} on {CAPABLE}: "
        f"${savings.saving:.6f} saved"
    )


__all__ = ["model_selection"]
