"""`retrieve`'s pipeline on a fast deterministic embedder: defaults, fusion, the candidate
pool, MMR and the reranker seam."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from ai.errors import ConfigurationError
from ai.rag import ContextRetriever, VectorStore, VectorStoreConfig
from ai.rag.fusion import DEFAULT_FUSION, ReciprocalRankFusion
from ai.rag.reranking import RerankResult, best_first
from ai.rag.retriever import DEFAULT_MODE, SearchMode
from ai.rag.search import DEFAULT_FETCH_K, DEFAULT_MMR_LAMBDA
from ai.testing.embeddings import embed

WORDS = [
    "redis",
    "cache",
    "key",
    "expiry",
    "memory",
    "eviction",
    "postgres",
    "index",
    "query",
    "vector",
    "search",
    "bread",
    "starter",
    "flour",
    "water",
    "tide",
    "moon",
    "sea",
    "river",
    "boat",
    "engine",
    "retry",
    "backoff",
    "limit",
]


class HashEmbedder:
    """Deterministic vectors (the fake OpenAI server's), no model to load."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        return np.asarray([embed(text, 64) for text in texts], dtype=np.float32)


class ByLength:
    """A tiny deterministic reranker: shorter texts first; records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    async def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]:
        self.seen.append(list(documents))
        return best_first([1.0 / (1 + len(d)) for d in documents], top_n)


def corpus(count: int = 80) -> list[dict[str, str]]:
    rng = random.Random(7)
    return [
        {"id": f"d{i}", "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25)))}
        for i in range(count)
    ]


@pytest.fixture
async def retriever() -> AsyncIterator[ContextRetriever]:
    store = VectorStore(VectorStoreConfig(store_type="memory"))
    found = ContextRetriever(HashEmbedder(), store)
    await found.add_documents(corpus())
    yield found
    await store.aclose()


QUERIES = ("redis key expiry", "bread flour water", "retry backoff limit engine", "moon tide")


def test_defaults() -> None:
    assert DEFAULT_MODE is SearchMode.HYBRID
    assert DEFAULT_FETCH_K == 50
    assert DEFAULT_MMR_LAMBDA == 0.7


async def test_hybrid_mode_and_no_mmr_by_default(retriever: ContextRetriever) -> None:
    for query in QUERIES:
        default = await retriever.retrieve(query, top_k=10)
        assert default == await retriever.retrieve(query, top_k=10, mode="hybrid", mmr=False)
    assert retriever.fusion is DEFAULT_FUSION


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "vector"},
        {"mode": "bm25"},
        {"mode": "hybrid"},
        {"mode": "hybrid", "mmr": True},
        {"mode": "vector", "mmr": True, "mmr_lambda": 0.3},
        {"mode": "hybrid", "fetch_k": 25},
    ],
)
async def test_the_first_ten_do_not_depend_on_top_k(
    retriever: ContextRetriever, options: dict[str, object]
) -> None:
    for query in QUERIES:
        ten = await retriever.retrieve(query, top_k=10, **options)  # type: ignore[arg-type]
        twenty = await retriever.retrieve(query, top_k=20, **options)  # type: ignore[arg-type]
        assert [r.id for r in ten] == [r.id for r in twenty[:10]]
        assert len(twenty) == 20


async def test_mmr_reranks_a_pool_independent_of_top_k(retriever: ContextRetriever) -> None:
    store_query = retriever.vector_store.query
    depths: list[int] = []

    async def spy(*args: object, **kwargs: object) -> object:
        depths.append(int(kwargs["top_k"]))  # type: ignore[call-overload]
        return await store_query(*args, **kwargs)  # type: ignore[arg-type]

    retriever.vector_store.query = spy  # type: ignore[method-assign]
    await retriever.retrieve("redis", top_k=3, mmr=True)
    await retriever.retrieve("redis", top_k=12, mmr=True, fetch_k=30)
    await retriever.retrieve("redis", top_k=60, mmr=True, fetch_k=30)
    await retriever.retrieve("redis", top_k=3, mode="vector")
    assert depths == [DEFAULT_FETCH_K, 30, 60, 3]


async def test_mmr_diversifies_after_fusion(retriever: ContextRetriever) -> None:
    for query in QUERIES:
        plain = await retriever.retrieve(query, top_k=10)
        diverse = await retriever.retrieve(query, top_k=10, mmr=True, mmr_lambda=0.0)
        assert plain[0].id == (await retriever.retrieve(query, top_k=10, mmr=True))[0].id
        assert {r.id for r in diverse} != {r.id for r in plain}
        full = await retriever.retrieve(query, top_k=10, mmr=True, mmr_lambda=1.0)
        assert [r.id for r in full] == [r.id for r in plain]  # lambda 1: relevance alone


async def test_fusion_is_configurable(retriever: ContextRetriever) -> None:
    retriever.fusion = ReciprocalRankFusion(60)
    rrf = await retriever.retrieve("redis key expiry", top_k=5)
    assert all(0 < r.score <= 2 / 61 for r in rrf)


async def test_a_reranker_sees_the_fused_pool_and_decides_the_order(
    retriever: ContextRetriever,
) -> None:
    reranker = ByLength()
    retriever.reranker = reranker
    results = await retriever.retrieve("redis key expiry memory", top_k=5, fetch_k=20)
    [shown] = reranker.seen
    retriever.reranker = None
    fused = await retriever.retrieve("redis key expiry memory", top_k=20, fetch_k=20)
    assert shown == [r.text for r in fused]  # every fused candidate, in fused order
    retriever.reranker = reranker
    assert [len(r.text) for r in results] == sorted(len(r.text) for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    floor = (results[0].score + results[-1].score) / 2  # min_score: the reranker's score
    strict = await retriever.retrieve(
        "redis key expiry memory", top_k=5, fetch_k=20, min_score=floor
    )
    assert strict == [r for r in results if r.score >= floor] and 0 < len(strict) < 5


async def test_bad_search_settings_are_refused(retriever: ContextRetriever) -> None:
    with pytest.raises(ConfigurationError, match="mmr_lambda"):
        await retriever.retrieve("x", mmr=True, mmr_lambda=1.5)
    with pytest.raises(ConfigurationError, match="fetch_k"):
        await retriever.retrieve("x", fetch_k=0)
    with pytest.raises(ConfigurationError, match="fetch_k"):
        ContextRetriever(HashEmbedder(), retriever.vector_store, fetch_k=0)
    with pytest.raises(ValueError, match="nonsense"):
        await retriever.retrieve("x", mode="nonsense")
