"""Evaluate a `ContextRetriever` on a labelled set: every search mode, standard metrics,
paired bootstrap differences. What `devora rag eval` prints and the benchmark measures.

Each mode runs the code path users run: ``retrieve(query, top_k=k)`` for every cut-off k
the metrics ask for (10 and 100 by default), its chunks mapped back to their documents
(first occurrence), scored with `ai.rag.evaluation` (trec_eval's conventions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ai.rag.beir import BeirCollection
from ai.rag.evaluation import DEFAULT_METRICS, Metric, PairedDifference, paired_bootstrap, per_query
from ai.rag.retriever import ContextRetriever

__all__ = ["EVAL_MODES", "EvalReport", "evaluate_retriever"]

EVAL_MODES: dict[str, dict[str, Any]] = {
    "vector": {"mode": "vector"},
    "bm25": {"mode": "bm25"},
    "hybrid": {"mode": "hybrid"},
    "hybrid+mmr": {"mode": "hybrid", "mmr": True},
}
"""The modes compared, as `retrieve` options."""

_PAIRS = (("hybrid", "vector"), ("hybrid", "bm25"), ("hybrid+mmr", "hybrid"))


@dataclass(frozen=True, slots=True)
class Comparison:
    """`a` minus `b` on one metric, over the same queries."""

    a: str
    b: str
    metric: str
    difference: PairedDifference


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Means per mode and metric, per-query scores, and the paired differences."""

    collection: str
    documents: int
    queries: int
    chunks: int
    means: dict[str, dict[str, float]]
    scores: dict[str, dict[str, dict[str, float]]] = field(repr=False)
    comparisons: list[Comparison]

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary (per-query scores left out)."""
        return {
            "collection": self.collection,
            "documents": self.documents,
            "queries": self.queries,
            "chunks": self.chunks,
            "modes": self.means,
            "differences": [
                {
                    "a": c.a,
                    "b": c.b,
                    "metric": c.metric,
                    "mean": c.difference.mean,
                    "low": c.difference.low,
                    "high": c.difference.high,
                    "confidence": c.difference.confidence,
                }
                for c in self.comparisons
            ],
        }


async def evaluate_retriever(
    retriever: ContextRetriever,
    collection: BeirCollection,
    *,
    modes: Mapping[str, Mapping[str, Any]] = EVAL_MODES,
    metrics: Sequence[Metric] = DEFAULT_METRICS,
    samples: int = 10_000,
) -> EvalReport:
    """Ingest `collection` into `retriever`, then score every mode on its queries."""
    report = await retriever.add_documents(collection.documents)
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for name, options in modes.items():
        runs = {
            depth: await _rank(retriever, collection.queries, options, depth)
            for depth in sorted({metric.k for metric in metrics})
        }
        scores[name] = {
            str(metric): per_query(runs[metric.k], collection.qrels, metric) for metric in metrics
        }
    means = {
        name: {metric: sum(v.values()) / len(v) if v else 0.0 for metric, v in by_metric.items()}
        for name, by_metric in scores.items()
    }
    comparisons = [
        Comparison(a, b, str(metric), _paired(scores, a, b, str(metric), samples))
        for a, b in _PAIRS
        if a in scores and b in scores
        for metric in metrics
    ]
    return EvalReport(
        collection.name,
        len(collection.documents),
        len(collection.qrels),
        report.chunks_written,
        means,
        scores,
        comparisons,
    )


async def _rank(
    retriever: ContextRetriever,
    queries: Mapping[str, str],
    options: Mapping[str, Any],
    depth: int,
) -> dict[str, list[str]]:
    run: dict[str, list[str]] = {}
    for query_id, text in queries.items():
        results = await retriever.retrieve(text, top_k=depth, **options)
        run[query_id] = list(dict.fromkeys(result.source_id for result in results))
    return run


def _paired(
    scores: Mapping[str, Mapping[str, Mapping[str, float]]],
    a: str,
    b: str,
    metric: str,
    samples: int,
) -> PairedDifference:
    queries = list(scores[a][metric])
    return paired_bootstrap(
        [scores[a][metric][q] for q in queries],
        [scores[b][metric][q] for q in queries],
        samples=samples,
    )
