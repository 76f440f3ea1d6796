"""Fusing the vector and BM25 result lists of hybrid search into one ranking.

Two families, both from the literature and both measured on our benchmark sets
(docs/rag.md, "Choosing the defaults"):

- `ReciprocalRankFusion` (Cormack et al. 2009): ``sum_i w_i / (k + rank_i)``. Needs no
  score calibration, but throws the scores away: a document far ahead in one list counts
  no more than one barely ahead.
- `ConvexCombination` (Bruch, Gai and Ingber 2023, "An Analysis of Fusion Functions for
  Hybrid Retrieval"): ``alpha * vector + (1 - alpha) * bm25`` over scores normalised to
  [0, 1], either by the list's own minimum and maximum (`Normalization.MIN_MAX`) or by the
  scoring function's theoretical minimum and the list's maximum
  (`Normalization.THEORETICAL_MIN`, their "TM2C2"). A document missing from a list gets 0
  there.

Every fusion takes `ScoredList`s, one per leg, in a fixed order (vector first, then
BM25, in `ContextRetriever`), and returns ``(id, score)`` pairs, best first, ties broken
by id, so the result depends only on the scores, never on how the input was ordered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "DEFAULT_FUSION",
    "ConvexCombination",
    "Fusion",
    "Normalization",
    "ReciprocalRankFusion",
    "ScoredList",
]


@dataclass(frozen=True, slots=True)
class ScoredList:
    """One leg's results: ids with scores (higher is better), and the lowest score its
    scoring function can give (-1 for cosine similarity, 0 for BM25)."""

    ids: Sequence[str]
    scores: Sequence[float]
    floor: float = 0.0

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.scores):
            raise ValueError(f"{len(self.ids)} ids but {len(self.scores)} scores.")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("an id appears twice in one result list.")

    def ranked(self) -> list[tuple[str, float]]:
        """(id, score), best first, ties broken by id."""
        return sorted(zip(self.ids, self.scores, strict=True), key=lambda p: (-p[1], p[0]))


class Fusion(Protocol):
    """Turns several result lists into one ranking."""

    def fuse(self, legs: Sequence[ScoredList]) -> list[tuple[str, float]]:
        """(id, fused score), best first; every id of every leg appears once."""
        ...


@dataclass(frozen=True, slots=True)
class ReciprocalRankFusion:
    """``score(id) = sum_i weights[i] / (k + rank_i(id))``, rank from 1 within each leg.

    `weights` defaults to 1 for every leg. Scores lie in ``(0, sum(weights) / (k + 1)]``.
    """

    k: int = 60
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}.")
        if self.weights is not None and any(w < 0 for w in self.weights):
            raise ValueError(f"weights must be >= 0, got {self.weights}.")

    def fuse(self, legs: Sequence[ScoredList]) -> list[tuple[str, float]]:
        weights = _weights(self.weights, len(legs))
        scores: dict[str, float] = {}
        for leg, weight in zip(legs, weights, strict=True):
            for rank, (id, _) in enumerate(leg.ranked(), start=1):
                scores[id] = scores.get(id, 0.0) + weight / (self.k + rank)
        return _best_first(scores)


class Normalization(StrEnum):
    """How a leg's scores are mapped to [0, 1] before a convex combination."""

    MIN_MAX = "min-max"
    """``(s - min) / (max - min)`` over the list: the worst listed document gets 0."""
    THEORETICAL_MIN = "theoretical-min"
    """``(s - floor) / (max - floor)``: the scoring function's own floor gets 0, so a
    score keeps its meaning however long the list is (Bruch et al.'s TM2C2)."""


@dataclass(frozen=True, slots=True)
class ConvexCombination:
    """``alpha * vector + (1 - alpha) * bm25`` over normalised scores, in [0, 1].

    With more than two legs, `alpha` weighs the first and the rest share ``1 - alpha``.
    """

    alpha: float = 0.5
    normalization: Normalization = Normalization.THEORETICAL_MIN

    def __post_init__(self) -> None:
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}.")
        object.__setattr__(self, "normalization", Normalization(self.normalization))

    def fuse(self, legs: Sequence[ScoredList]) -> list[tuple[str, float]]:
        if not legs:
            return []
        rest = (1 - self.alpha) / (len(legs) - 1) if len(legs) > 1 else 0.0
        weights = [self.alpha if len(legs) > 1 else 1.0] + [rest] * (len(legs) - 1)
        scores: dict[str, float] = {}
        for leg, weight in zip(legs, weights, strict=True):
            for id, value in zip(leg.ids, self._normalised(leg), strict=True):
                scores[id] = scores.get(id, 0.0) + weight * value
        return _best_first({id: min(1.0, max(0.0, value)) for id, value in scores.items()})

    def _normalised(self, leg: ScoredList) -> list[float]:
        if not leg.scores:
            return []
        high = max(leg.scores)
        low = min(leg.scores) if self.normalization is Normalization.MIN_MAX else leg.floor
        low = min(low, min(leg.scores))  # a score under the stated floor still maps to >= 0
        span = high - low
        if span <= 0:
            return [1.0] * len(leg.scores)
        return [(score - low) / span for score in leg.scores]


def _weights(weights: tuple[float, ...] | None, count: int) -> tuple[float, ...]:
    if weights is None:
        return (1.0,) * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} weights for {count} result lists.")
    return weights


def _best_first(scores: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


DEFAULT_FUSION: Fusion = ConvexCombination(0.8, Normalization.THEORETICAL_MIN)
"""Hybrid search's fusion unless `ContextRetriever(fusion=...)` says otherwise: chosen on
five collections (docs/rag.md, "Choosing the defaults") as the one that ties or beats the
better list wherever the embedding model reads the language, with the best recall@100."""
