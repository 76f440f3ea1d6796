"""`devora rag eval PATH`: retrieval quality on your own labelled set (BEIR layout).

Builds the embedded default in memory (local all-MiniLM-L6-v2 embeddings, memory store,
BM25 with the chosen language), ingests the folder's corpus, and prints nDCG@10,
recall@10, recall@100 and MRR@10 for vector, BM25, hybrid and hybrid+MMR search, with
the paired differences between them and their 95% bootstrap intervals. Nothing is
written to disk. ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer

from ai.errors import ConfigurationError
from ai.rag.beir import BeirCollection, load_beir
from ai.rag.embedding_backends.local import quiet_model_loading
from ai.rag.embeddings import EmbeddingService
from ai.rag.eval_runner import EvalReport, evaluate_retriever
from ai.rag.evaluation import DEFAULT_METRICS, Metric
from ai.rag.keyword_index import BM25Config
from ai.rag.retriever import ContextRetriever
from ai.rag.vector_store import VectorStore, VectorStoreConfig, VectorStoreType

__all__ = ["eval_command"]


def eval_command(
    path: Path = typer.Argument(
        ..., help="A BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."
    ),
    split: str = typer.Option("test", help="Which qrels file: qrels/<split>.tsv."),
    language: str = typer.Option("english", help="BM25 stemmer and stop-word language."),
    metrics: str = typer.Option(
        ",".join(map(str, DEFAULT_METRICS)), help="Comma-separated, e.g. ndcg@10,recall@100."
    ),
    samples: int = typer.Option(10_000, help="Bootstrap resamples for the intervals."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON document on stdout (progress goes to stderr)."
    ),
) -> None:
    """Score every search mode on a labelled set, with paired bootstrap intervals."""
    try:
        chosen = [Metric.parse(item) for item in metrics.split(",") if item.strip()]
        collection = load_beir(path, split=split)
        bm25 = BM25Config(language=language)
    except (ConfigurationError, ValueError) as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(1) from None
    sys.stderr.write(
        f"evaluating {collection.name}: {len(collection.documents)} documents, "
        f"{len(collection.qrels)} judged queries\n"
    )
    report = asyncio.run(_evaluate(collection, bm25, chosen, samples))
    if as_json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render(report))


async def _evaluate(
    collection: BeirCollection, bm25: BM25Config, metrics: list[Metric], samples: int
) -> EvalReport:
    quiet_model_loading()
    embeddings = EmbeddingService.local()
    store = VectorStore(VectorStoreConfig(store_type=VectorStoreType.MEMORY))
    try:
        retriever = ContextRetriever(embeddings, store, bm25=bm25)
        return await evaluate_retriever(retriever, collection, metrics=metrics, samples=samples)
    finally:
        await store.aclose()
        await embeddings.aclose()


def render(report: EvalReport) -> str:
    """Plain text: a tab-separated table of means, then the differences."""
    metrics = list(next(iter(report.means.values())))
    lines = [
        f"{report.collection}: {report.documents} documents, {report.chunks} chunks, "
        f"{report.queries} judged queries",
        "\t".join(["mode", *metrics]),
    ]
    for mode, means in report.means.items():
        lines.append("\t".join([mode, *(f"{means[m]:.3f}" for m in metrics)]))
    lines.append("")
    lines.append("difference\tmetric\tmean [95% interval]")
    for comparison in report.comparisons:
        lines.append(
            f"{comparison.a} - {comparison.b}\t{comparison.metric}\t{comparison.difference}"
        )
    return "\n".join(lines) + "\n"
