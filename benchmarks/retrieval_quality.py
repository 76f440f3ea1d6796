"""Retrieval quality of vector, BM25 and hybrid search: recall@5 and nDCG@10.

Runs the same code path users run (`ContextRetriever.add_documents` then `retrieve`)
with local all-MiniLM-L6-v2 embeddings and the in-memory store, on:
- our own small labeled set (tests/ai/rag/data/labeled_set.json), always;
- the BEIR DBPedia slice when its folder is given (default ../shared/data/retrieval/dbpedia-5k).

    python benchmarks/retrieval_quality.py [--dbpedia PATH] [--skip-dbpedia]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ai.rag import (
    ChunkingConfig,
    ContextRetriever,
    EmbeddingService,
    VectorStore,
    VectorStoreConfig,
    ndcg_at_k,
    recall_at_k,
)

ROOT = Path(__file__).resolve().parent.parent
MODES = ("vector", "bm25", "hybrid")


def labeled_set() -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, int]]]]:
    data = json.loads((ROOT / "tests/ai/rag/data/labeled_set.json").read_text())
    return data["documents"], [(q["query"], q["relevant"]) for q in data["queries"]]


def dbpedia(folder: Path) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, int]]]]:
    documents = []
    with (folder / "corpus.jsonl").open() as corpus:
        for line in corpus:
            row = json.loads(line)
            documents.append({"id": row["_id"], "text": f"{row.get('title', '')}. {row['text']}"})
    queries = {}
    with (folder / "queries.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            queries[row["_id"]] = row["text"]
    judgments: dict[str, dict[str, int]] = defaultdict(dict)
    with (folder / "qrels" / "test.tsv").open() as qrels:
        for row in csv.DictReader(qrels, delimiter="\t"):
            judgments[row["query-id"]][row["corpus-id"]] = int(row["score"])
    return documents, [(queries[q], grades) for q, grades in judgments.items() if q in queries]


async def evaluate(
    name: str, documents: list[dict[str, Any]], queries: list[tuple[str, dict[str, int]]]
) -> None:
    embeddings = EmbeddingService.local()
    store = VectorStore(VectorStoreConfig(store_type="memory"))
    retriever = ContextRetriever(
        embeddings, store, chunking=ChunkingConfig(chunk_size=256, chunk_overlap=32)
    )
    started = time.perf_counter()
    report = await retriever.add_documents(documents)
    ingest = time.perf_counter() - started
    print(
        f"\n## {name}: {len(documents)} documents -> {report.chunks_written} chunks "
        f"(ingest {ingest:.1f} s), {len(queries)} queries"
    )
    print(f"{'mode':<8}{'recall@5':>10}{'nDCG@10':>10}")
    for mode in MODES:
        recalls, ndcgs = [], []
        for query, relevant in queries:
            results = await retriever.retrieve(query, top_k=30, mode=mode)
            ranked = list(dict.fromkeys(r.source_id for r in results))
            recalls.append(recall_at_k(ranked, relevant, 5))
            ndcgs.append(ndcg_at_k(ranked, relevant, 10))
        print(f"{mode:<8}{statistics.mean(recalls):>10.3f}{statistics.mean(ndcgs):>10.3f}")
    await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dbpedia", type=Path, default=ROOT.parent / "shared/data/retrieval/dbpedia-5k"
    )
    parser.add_argument("--skip-dbpedia", action="store_true")
    args = parser.parse_args()
    asyncio.run(evaluate("devora labeled set", *labeled_set()))
    if args.skip_dbpedia:
        return
    if not (args.dbpedia / "corpus.jsonl").exists():
        print(f"\n(DBPedia slice not found at {args.dbpedia}; pass --dbpedia PATH)")
        return
    asyncio.run(evaluate("BEIR DBPedia-Entity 5k slice", *dbpedia(args.dbpedia)))


if __name__ == "__main__":
    main()
