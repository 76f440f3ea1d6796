"""ContextRetriever end to end with real local embeddings (all-MiniLM-L6-v2)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ai.accounting.tokens import count_tokens
from ai.errors import ConfigurationError, FilterError
from ai.rag import (
    ChunkingConfig,
    ContextRetriever,
    EmbeddingService,
    VectorStore,
    VectorStoreConfig,
    VectorStoreType,
    ndcg_at_k,
    recall_at_k,
)
from ai.rag.retriever import document_hash
from ai.testing import FakePineconeServer

LABELED = json.loads((Path(__file__).parent / "data" / "labeled_set.json").read_text())


@pytest.fixture(scope="module")
def local_embeddings() -> EmbeddingService:
    return EmbeddingService.local()


@pytest.fixture
async def retriever(local_embeddings: EmbeddingService) -> AsyncIterator[ContextRetriever]:
    store = VectorStore(VectorStoreConfig(store_type=VectorStoreType.MEMORY))
    yield ContextRetriever(local_embeddings, store)
    await store.aclose()


@pytest.fixture
async def labeled(retriever: ContextRetriever) -> ContextRetriever:
    await retriever.add_documents(LABELED["documents"])
    return retriever


async def test_chunks_carry_their_source_and_position(retriever: ContextRetriever) -> None:
    text = (
        "# Guide\n\n## Install\n\n"
        + "Install the package with pip. " * 80
        + "\n\n## Use\n\nCall it."
    )
    retriever.chunking = ChunkingConfig(chunk_size=64, chunk_overlap=8)
    report = await retriever.add_documents(
        [{"id": "guide", "text": text, "metadata": {"lang": "en"}}]
    )
    assert report.documents_added == 1 and report.chunks_written > 3
    results = await retriever.retrieve("how to call it", top_k=3)
    assert results
    for result in results:
        metadata = result.metadata
        assert result.source_id == "guide" and metadata["lang"] == "en"
        assert text[metadata["chunk_start"] : metadata["chunk_end"]] == result.text
        assert metadata["headings"][0] == "Guide"
    assert any(r.metadata["headings"][-1] == "Use" for r in results)


async def test_unchanged_documents_are_skipped_and_changed_ones_replaced(
    retriever: ContextRetriever,
) -> None:
    docs = [
        {"id": "a", "text": "Redis keeps keys in memory."},
        {"id": "b", "text": "Postgres stores rows."},
    ]
    first = await retriever.add_documents(docs)
    again = await retriever.add_documents(docs)
    assert (first.documents_added, again.documents_added, again.documents_unchanged) == (2, 0, 2)
    long_text = "Sourdough needs a starter. " * 200
    retriever.chunking = ChunkingConfig(chunk_size=32, chunk_overlap=0)
    await retriever.add_documents([{"id": "a", "text": long_text}])
    many = await retriever.vector_store.count(filter={"source_id": "a"})
    assert many > 3
    await retriever.add_documents([{"id": "a", "text": "Short again."}])
    assert await retriever.vector_store.count(filter={"source_id": "a"}) == 1  # no stale chunks
    [hit] = await retriever.retrieve("Short again.", top_k=1, filter={"source_id": "a"})
    assert hit.text == "Short again."
    keyword = await retriever.retrieve("sourdough starter", top_k=3, mode="bm25")
    assert not keyword  # the keyword index forgot the replaced chunks too


async def test_a_fresh_retriever_on_a_saved_store_knows_what_is_unchanged(
    local_embeddings: EmbeddingService, tmp_path: Path
) -> None:
    config = VectorStoreConfig(store_type="memory", persist_path=str(tmp_path / "v.npz"))
    store = VectorStore(config)
    await ContextRetriever(local_embeddings, store).add_documents(LABELED["documents"][:5])
    await store.aclose()
    reopened = VectorStore(config)
    report = await ContextRetriever(local_embeddings, reopened).add_documents(
        LABELED["documents"][:5]
    )
    assert report.documents_unchanged == 5 and report.chunks_written == 0
    await reopened.aclose()


async def test_the_store_decides_what_is_unchanged(
    local_embeddings: EmbeddingService, postgres_test_url: str
) -> None:
    """Two retrievers on one pgvector table, as two processes: each reads the hash the
    store holds, so neither trusts what it wrote itself earlier."""
    config = VectorStoreConfig(
        store_type="pgvector", connection_string=postgres_test_url, index_name="two"
    )
    async with VectorStore(config) as one_store, VectorStore(config) as other_store:
        one = ContextRetriever(local_embeddings, one_store)
        other = ContextRetriever(local_embeddings, other_store)
        v1 = [{"id": "doc", "text": "Version one: tides follow the Moon."}]
        await one.add_documents(v1)
        await other.add_documents([{"id": "doc", "text": "Version two: the sea level."}])
        again = await one.add_documents(v1)
        assert (again.documents_added, again.documents_unchanged) == (1, 0)
        assert (await one_store.fetch(["doc#0"]))["doc#0"].text == v1[0]["text"]
        # the other process's BM25 copy of version two is gone from the store: not found
        assert await other.retrieve("sea level", mode="bm25") == []
        assert (await other.add_documents(v1)).documents_unchanged == 1


async def test_a_document_deleted_from_the_store_is_gone_and_added_again(
    retriever: ContextRetriever,
) -> None:
    retriever.chunking = ChunkingConfig(chunk_size=8, chunk_overlap=0)
    text = "Alpha particles. Beta decay. Gamma rays pass through lead. Delta waves in sleep."
    first = await retriever.add_documents([{"id": "a", "text": text}])
    await retriever.add_documents([{"id": "b", "text": "Bread needs flour and water."}])
    await retriever.vector_store.delete_by_filter({"source_id": "a"})
    for query in ("gamma rays", "alpha beta delta sleep"):
        for mode in ("bm25", "hybrid"):
            found = await retriever.retrieve(query, top_k=5, mode=mode)
            assert all(r.source_id == "b" for r in found), (query, mode)
    again = await retriever.add_documents([{"id": "a", "text": text}])
    assert (again.documents_added, again.chunks_written) == (1, first.chunks_written)
    assert await retriever.vector_store.count(filter={"source_id": "a"}) == first.chunks_written
    [best] = await retriever.retrieve("gamma rays", top_k=1, mode="bm25")
    assert best.source_id == "a"


async def test_concurrent_adds_of_one_document_leave_one_whole_version(
    retriever: ContextRetriever,
) -> None:
    """Calls for one id take turns: the store and the keyword index end with the last
    one's chunks only, and adding that text again finds it unchanged."""
    retriever.chunking = ChunkingConfig(chunk_size=8, chunk_overlap=0)
    long = "Alpha beta gamma delta. " * 12
    reports = await asyncio.gather(
        *(
            retriever.add_documents([{"id": "x", "text": text}])
            for text in (long, "Omega.", long + "Epsilon.", "Omega.")
        )
    )
    assert [r.documents_added for r in reports] == [1, 1, 1, 1]
    stored = await retriever.vector_store.query(
        await retriever.embeddings.embed_query("Omega"), top_k=100, filter={"source_id": "x"}
    )
    assert [(m.id, m.text) for m in stored] == [("x#0", "Omega.")]
    assert retriever.keywords.ids_of_source("x") == ["x#0"]
    assert (await retriever.add_documents([{"id": "x", "text": "Omega."}])).documents_unchanged == 1


