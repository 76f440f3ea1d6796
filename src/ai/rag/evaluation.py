"""Retrieval quality metrics by trec_eval's conventions, and paired bootstrap intervals.

The numbers match `trec_eval` (and so `pytrec_eval` and BEIR's `EvaluateRetrieval`, which
call it) on the same ranked lists; ``tests/ai/rag/test_evaluation.py`` checks that
against `pytrec_eval` on hand-made and generated judgments:

- **nDCG@k** with *linear* gains (the judged grade itself) and a ``log2(rank + 1)``
  discount; the ideal ranking is built from every judged document of the query.
  `Gain.EXPONENTIAL` gives the Burges et al. ``2**grade - 1`` gains instead (what this
  module used before; it weighs a grade-2 document three times a grade-1 one, not twice).
- **recall@k**: the share of the query's relevant documents (grade >= 1) in the first k.
- **MRR@k**: 1 / rank of the first relevant document within the first k, else 0 (BEIR's
  ``mrr@k``; trec_eval's ``recip_rank`` on a run cut at k).

Ranked lists are read as given (best first); a repeated id counts once, where it first
appears. Means (`evaluate`) are over the queries that have at least one relevant
document: a query judged only non-relevant, as happens in a slice of a larger
collection, has no ideal ranking to compare with (trec_eval would score it 0).

Statistics are pure functions over per-query scores (no I/O): `paired_bootstrap` gives
the mean difference of two systems on the same queries and its percentile interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

__all__ = [
    "DEFAULT_METRICS",
    "Gain",
    "Metric",
    "PairedDifference",
    "evaluate",
    "mrr_at_k",
    "ndcg_at_k",
    "paired_bootstrap",
    "per_query",
    "recall_at_k",
]

Qrels = Mapping[str, Mapping[str, int]]
"""Judgments: query id -> document id -> grade (0 = judged not relevant)."""
Run = Mapping[str, Sequence[str]]
"""Rankings: query id -> document ids, best first."""


class Gain(StrEnum):
    """How a grade becomes a gain in nDCG."""

    LINEAR = "linear"
    """The grade itself: trec_eval, pytrec_eval, BEIR, MTEB."""
    EXPONENTIAL = "exponential"
    """``2**grade - 1`` (Burges et al. 2005): stresses highly relevant documents."""


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant ids (grade > 0) found in the first `k` results."""
    wanted = {id for id, grade in relevant.items() if grade > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(_first(ranked, k))) / len(wanted)


def ndcg_at_k(
    ranked: Sequence[str], relevant: Mapping[str, int], k: int, *, gain: Gain | str = Gain.LINEAR
) -> float:
    """Normalised discounted cumulative gain of the first `k` results.

    Linear gains by default (trec_eval's ``ndcg_cut``); ``gain="exponential"`` for
    ``2**grade - 1``.
    """
    to_gain = _gain_function(Gain(gain))
    gains = [to_gain(relevant.get(id, 0)) for id in _first(ranked, k)]
    dcg = sum(value / math.log2(rank + 2) for rank, value in enumerate(gains))
    ideal = sorted((to_gain(grade) for grade in relevant.values() if grade > 0), reverse=True)
    idcg = sum(value / math.log2(rank + 2) for rank, value in enumerate(ideal[:k]))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """1 / the rank of the first relevant result within the first `k`, else 0."""
    for rank, id in enumerate(_first(ranked, k), start=1):
        if relevant.get(id, 0) > 0:
            return 1.0 / rank
    return 0.0


_METRICS = {"ndcg": ndcg_at_k, "recall": recall_at_k, "mrr": mrr_at_k}


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric at one cut-off, named like ``"ndcg@10"``, ``"recall@100"``, ``"mrr@10"``."""

    name: str
    k: int

    def __post_init__(self) -> None:
        if self.name not in _METRICS:
            raise ValueError(f"unknown metric {self.name!r}: use one of {sorted(_METRICS)}.")
        if self.k < 1:
            raise ValueError(f"a metric's cut-off must be >= 1, got {self.k}.")

    @classmethod
    def parse(cls, text: str) -> Metric:
        """``"ndcg@10"`` -> `Metric("ndcg", 10)`."""
        name, _, k = text.strip().lower().partition("@")
        if not k.isdigit():
            raise ValueError(f"a metric reads like 'ndcg@10', got {text!r}.")
        return cls(name, int(k))

    def __str__(self) -> str:
        return f"{self.name}@{self.k}"

    def score(self, ranked: Sequence[str], relevant: Mapping[str, int]) -> float:
        """This metric for one query."""
        return _METRICS[self.name](ranked, relevant, self.k)


DEFAULT_METRICS = tuple(map(Metric.parse, ("ndcg@10", "recall@10", "recall@100", "mrr@10")))


def per_query(run: Run, qrels: Qrels, metric: Metric) -> dict[str, float]:
    """`metric` for every query with a relevant judgment (a query missing from `run`
    scores 0), in the order of `qrels`."""
    return {
        query: metric.score(run.get(query, ()), judged)
        for query, judged in qrels.items()
        if any(grade > 0 for grade in judged.values())
    }


def evaluate(
    run: Run, qrels: Qrels, metrics: Sequence[Metric] = DEFAULT_METRICS
) -> dict[str, float]:
    """The mean of each metric over the judged queries, keyed by its name (``"ndcg@10"``)."""
    means: dict[str, float] = {}
    for metric in metrics:
        scores = list(per_query(run, qrels, metric).values())
        means[str(metric)] = sum(scores) / len(scores) if scores else 0.0
    return means


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """Mean of ``a - b`` over paired queries, with a bootstrap percentile interval."""

    mean: float
    low: float
    high: float
    queries: int
    confidence: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    samples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDifference:
    """The mean per-query difference ``a - b`` and its percentile bootstrap interval.

    Queries are resampled with replacement `samples` times (pairs kept together, so what
    varies is which queries were asked, not which system answered); the interval is the
    central `confidence` share of the resampled means. Deterministic for a `seed`.
    """
    if len(a) != len(b):
        raise ValueError(f"paired scores differ in length: {len(a)} and {len(b)}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}.")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}.")
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if differences.size == 0:
        return PairedDifference(0.0, 0.0, 0.0, 0, confidence)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, differences.size, size=(samples, differences.size))
    means = differences[picks].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return PairedDifference(
        float(differences.mean()), float(low), float(high), int(differences.size), confidence
    )


def _first(ranked: Sequence[str], k: int) -> list[str]:
    """The first `k` distinct ids of `ranked`."""
    seen: dict[str, None] = {}
    for id in ranked:
        if len(seen) >= k:
            break
        seen.setdefault(id, None)
    return list(seen)


def _gain_function(gain: Gain) -> Callable[[int], float]:
    if gain is Gain.LINEAR:
        return lambda grade: float(grade) if grade > 0 else 0.0
    return lambda grade: float(2**grade - 1) if grade > 0 else 0.0
