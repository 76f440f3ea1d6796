"""BM25 keyword search over the same chunks the vector store holds (bm25s underneath).

Text is lower-cased, split into words of two or more letters or digits, stripped of the
language's stop words and reduced to stems by the Snowball stemmer (PyStemmer), so
"runs", "running" and "run" meet, and "the" or "of" never decide a ranking. Both are on by
default for English (`BM25Config`); they gained 0.03-0.04 nDCG@10 on our benchmark sets
(docs/rag.md).

The index is rebuilt lazily on the first search after a change: bm25s indexes a whole
corpus at once (sparse matrices), which is much faster than maintaining scores per add.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ai.errors import ConfigurationError
from ai.rag.filters import Filter, matches

__all__ = ["BM25Config", "KeywordHit", "KeywordIndex"]

_STOPWORD_LANGUAGES = frozenset(
    {
        "english", "german", "dutch", "french", "spanish", "portuguese", "italian", "russian",
        "swedish", "norwegian", "turkish", "danish",
    }
)  # fmt: skip
"""Snowball languages whose stop-word list bm25s ships (NLTK's lists)."""


@dataclass(frozen=True, slots=True)
class BM25Config:
    """How BM25 reads text: language, stemming, stop words, and the BM25 constants.

    - `language`: a Snowball stemmer name (``"english"``, ``"german"``, ``"french"``,
      ``"arabic"``... all of ``Stemmer.algorithms()``).
    - `stemming`: reduce words to their stems (False: match exact word forms).
    - `stopwords`: True drops the language's stop words where bm25s has a list for it
      (English, German, Dutch, French, Spanish, Portuguese, Italian, Russian, Swedish,
      Norwegian, Turkish, Danish; none otherwise), False keeps every word, a tuple of
      words is your own list.
    - `k1`, `b`: BM25's term-frequency saturation and length normalisation (Lucene's
      defaults).

    ``BM25Config(stemming=False, stopwords=False)`` is plain lower-cased words.
    """

    language: str = "english"
    stemming: bool = True
    stopwords: bool | tuple[str, ...] = True
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self) -> None:
        if self.stemming and self.language not in _stemmer_languages():
            raise ConfigurationError(
                f"no Snowball stemmer for language {self.language!r}: use one of "
                f"{', '.join(sorted(_stemmer_languages()))}, or stemming=False."
            )
        if not isinstance(self.stopwords, bool):
            words = tuple(self.stopwords)
            if not all(isinstance(word, str) for word in words):
                raise ConfigurationError("stopwords must be True, False or a tuple of words.")
            object.__setattr__(self, "stopwords", words)
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ConfigurationError(
                f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}."
            )

    def stopword_list(self) -> list[str]:
        """The words dropped from documents and queries."""
        if self.stopwords is False:
            return []
        if self.stopwords is True:
            if self.language not in _STOPWORD_LANGUAGES:
                return []
            from bm25s.tokenization import _infer_stopwords

            return list(_infer_stopwords(self.language))
        return [word.lower() for word in self.stopwords]

    def stemmer(self) -> Callable[[list[str]], list[str]] | None:
        """The stemmer applied to every word, or None."""
        return _stemmer(self.language) if self.stemming else None


@functools.cache
def _stemmer_languages() -> frozenset[str]:
    import Stemmer

    return frozenset(Stemmer.algorithms())


@functools.cache
def _stemmer(language: str) -> Callable[[list[str]], list[str]]:
    import Stemmer

    stem: Callable[[list[str]], list[str]] = Stemmer.Stemmer(language).stemWords
    return stem


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """A chunk found by keywords, with its BM25 score (higher is better)."""

    id: str
    score: float
    text: str
    metadata: Mapping[str, Any]


class KeywordIndex:
    """Chunks by id; `search` ranks them by BM25 for a query, optionally filtered."""

    def __init__(self, config: BM25Config | None = None) -> None:
        self.config = config or BM25Config()
        self._texts: dict[str, str] = {}
        self._metadata: dict[str, Mapping[str, Any]] = {}
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

    def tokens(self, text: str) -> list[str]:
        """The terms BM25 sees in `text` (after stop words and stemming)."""
        import bm25s

        config = self.config
        [terms] = bm25s.tokenize(
            [text],
            stopwords=config.stopword_list(),
            stemmer=config.stemmer(),
            return_ids=False,
            show_progress=False,
        )
        return list(terms)

    def search(self, query: str, k: int, filter: Filter | None = None) -> list[KeywordHit]:
        """The `k` best chunks by BM25 with a positive score, best first."""
        terms = self.tokens(query)
        if not self._texts or k < 1 or not terms:
            return []
        model = self._ensure_model()
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
        rows, scores = model.retrieve([terms], k=k, show_progress=False, weight_mask=mask)
        hits = []
        for row, score in zip(rows[0], scores[0], strict=True):
            if score <= 0:
                continue
            id = self._ids[int(row)]
            hits.append(KeywordHit(id, float(score), self._texts[id], self._metadata[id]))
        return hits

    def scores_for(self, query: str, ids: Iterable[str]) -> dict[str, float]:
        """BM25 scores of the given chunks for `query` (0 where no term matches; unknown
        ids are left out): how hybrid search scores a vector hit BM25 did not list.

        A query with no terms left (only stop words or punctuation, or empty) scores 0
        everywhere: bm25s cannot score an empty query."""
        wanted = [id for id in ids if id in self._texts]
        if not wanted:
            return {}
        terms = self.tokens(query)
        if not terms:
            return dict.fromkeys(wanted, 0.0)
        model = self._ensure_model()
        scores = model.get_scores(terms)
        row = {id: index for index, id in enumerate(self._ids)}
        return {id: float(scores[row[id]]) for id in wanted}

    def _ensure_model(self) -> Any:
        if self._model is None:
            import bm25s

            config = self.config
            self._ids = list(self._texts)
            corpus = bm25s.tokenize(
                [self._texts[id] for id in self._ids],
                stopwords=config.stopword_list(),
                stemmer=config.stemmer(),
                show_progress=False,
            )
            model = bm25s.BM25(k1=config.k1, b=config.b)
            model.index(corpus, show_progress=False)
            self._model = model
        return self._model
