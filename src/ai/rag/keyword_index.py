"""BM25 keyword search over the same chunks the vector store holds (bm25s underneath).

The index is rebuilt lazily on the first search after a change: bm25s indexes a whole
corpus at once (sparse matrices), which is much faster than maintaining scores per add.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ai.rag.filters import Filter, matches


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """A chunk found by keywords, with its BM25 score (higher is better)."""

    id: str
    score: float
    text: str
    metadata: Mapping[str, Any]


class KeywordIndex:
    """Chunks by id; `search` ranks them by BM25 for a query, optionally filtered."""

    def __init__(self, stopwords: str | None = "en") -> None:
        self._texts: dict[str, str] = {}
        self._metadata: dict[str, Mapping[str, Any]] = {}
        self._stopwords = stopwords
        self._ids: list[str] = []
        self._model: Any = None

    def __len__(self) -> int:
        return len(self._texts)

    def add(self, id: str, text: str, metadata: Mapping[str, Any]) -> None:
        """Add or replace one chunk."""
        self._texts[id] = text
        self._metadata[id] = dict(metadata)
        self._model = None

    def remove(self, ids: Iterable[str]) -> None:
        """Forget chunks (unknown ids are ignored)."""
        for id in ids:
            if self._texts.pop(id, None) is not None:
                self._metadata.pop(id, None)
                self._model = None

    def ids_of_source(self, source_id: str) -> list[str]:
        """Ids of the chunks cut from one document."""
        return [id for id, md in self._metadata.items() if md.get("source_id") == source_id]

    def items(self) -> list[tuple[str, str, Mapping[str, Any]]]:
        """(id, text, metadata) of every chunk, for persistence."""
        return [(id, self._texts[id], self._metadata[id]) for id in self._texts]

    def search(self, query: str, k: int, filter: Filter | None = None) -> list[KeywordHit]:
        """The `k` best chunks by BM25 with a positive score, best first."""
        if not self._texts or k < 1:
            return []
        model = self._ensure_model()
        import bm25s

        tokens = bm25s.tokenize([query], stopwords=self._stopwords, show_progress=False)
        mask = None
        if filter is not None:
            mask = np.fromiter(
                (matches(filter, self._metadata[id]) for id in self._ids),
                dtype=bool,
                count=len(self._ids),
            )
            if not mask.any():
                return []
            mask = mask.astype(np.float32)
        k = min(k, len(self._ids))
        rows, scores = model.retrieve(tokens, k=k, show_progress=False, weight_mask=mask)
        hits = []
        for row, score in zip(rows[0], scores[0], strict=True):
            if score <= 0:
                continue
            id = self._ids[int(row)]
            hits.append(KeywordHit(id, float(score), self._texts[id], self._metadata[id]))
        return hits

    def _ensure_model(self) -> Any:
        if self._model is None:
            import bm25s

            self._ids = list(self._texts)
            corpus = bm25s.tokenize(
                [self._texts[id] for id in self._ids],
                stopwords=self._stopwords,
                show_progress=False,
            )
            model = bm25s.BM25()
            model.index(corpus, show_progress=False)
            self._model = model
        return self._model
