"""Reciprocal rank fusion of id lists, and maximal marginal relevance (MMR) for diversity.

`ai.rag.fusion` holds the score-aware fusions hybrid search chooses from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = 60
) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum of 1 / (k + rank), rank from 1. Best first.

    k=60 is the constant from Cormack et al. (2009). Hybrid search fuses scored lists
    with `ai.rag.fusion` instead (`ReciprocalRankFusion` there is this, weighted).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, id in enumerate(ranking, start=1):
            scores[id] = scores.get(id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def maximal_marginal_relevance(
    query: npt.NDArray[np.float32],
    candidates: npt.NDArray[np.float32],
    top_k: int,
    lambda_mult: float = 0.5,
) -> list[int]:
    """Pick `top_k` candidate rows balancing relevance to the query against redundancy.

    Each step takes argmax of `lambda * sim(q, d) - (1 - lambda) * max sim(d, chosen)`
    (LangChain's `maximal_marginal_relevance`). Vectors are expected unit-normalised
    (cosine). Returns row indices in pick order.
    """
    if len(candidates) == 0:
        return []
    return mmr_select(candidates @ query, candidates, top_k, lambda_mult)


def mmr_select(
    relevance: npt.NDArray[np.floating[Any]],
    candidates: npt.NDArray[np.float32],
    top_k: int,
    lambda_mult: float = 0.5,
) -> list[int]:
    """MMR over given relevance scores: `top_k` row indices of `candidates`, in pick order.

    Each step takes argmax of `lambda * relevance[d] - (1 - lambda) * max sim(d, chosen)`,
    with cosine similarity between unit-normalised `candidates` rows. Greedy, so the
    first n picks are the same whatever `top_k` is. Ties go to the earlier row.
    """
    if not 0 <= lambda_mult <= 1:
        raise ValueError(f"lambda_mult must be within [0, 1], got {lambda_mult}")
    count = len(candidates)
    if count == 0 or top_k < 1:
        return []
    relevance = np.asarray(relevance, dtype=np.float64)
    similarity = candidates @ candidates.T
    chosen: list[int] = []
    redundancy = np.full(count, -np.inf, dtype=np.float64)
    available = np.ones(count, dtype=bool)
    for _ in range(min(top_k, count)):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        scores = lambda_mult * relevance - (1 - lambda_mult) * penalty
        scores = np.where(available, scores, -np.inf)
        pick = int(np.argmax(scores))
        chosen.append(pick)
        available[pick] = False
        redundancy = np.maximum(redundancy, similarity[pick])
    return chosen