async def test_unchanged_documents_cost_one_fetch_per_batch(
    local_embeddings: EmbeddingService,
) -> None:
    docs = [{"id": f"d{i}", "text": f"Document number {i} about tides."} for i in range(5)]
    with FakePineconeServer(dimension=384, metric="cosine") as fake:
        config = VectorStoreConfig(store_type="pinecone", api_key=fake.api_key, index_host=fake.url)
        async with VectorStore(config) as store:
            retriever = ContextRetriever(local_embeddings, store, batch_size=2)
            await retriever.add_documents(docs)
            start = len(fake.requests)
            report = await retriever.add_documents(docs)
            assert report.documents_unchanged == 5
            assert [r.operation for r in fake.requests[start:]] == ["fetch"] * 3


async def test_a_lone_surrogate_is_stored_as_u_fffd(retriever: ContextRetriever) -> None:
    text = json.loads('"caf\\ud800 menu: soup of the day"')
    report = await retriever.add_documents([{"id": "menu", "text": text}])
    assert report.documents_added == 1
    [hit] = await retriever.retrieve("caf\ud800 menu", top_k=1)
    clean = "caf\ufffd menu: soup of the day"
    assert hit.text == clean == clean[hit.metadata["chunk_start"] : hit.metadata["chunk_end"]]
    assert hit.metadata["doc_hash"] == document_hash(clean) == document_hash(text)
    assert (await retriever.add_documents([{"id": "menu", "text": text}])).documents_unchanged == 1


async def test_bad_documents_are_rejected(retriever: ContextRetriever) -> None:
    with pytest.raises(ConfigurationError, match="'id'"):
        await retriever.add_documents([{"text": "no id"}])
    with pytest.raises(ConfigurationError, match="string 'text'"):
        await retriever.add_documents([{"id": "x", "text": None}])
    with pytest.raises(ConfigurationError, match="twice"):
        await retriever.add_documents([{"id": "x", "text": "a"}, {"id": "x", "text": "b"}])


async def test_vector_search_finds_paraphrases(labeled: ContextRetriever) -> None:
    [best] = await labeled.retrieve("how do I keep my bread starter alive", top_k=1)
    assert best.source_id == "sourdough"


async def test_keyword_search_finds_rare_identifiers(labeled: ContextRetriever) -> None:
    [best] = await labeled.retrieve("E2210", top_k=1, mode="bm25")
    assert best.source_id == "error-E2210"


async def test_hybrid_fuses_both(labeled: ContextRetriever) -> None:
    results = await labeled.retrieve("what does error E1042 mean", top_k=3, mode="hybrid")
    assert results[0].source_id == "error-E1042"
    assert results == sorted(results, key=lambda r: -r.score)


