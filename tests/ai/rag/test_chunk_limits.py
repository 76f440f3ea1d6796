"""Chunks that fit the embedding model: limits, default sizes, counting, warnings."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import pytest

from ai.rag import (
    ChunkingConfig,
    ContextRetriever,
    EmbeddingService,
    VectorStore,
    VectorStoreConfig,
)
from ai.rag.chunk_limits import ChunkSizeWarning, InputLimit, hf_token_counter, input_limit_of
from ai.rag.chunking import chunk_documents
from ai.rag.ingest import IngestOptions
from tests.ai.rag.ingest_fakes import LimitedEmbedder

ROOT = Path(__file__).resolve().parents[3]
tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def minilm() -> InputLimit:
    limit = input_limit_of(EmbeddingService.local())
    if limit is None:
        pytest.skip("the packaged all-MiniLM-L6-v2 is not installed")
    return limit


def realistic_corpus() -> list[dict[str, str]]:
    """This repository's docs and RAG sources: prose, tables, code, long lines."""
    paths = sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "src/ai/rag").glob("*.py"))
    return [{"id": str(p), "text": p.read_text(encoding="utf-8")} for p in paths]


def test_the_local_model_reads_256_word_pieces_with_two_markers(minilm: InputLimit) -> None:
    assert (minilm.max_tokens, minilm.special_tokens, minilm.content_tokens) == (256, 2, 254)
    assert minilm.tokenizer is not None and minilm.tokenizer.endswith("tokenizer.json")
    assert minilm.default_overlap == 31
    config = ChunkingConfig.fitting(minilm)
    assert (config.chunk_size, config.chunk_overlap, config.tokenizer) == (
        254,
        31,
        minilm.tokenizer,
    )


def test_openai_models_read_8191_tokens() -> None:
    service = EmbeddingService(api_key="sk-test-key-for-limits-0000")
    limit = input_limit_of(service)
    assert limit == InputLimit(
        "text-embedding-3-small", 8191, encoding_model="text-embedding-3-small"
    )
    assert ChunkingConfig.fitting(limit).chunk_size == 8191  # type: ignore[arg-type]


def test_no_chunk_of_a_realistic_corpus_exceeds_the_model(minilm: InputLimit) -> None:
    documents = realistic_corpus()
    chunks = chunk_documents(documents, config=ChunkingConfig.fitting(minilm))
    assert len(chunks) > 100
    tokenizer = tokenizers.Tokenizer.from_file(minilm.tokenizer)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    encoded = tokenizer.encode_batch([c.text for c in chunks], add_special_tokens=True)
    sizes = [len(e.ids) for e in encoded]
    assert max(sizes) <= 256  # [CLS] + at most 254 + [SEP]: nothing silently truncated
    assert sum(size > 200 for size in sizes) > len(sizes) // 4  # and chunks are not tiny
    assert [c.token_count for c in chunks] == [size - 2 for size in sizes]  # exact counts


def test_counting_in_the_model_tokenizer_is_exact(minilm: InputLimit) -> None:
    counter = hf_token_counter(minilm.tokenizer)  # type: ignore[arg-type]
    text = "Tokenization of unbelievable naïveté: 東京 and emoji 🙂 count too."
    raw = tokenizers.Tokenizer.from_file(minilm.tokenizer)
    raw.no_padding()
    assert counter.count(text) == len(raw.encode(text, add_special_tokens=False).ids)
    [starts] = counter.starts_many([text])
    assert starts[0] == 0 and list(starts) == sorted(starts)
    config = ChunkingConfig(chunk_size=8, chunk_overlap=2, tokenizer=minilm.tokenizer)
    for chunk in chunk_documents([{"id": "t", "text": text * 5}], config=config):
        assert chunk.token_count == counter.count(chunk.text) <= 8


async def test_the_retriever_sizes_chunks_to_the_model_and_warns_past_it(
    minilm: InputLimit,
) -> None:
    store = VectorStore(VectorStoreConfig(store_type="memory"))
    embedder = LimitedEmbedder(minilm)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = ContextRetriever(embedder, store)
    assert fitted.chunking == ChunkingConfig.fitting(minilm)
    with pytest.warns(ChunkSizeWarning, match="exceeds what all-MiniLM-L6-v2 reads"):
        ContextRetriever(
            embedder, store, chunking=ChunkingConfig(chunk_size=300, tokenizer=minilm.tokenizer)
        )
    cl100k = ContextRetriever(embedder, store, chunking=ChunkingConfig(chunk_size=512))
    long_text = "Redis evicts keys under memory pressure. " * 200
    with pytest.warns(ChunkSizeWarning, match="chunks exceed what all-MiniLM-L6-v2 reads"):
        await cl100k.add_documents([{"id": "long", "text": long_text}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await fitted.add_documents([{"id": "long", "text": long_text}])
    await store.aclose()


def test_an_embedder_without_a_limit_keeps_the_old_default() -> None:
    class Plain:
        async def embed(self, texts: Sequence[str]) -> list[list[float]]:
            return [[1.0, 0.0] for _ in texts]

    store = VectorStore(VectorStoreConfig(store_type="memory"))
    assert input_limit_of(Plain()) is None
    assert ContextRetriever(Plain(), store).chunking == ChunkingConfig()


def test_ingest_options_count_in_the_model_tokens(minilm: InputLimit) -> None:
    options = IngestOptions()
    assert options.chunking(markdown=True, limit=minilm) == ChunkingConfig.fitting(
        minilm, markdown=True
    )
    assert options.chunking(markdown=False) == ChunkingConfig(markdown=False)
    assert options.chunking_key(markdown=True, limit=minilm) == (
        "tokens[all-MiniLM-L6-v2]:254/31/md"
    )
    small = IngestOptions(chunk_size=100)
    assert small.chunking(markdown=True, limit=minilm).chunk_overlap == 12
