"""The stages of `ContextRetriever.retrieve` after the first lists are found.

    vector hits ─┐
                 ├─ fuse (hybrid) ─ rerank (optional) ─ MMR (optional) ─ cut to top_k
    BM25 hits ───┘

Every stage works on a candidate pool whose size does not depend on `top_k` (`fetch_k`,
or `top_k` when that is larger), and each stage is prefix-stable (fusion and reranking
sort, MMR picks greedily), so the first 10 results are the same whether 10 or 20 are
asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ai.rag.fusion import Fusion, ScoredList
from ai.rag.keyword_index import KeywordHit, KeywordIndex
from ai.rag.ranking import mmr_select
from ai.rag.reranking import Reranker
from ai.rag.types import DistanceMetric, Match, Vector, VectorRecord
from ai.rag.vector_store import VectorStore

__all__ = [
    "DEFAULT_FETCH_K",
    "DEFAULT_MMR_LAMBDA",
    "RetrievedChunk",
    "complete",
    "diversify",
    "from_keyword",
    "from_match",
    "fuse",
    "rerank",
    "score_floor",
    "vector_score",
]

DEFAULT_FETCH_K = 50
"""Candidates per list for hybrid fusion, reranking and MMR (LangChain's `fetch_k`)."""
DEFAULT_MMR_LAMBDA = 0.7
"""MMR's weight on relevance against redundancy (1 = no diversification)."""

_FLOORS = {DistanceMetric.COSINE: -1.0, DistanceMetric.DOT: -1.0, DistanceMetric.EUCLIDEAN: -2.0}


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    """One retrieved chunk: its text, where it came from, and its score in that mode."""

    id: str
    text: str
    score: float
    source_id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


def from_keyword(hit: KeywordHit) -> RetrievedChunk:
    """A BM25 hit as a result."""
    return RetrievedChunk(
        hit.id, hit.text, hit.score, str(hit.metadata.get("source_id", "")), hit.metadata
    )


def from_match(match: Match) -> RetrievedChunk:
    """A vector-store match as a result."""
    return RetrievedChunk(
        match.id,
        match.text or "",
        match.score,
        str(match.metadata.get("source_id", "")),
        match.metadata,
    )


def score_floor(metric: DistanceMetric) -> float:
    """The lowest score a store gives unit vectors under `metric` (cosine and dot -1,
    negated Euclidean distance -2): the vector list's floor for `ConvexCombination`."""
    return _FLOORS[metric]


def vector_score(metric: DistanceMetric, query: Vector, values: Vector) -> float:
    """The score a store gives `values` for `query` under `metric` (higher is closer)."""
    if metric is DistanceMetric.COSINE:
        wide, other = query.astype(np.float64), values.astype(np.float64)  # no overflow
        norms = float(np.linalg.norm(wide) * np.linalg.norm(other))
        return float(wide @ other) / norms if norms > 0 else 0.0
    if metric is DistanceMetric.DOT:
        return float(query @ values)
    return -float(np.linalg.norm(query - values))


async def complete(
    store: VectorStore,
    namespace: str | None,
    keywords: KeywordIndex,
    query: str,
    query_vector: Vector,
    vector_hits: Sequence[RetrievedChunk],
    keyword_hits: Sequence[RetrievedChunk],
    stored: Mapping[str, VectorRecord] | None = None,
) -> tuple[list[RetrievedChunk], list[RetrievedChunk]]:
    """Both lists extended to every candidate of either, with that list's own score.

    A chunk only BM25 found gets its cosine from its stored vector (taken from `stored`
    when there, the rest fetched: at most one call); a
    chunk only the vector search found gets its BM25 score, if it shares a term with the
    query (a chunk that shares none stays out of the BM25 list, as in `search`). Fusion
    then compares every candidate on both scores, instead of counting a missing one as
    that list's worst, which sank the right answer whenever one list was weak (an
    English embedding model on Arabic text; docs/rag.md).
    """
    metric = store.config.metric
    seen_vector = {hit.id for hit in vector_hits}
    only_keyword = [hit for hit in keyword_hits if hit.id not in seen_vector]
    known = dict(stored or {})
    missing = [hit.id for hit in only_keyword if hit.id not in known]
    if missing:
        known.update(await store.fetch(missing, namespace=namespace))
    query_values = np.asarray(query_vector, dtype=np.float32)
    vectors = list(vector_hits) + [
        dataclasses.replace(
            hit,
            score=vector_score(
                metric, query_values, np.asarray(known[hit.id].values, dtype=np.float32)
            ),
        )
        for hit in only_keyword
        if hit.id in known
    ]
    seen_keyword = {hit.id for hit in keyword_hits}
    only_vector = [hit for hit in vector_hits if hit.id not in seen_keyword]
    scores = keywords.scores_for(query, [hit.id for hit in only_vector])
    extra = [
        dataclasses.replace(hit, score=scores[hit.id])
        for hit in only_vector
        if scores.get(hit.id, 0.0) > 0  # no query term at all: not a keyword match
    ]
    return vectors, list(keyword_hits) + extra


def fuse(
    fusion: Fusion,
    vector_hits: Sequence[RetrievedChunk],
    keyword_hits: Sequence[RetrievedChunk],
    vector_floor: float,
) -> list[RetrievedChunk]:
    """One list from both, scored and ordered by `fusion` (vector list first)."""
    legs = [
        ScoredList([h.id for h in vector_hits], [h.score for h in vector_hits], vector_floor),
        ScoredList([h.id for h in keyword_hits], [h.score for h in keyword_hits], 0.0),
    ]
    by_id = {hit.id: hit for hit in keyword_hits} | {hit.id: hit for hit in vector_hits}
    return [dataclasses.replace(by_id[id], score=score) for id, score in fusion.fuse(legs)]


async def rerank(
    reranker: Reranker, query: str, candidates: Sequence[RetrievedChunk]
) -> list[RetrievedChunk]:
    """The candidates ordered and scored by `reranker`; any it leaves out come last, in
    their former order, scored below every reranked one."""
    if not candidates:
        return []
    results = await reranker.rerank(query, [c.text for c in candidates], None)
    ranked: list[RetrievedChunk] = []
    seen: set[int] = set()
    for result in results:
        if 0 <= result.index < len(candidates) and result.index not in seen:
            seen.add(result.index)
            ranked.append(dataclasses.replace(candidates[result.index], score=result.score))
    if len(seen) < len(candidates):
        floor = min((r.score for r in ranked), default=0.0) - 1.0
        ranked.extend(
            dataclasses.replace(c, score=floor) for i, c in enumerate(candidates) if i not in seen
        )
    return ranked


async def diversify(
    store: VectorStore,
    namespace: str | None,
    candidates: Sequence[RetrievedChunk],
    top_k: int,
    lambda_mult: float,
) -> list[RetrievedChunk]:
    """The `top_k` candidates picked by MMR over their stored vectors.

    Relevance is each candidate's score rescaled to [0, 1] over the pool (best 1, worst
    0), whatever the mode; redundancy is cosine similarity to the candidates already
    picked. Scores are kept: only the order changes. A candidate whose vector is gone
    from the store (deleted meanwhile) is left out.
    """
    stored = await store.fetch([c.id for c in candidates], namespace=namespace)
    pool = [c for c in candidates if c.id in stored]
    if not pool:
        return []
    raw = np.stack([np.asarray(stored[c.id].values, dtype=np.float64) for c in pool])
    norms = np.linalg.norm(raw, axis=1, keepdims=True)  # float64: large values stay finite
    vectors = (raw / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    scores = np.asarray([c.score for c in pool], dtype=np.float64)
    span = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    return [pool[i] for i in mmr_select(relevance, vectors, top_k, lambda_mult)]
