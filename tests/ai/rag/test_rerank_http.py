"""`HttpReranker` against the loopback fake of the Cohere/Jina rerank API, and in a
retriever."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from ai.calls.retry import ExponentialBackoff, RetryPolicy
from ai.core.clock import FakeClock
from ai.errors import (
    AuthenticationError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
)
from ai.rag import ContextRetriever, VectorStore, VectorStoreConfig
from ai.rag.rerank_http import HttpReranker
from ai.testing import FakeProviderServer, Fault
from ai.testing.embeddings import embed

DOCUMENTS = [
    "Tides rise and fall because of the moon.",
    "Redis expires keys after their time to live.",
    "Set a time to live on a Redis key with EXPIRE.",
    "Sourdough starters need flour and water.",
]
QUICK = RetryPolicy(max_retries=2, backoff=ExponentialBackoff(initial=0.5, jitter=0))


def reranker(fake: FakeProviderServer, **options: object) -> HttpReranker:
    settings: dict[str, object] = {
        "base_url": fake.base_url,
        "model": "rerank-v3.5",
        "api_key": fake.api_key,
        "retry": QUICK,
        "clock": FakeClock(),
    }
    return HttpReranker(**(settings | options))  # type: ignore[arg-type]


async def test_scores_come_back_best_first(fake: FakeProviderServer) -> None:
    client = reranker(fake)
    results = await client.rerank("redis key time to live", DOCUMENTS)
    assert {r.index for r in results[:2]} == {1, 2}
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    top = await client.rerank("redis key time to live", DOCUMENTS, top_n=1)
    assert top == results[:1]
    [sent] = [r for r in fake.requests if r.path == "/v1/rerank"][-1:]
    assert sent.body == {
        "model": "rerank-v3.5",
        "query": "redis key time to live",
        "documents": DOCUMENTS,
        "top_n": 1,
    }
    assert await client.rerank("anything", []) == []
    await client.aclose()


async def test_errors_are_typed(fake: FakeProviderServer) -> None:
    with pytest.raises(AuthenticationError) as denied:
        await reranker(fake, api_key="wrong-key").rerank("q", DOCUMENTS)
    assert denied.value.status == 401 and "invalid api token" in str(denied.value)
    with pytest.raises(ModelNotFoundError):
        await reranker(fake, model="rerank-nonexistent").rerank("q", DOCUMENTS)
    with pytest.raises(ProviderConnectionError):
        await HttpReranker(base_url="http://127.0.0.1:9", model="m", retry=QUICK).rerank(
            "q", DOCUMENTS
        )


async def test_retryable_failures_are_retried(fake: FakeProviderServer) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=1), api="rerank")
    fake.faults.push(Fault.server_error(503), api="rerank")
    clock = FakeClock()
    results = await reranker(fake, clock=clock).rerank("redis", DOCUMENTS)
    assert len(results) == 4 and clock.monotonic() >= 1.0  # waited Retry-After on the clock
    for _ in range(3):
        fake.faults.push(Fault.rate_limit(retry_after=0), api="rerank")
    with pytest.raises(RateLimitError):
        await reranker(fake).rerank("redis", DOCUMENTS)
    fake.faults.push(Fault.disconnect(), api="rerank")
    assert len(await reranker(fake).rerank("redis", DOCUMENTS)) == 4


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"results": "no"}',
        b'{"results": [{"index": 9, "relevance_score": 0.5}]}',
        b'{"results": [{"index": 0, "relevance_score": "high"}]}',
        b'{"results": [{"index": 0, "relevance_score": 1}, {"index": 0, "relevance_score": 1}]}',
    ],
)
async def test_answers_outside_the_format_are_invalid_responses(body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with httpx.AsyncClient(transport=transport) as http:
        client = HttpReranker(
            base_url="https://rerank.example", model="m", http_client=http, retry=QUICK
        )
        with pytest.raises(InvalidResponseError):
            await client.rerank("q", DOCUMENTS[:2])


async def test_a_client_error_is_not_retried() -> None:
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"detail": "query is too long"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = HttpReranker(
            base_url="https://api.jina.ai",
            model="jina-reranker-v2",
            api_key="jina_k",
            http_client=http,
        )
        with pytest.raises(ProviderError, match="query is too long") as refused:
            await client.rerank("q", DOCUMENTS)
    assert len(calls) == 1 and refused.value.status == 400 and not refused.value.retryable
    assert str(calls[0].url) == "https://api.jina.ai/v1/rerank"
    assert calls[0].headers["authorization"] == "Bearer jina_k"


class HashEmbedder:
    async def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray([embed(t, 32) for t in texts], dtype=np.float32)


async def test_a_retriever_reranks_through_http(fake: FakeProviderServer) -> None:
    store = VectorStore(VectorStoreConfig(store_type="memory"))
    retriever = ContextRetriever(HashEmbedder(), store, reranker=reranker(fake))
    await retriever.add_documents([{"id": str(i), "text": t} for i, t in enumerate(DOCUMENTS)])
    results = await retriever.retrieve("redis key time to live", top_k=2)
    assert {r.source_id for r in results} == {"1", "2"}
    [sent] = [r for r in fake.requests if r.path == "/v1/rerank"]
    assert len(sent.body["documents"]) == 4  # the whole (small) candidate pool
    await store.aclose()