@pytest.mark.parametrize("query", ["the of", "???", ""])
async def test_hybrid_without_keyword_terms_gives_the_vector_results(
    labeled: ContextRetriever, query: str
) -> None:
    """Nothing left for BM25 (stop words, punctuation, nothing): hybrid has no keyword
    evidence and ranks like vector search."""
    vector = await labeled.retrieve(query, top_k=5, mode="vector")
    hybrid = await labeled.retrieve(query, top_k=5)
    assert await labeled.retrieve(query, top_k=5, mode="bm25") == []
    assert [r.id for r in hybrid] == [r.id for r in vector] and len(hybrid) == 5
    assert (await labeled.retrieve_and_format(query)).startswith("[1] (source: ")


async def test_filters_and_min_score(labeled: ContextRetriever) -> None:
    only = await labeled.retrieve("retry", top_k=5, filter={"source_id": {"$in": ["sse", "tides"]}})
    assert {r.source_id for r in only} <= {"sse", "tides"}
    strict = await labeled.retrieve(
        "how do I keep my bread starter alive", top_k=5, min_score=0.5, mode="vector"
    )
    assert [r.source_id for r in strict] == ["sourdough"]
    with pytest.raises(FilterError):
        await labeled.retrieve("x", filter={"year": {"$gt": "soon"}})


async def test_mmr_diversifies(retriever: ContextRetriever) -> None:
    near_duplicates = [
        {
            "id": f"dup{i}",
            "text": f"Redis evicts least recently used keys when memory is full ({i}).",
        }
        for i in range(4)
    ]
    other = {"id": "ttl", "text": "Redis keys can expire after a time to live set with PX."}
    await retriever.add_documents([*near_duplicates, other])
    plain = await retriever.retrieve("Redis memory and key expiry", top_k=2, mode="vector")
    diverse = await retriever.retrieve(
        "Redis memory and key expiry", top_k=2, mode="vector", mmr=True, mmr_lambda=0.2
    )
    assert all(r.source_id.startswith("dup") for r in plain)
    assert {r.source_id for r in diverse} & {"ttl"}


async def test_retrieve_and_format_fits_the_budget(labeled: ContextRetriever) -> None:
    context = await labeled.retrieve_and_format("retries and rate limits", max_tokens=120, top_k=5)
    assert context.startswith("[1] (source: ")
    assert count_tokens(context, "gpt-4o-mini").tokens <= 120
    roomy = await labeled.retrieve_and_format("retries and rate limits", max_tokens=4000, top_k=3)
    assert "[3] (source: " in roomy and "[4]" not in roomy


async def test_retrieval_quality_on_the_labeled_set(labeled: ContextRetriever) -> None:
    scores: dict[str, dict[str, float]] = {}
    for mode in ("vector", "bm25", "hybrid"):
        recalls, ndcgs = [], []
        for item in LABELED["queries"]:
            results = await labeled.retrieve(item["query"], top_k=10, mode=mode)
            ranked = list(dict.fromkeys(r.source_id for r in results))
            recalls.append(recall_at_k(ranked, item["relevant"], 5))
            ndcgs.append(ndcg_at_k(ranked, item["relevant"], 10))
        scores[mode] = {"recall@5": sum(recalls) / len(recalls), "ndcg@10": sum(ndcgs) / len(ndcgs)}
    # Floors a little under the measured values (docs/rag.md): a regression fails here.
    assert scores["vector"]["recall@5"] >= 0.85, scores
    assert scores["hybrid"]["recall@5"] >= 0.85, scores
    assert scores["bm25"]["recall@5"] >= 0.5, scores
    assert scores["hybrid"]["ndcg@10"] >= scores["bm25"]["ndcg@10"], scores
    # the default hybrid (docs/rag.md, "Choosing the defaults") is not below its better leg
    assert scores["hybrid"]["ndcg@10"] >= scores["vector"]["ndcg@10"], scores
    assert scores["bm25"]["ndcg@10"] >= 0.8, scores  # stemming: 0.747 before, 0.857 after


async def test_quick_start_2_with_the_local_model() -> None:
    embeddings = EmbeddingService.local()
    vector_store = VectorStore(VectorStoreConfig(store_type=VectorStoreType.MEMORY))
    retriever = ContextRetriever(embeddings, vector_store)
    documents = [
        {"id": "1", "text": "Python is a programming language"},
        {"id": "2", "text": "JavaScript runs in browsers"},
    ]
    await retriever.add_documents(documents)
    context = await retriever.retrieve_and_format("Tell me about Python")
    assert context.startswith("[1] (source: 1)") and "Python is a programming language" in context


async def test_pgvector_backed_retrieval(
    local_embeddings: EmbeddingService, postgres_test_url: str
) -> None:
    config = VectorStoreConfig(
        store_type="pgvector", connection_string=postgres_test_url, index_name="rag_test"
    )
    async with VectorStore(config) as store:
        retriever = ContextRetriever(local_embeddings, store)
        await retriever.add_documents(LABELED["documents"])
        [best] = await retriever.retrieve("why is the sea level higher at some hours", top_k=1)
        again = await retriever.add_documents(LABELED["documents"])
    assert best.source_id == "tides" and again.documents_unchanged == len(LABELED["documents"])
