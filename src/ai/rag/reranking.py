"""Rerankers: a second, slower model that re-scores the candidates retrieval found.

A `Reranker` sees the query and the texts of hybrid search's fused candidates (the
whole `fetch_k` pool) and returns a relevance score for each; `ContextRetriever` then
orders the candidates by those scores, before MMR and the `top_k` cut. Two are built in:

- `CrossEncoderReranker`: a sentence-transformers cross-encoder on this machine (needs the
  `local` extra and a model folder; none is packaged, so pass a path);
- `ai.rag.rerank_http.HttpReranker`: a hosted reranker speaking the Cohere/Jina
  ``POST /v1/rerank`` format.

Anything with an async `rerank(query, documents, top_n)` method is a reranker.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ai.errors import ConfigurationError

__all__ = ["CrossEncoderReranker", "RerankResult", "Reranker", "best_first"]

_INSTALL_HINT = "pip install 'devora-ai[local]'"


@dataclass(frozen=True, slots=True)
class RerankResult:
    """The score a reranker gave ``documents[index]`` (higher is more relevant)."""

    index: int
    score: float


class Reranker(Protocol):
    """Scores documents against a query."""

    async def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]:
        """Results best first, at most `top_n` of them (all when None)."""
        ...


def best_first(scores: Sequence[float], top_n: int | None) -> list[RerankResult]:
    """`RerankResult`s for `scores` by index, best first (ties keep input order), cut at
    `top_n`."""
    order = sorted(range(len(scores)), key=lambda index: (-scores[index], index))
    if top_n is not None:
        order = order[:top_n]
    return [RerankResult(index, float(scores[index])) for index in order]


class CrossEncoderReranker:
    """A sentence-transformers `CrossEncoder` from a local folder, run in a worker thread.

    The model loads on first use (torch is imported then, not before). `max_length`
    caps query plus document in the model's tokens (the model's own limit by default).
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}.")
        self.model = str(model)
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self._loaded: Any = None
        self._lock = threading.Lock()

    async def rerank(
        self, query: str, documents: Sequence[str], top_n: int | None = None
    ) -> list[RerankResult]:
        """Cross-encoder scores of (query, document) pairs, best first."""
        if not documents:
            return []
        scores = await asyncio.to_thread(self._predict, query, list(documents))
        return best_first(scores, top_n)

    def _predict(self, query: str, documents: list[str]) -> list[float]:
        model = self._load()
        scores = model.predict(
            [(query, document) for document in documents],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [float(score) for score in scores]

    def _load(self) -> Any:
        with self._lock:
            if self._loaded is None:
                self._loaded = load_cross_encoder(self.model, self.device, self.max_length)
            return self._loaded


def load_cross_encoder(model: str, device: str, max_length: int | None) -> Any:
    """A `CrossEncoder` from the folder `model`, without the network."""
    if not Path(model).is_dir():
        raise ConfigurationError(
            f"cross-encoder model {model!r} is not a folder: no cross-encoder is packaged "
            "offline, so save one (e.g. `CrossEncoder(name).save(path)` where a network is "
            "available) and pass its path."
        )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ai.rag.embedding_backends.local import quiet_load

    with quiet_load():
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as error:
            raise ImportError(
                f"CrossEncoderReranker needs sentence-transformers: {_INSTALL_HINT}"
            ) from error
        try:
            return CrossEncoder(model, device=device, max_length=max_length, local_files_only=True)
        except (OSError, ValueError) as error:
            raise ConfigurationError(
                f"could not load the cross-encoder in {model} ({error})."
            ) from error
