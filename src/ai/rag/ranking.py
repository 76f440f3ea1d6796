"""Result fusion and diversification: reciprocal rank fusion and maximal marginal relevance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = 60
) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = sum of 1 / (k + rank), rank from 1. Best first.

    RRF needs no score calibration between BM25 and cosine, which is why hybrid search
    uses it; k=60 is the constant from Cormack et al. (2009).
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

    Each step takes argmax of `lambda * sim(q, d) - (1 - lambda) * max sim(d, chosen)`.
    Vectors are expected unit-normalised (cosine). Returns row indices in pick order.
    """
    if not 0 <= lambda_mult <= 1:
        raise ValueError(f"lambda_mult must be within [0, 1], got {lambda_mult}")
    count = len(candidates)
    if count == 0 or top_k < 1:
        return []
    relevance = candidates @ query
    similarity = candidates @ candidates.T
    chosen: list[int] = []
    redundancy = np.full(count, -np.inf, dtype=np.float32)
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
