"""pgvector backend through the public `VectorStore`, on the real PostgreSQL + pgvector of
the test services; every test gets its own schema (`postgres_test_url`).

Exactness: result order is compared with a numpy brute force. The sets have 2,000 rows
(enough that the planner picks the HNSW index, which `test_explain_*` checks) and the
store searches with `hnsw_ef_search=1000`: on 2,000 8-d points a beam of 1,000 visits
essentially the whole graph, so the approximate search returns the exact top-k. That way
the test covers the path production queries take (index scan, score conversion), rather
than an exact plan forced with `enable_indexscan=off`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from ai.errors import ConfigurationError, StoreError
from ai.rag.filters import compile_sql, matches, parse_filter
from ai.rag.stores.pgvector_schema import METRICS, TableSql, table_name
from ai.rag.types import DistanceMetric, VectorRecord
from ai.rag.vector_store import VectorStore, VectorStoreConfig
from tests.services.ports import closed_port

DIM = 8
METRIC_IDS = [metric.value for metric in DistanceMetric]


def make_store(url: str, **options: Any) -> VectorStore:
    options.setdefault("index_name", "docs")
    return VectorStore(VectorStoreConfig(store_type="pgvector", connection_string=url, **options))


def random_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def records(vectors: np.ndarray, prefix: str = "r") -> list[VectorRecord]:
    return [
        VectorRecord(
            f"{prefix}{i}",
            vector,
            {"n": i, "parity": "even" if i % 2 == 0 else "odd", "tags": [f"t{i % 5}"]},
            text=f"text {i}",
        )
        for i, vector in enumerate(vectors)
    ]


def brute_force(
    matrix: np.ndarray, query: np.ndarray, metric: DistanceMetric, k: int
) -> tuple[list[int], np.ndarray]:
    """Reference ranking: row indices best first, and their scores."""
    if metric is DistanceMetric.COSINE:
        unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        scores = unit @ (query / np.linalg.norm(query))
    elif metric is DistanceMetric.DOT:
        scores = matrix @ query
    else:
        scores = -np.linalg.norm(matrix - query, axis=1)
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(i) for i in order], scores[order]


async def table_exists(pg_conn: Any, name: str) -> bool:
    return await pg_conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)


# --- schema --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", list(DistanceMetric), ids=METRIC_IDS)
async def test_schema_created_on_first_upsert_with_metric_opclass(
    postgres_test_url: str, pg_conn: Any, metric: DistanceMetric
) -> None:
    table = table_name("docs")
    async with make_store(postgres_test_url, metric=metric, hnsw_m=12) as store:
        assert await store.count() == 0  # a read with no dimension known creates nothing
        assert not await table_exists(pg_conn, table)
        await store.upsert(records(random_vectors(3)))
    assert await table_exists(pg_conn, table)
    columns = await pg_conn.fetch(
        "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute"
        " WHERE attrelid = to_regclass($1) AND attnum > 0 ORDER BY attnum",
        table,
    )
    assert [(c["attname"], c["type"]) for c in columns] == [
        ("id", "text"),
        ("namespace", "text"),
        ("content", "text"),
        ("metadata", "jsonb"),
        ("embedding", f"vector({DIM})"),
    ]
    indexes = {
        row["indexname"]: row["indexdef"]
        for row in await pg_conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1", table
        )
    }
    hnsw = indexes[f"{table}_hnsw_{metric.value}"]
    assert f"USING hnsw (embedding {METRICS[metric].opclass})" in hnsw
    assert "m='12'" in hnsw and "ef_construction='64'" in hnsw
    assert "USING gin (metadata jsonb_path_ops)" in indexes[f"{table}_metadata"]
    assert "(namespace, id)" in indexes[f"{table}_pkey"]


async def test_dimension_from_config_creates_table_on_first_read(
    postgres_test_url: str, pg_conn: Any
) -> None:
    async with make_store(postgres_test_url, dimension=5) as store:
        assert await store.query([1, 0, 0, 0, 0]) == []
        stats = await store.stats()
    assert await table_exists(pg_conn, table_name("docs"))
    assert (stats.dimension, stats.total) == (5, 0)


def test_table_names_are_sanitised_and_bounded() -> None:
    assert table_name("My Index-2024!") == "devora_vec_my_index_2024"
    assert table_name('x"; DROP TABLE users; --') == "devora_vec_x_drop_table_users"
    assert table_name("---") == "devora_vec_default"
    long_a, long_b = table_name("a" * 80 + "1"), table_name("a" * 80 + "2")
    assert long_a != long_b and len(long_a) <= 48 and len(long_b) <= 48
    assert len(f"{long_a}_hnsw_euclidean") <= 63  # PostgreSQL's identifier limit


async def test_concurrent_first_use_by_two_stores(postgres_test_url: str) -> None:
    """Two stores (two pools, as two processes would have) create the same table at once."""
    for attempt in range(3):
        name = f"race-{attempt}"
        first, second = (
            make_store(postgres_test_url, index_name=name),
            make_store(postgres_test_url, index_name=name),
        )
        async with first, second:
            await asyncio.gather(
                first.upsert(records(random_vectors(20, seed=1), "a")),
                second.upsert(records(random_vectors(20, seed=2), "b")),
            )
            assert await first.count() == 40
            assert await second.count() == 40


async def test_existing_table_dimension_is_adopted_and_enforced(postgres_test_url: str) -> None:
    async with make_store(postgres_test_url) as store:
        await store.upsert(records(random_vectors(3)))
    async with make_store(postgres_test_url) as reopened:
        assert (await reopened.stats()).dimension == DIM
        with pytest.raises(ConfigurationError, match=f"holds {DIM}-d vectors"):
            await reopened.upsert([VectorRecord("x", np.ones(DIM + 1, dtype=np.float32))])
    async with make_store(postgres_test_url, dimension=DIM + 1) as misconfigured:
        with pytest.raises(ConfigurationError, match=f"holds {DIM}-d vectors"):
            await misconfigured.count()


async def test_dimension_mismatch_within_one_store(postgres_test_url: str) -> None:
    async with make_store(postgres_test_url) as store:
        await store.upsert(records(random_vectors(2)))
        with pytest.raises(ConfigurationError, match="dimension"):
            await store.query(np.ones(DIM + 2))


async def test_two_metrics_on_one_table_get_one_hnsw_index_each(
    postgres_test_url: str, pg_conn: Any
) -> None:
    async with make_store(postgres_test_url, metric="cosine") as store:
        await store.upsert(records(random_vectors(10)))
    async with make_store(postgres_test_url, metric="euclidean") as store:
        hits = await store.query(random_vectors(1, seed=5)[0], top_k=3)
        assert len(hits) == 3
    names = {
        row["indexname"]
        for row in await pg_conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = $1", table_name("docs")
        )
    }
    assert {"devora_vec_docs_hnsw_cosine", "devora_vec_docs_hnsw_euclidean"} <= names


# --- query ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", list(DistanceMetric), ids=METRIC_IDS)
async def test_query_order_and_scores_match_numpy(
    postgres_test_url: str, metric: DistanceMetric
) -> None:
    matrix = random_vectors(2000)
    queries = random_vectors(15, seed=99)
    async with make_store(postgres_test_url, metric=metric, hnsw_ef_search=1000) as store:
        await store.upsert(records(matrix))
        for query in queries:
            hits = await store.query(query, top_k=10)
            expected_rows, expected_scores = brute_force(matrix, query, metric, 10)
            assert [hit.id for hit in hits] == [f"r{i}" for i in expected_rows]
            np.testing.assert_allclose(
                [hit.score for hit in hits], expected_scores, rtol=1e-4, atol=1e-4
            )


async def test_top_k_above_ef_search_widens_the_search(postgres_test_url: str) -> None:
    """top_k > hnsw_ef_search: the query raises ef_search for its own transaction."""
    matrix = random_vectors(2000)
    query = random_vectors(1, seed=21)[0]
    async with make_store(postgres_test_url, hnsw_ef_search=20) as store:
        await store.upsert(records(matrix))
        hits = await store.query(query, top_k=150)
        assert len(await store.query(query, top_k=10)) == 10  # session settings intact
    expected, _ = brute_force(matrix, query, DistanceMetric.COSINE, 150)
    assert len(hits) == 150
    assert len({hit.id for hit in hits} & {f"r{i}" for i in expected}) >= 145
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


async def test_query_returns_metadata_text_and_values_when_asked(postgres_test_url: str) -> None:
    matrix = random_vectors(5)
    async with make_store(postgres_test_url, metric="dot") as store:
        await store.upsert(records(matrix))
        [hit] = await store.query(matrix[3], top_k=1, include_values=True)
        assert hit.id == "r3" and hit.text == "text 3"
        assert hit.metadata == {"n": 3, "parity": "odd", "tags": ["t3"]}
        assert hit.values is not None and hit.values.dtype == np.float32
        np.testing.assert_array_equal(hit.values, matrix[3])
        [bare] = await store.query(matrix[3], top_k=1, include_metadata=False)
        assert bare.metadata == {} and bare.values is None


async def test_cosine_near_float32s_limit_is_not_a_zero_vector(postgres_test_url: str) -> None:
    async with make_store(postgres_test_url) as store:
        await store.upsert(
            [{"id": "big", "values": [3e38] * DIM}, {"id": "one", "values": [1] * DIM}]
        )
        stored = (await store.fetch(["big"]))["big"].values
        np.testing.assert_allclose(stored, [DIM**-0.5] * DIM, rtol=1e-6)
        hits = await store.query([3e38] * DIM, top_k=2)
        assert [round(hit.score, 5) for hit in hits] == [1.0, 1.0]


async def test_explain_shows_hnsw_index_for_unfiltered_query(
    postgres_test_url: str, pg_conn: Any
) -> None:
    """The statement the backend runs, with its settings, planned both ways: with the
    values (custom plan) and for any values (the generic plan a prepared statement may
    switch to after five runs)."""
    async with make_store(postgres_test_url) as store:
        await store.upsert(records(random_vectors(2000)))
    statement = TableSql(table_name("docs"), METRICS[DistanceMetric.COSINE])
    sql = statement.query("namespace = $3", include_values=False)
    query = random_vectors(1, seed=3)[0]
    literal = "'[" + ",".join(map(str, query.tolist())) + "]'"
    async with pg_conn.transaction():
        await pg_conn.execute(statement.search_settings(100, local=True))
        custom = await pg_conn.fetch(f"EXPLAIN {sql}", query, 10, "")
        await pg_conn.execute(f"PREPARE devora_q(vector, bigint, text) AS {sql}")
        await pg_conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        generic = await pg_conn.fetch(f"EXPLAIN EXECUTE devora_q({literal}, 10, '')")
    for plan in (custom, generic):
        text = "\n".join(row[0] for row in plan)
        assert "Index Scan using devora_vec_docs_hnsw_cosine" in text, text


async def test_query_through_the_store_uses_the_hnsw_index(
    postgres_test_url: str, pg_conn: Any
) -> None:
    """The index's scan counter moves when the store itself queries (not just EXPLAIN)."""
    index = f"{table_name('docs')}_hnsw_cosine"
    scans_sql = "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1"
    async with make_store(postgres_test_url) as store:
        await store.upsert(records(random_vectors(2000)))
        before = await pg_conn.fetchval(scans_sql, index)
        for query in random_vectors(7, seed=4):  # past the 5 runs after which plans go generic
            assert len(await store.query(query, top_k=5)) == 5
    # Backends flush their statistics when idle, at most once a second.
    for _ in range(40):
        await pg_conn.execute("SELECT pg_stat_clear_snapshot()")
        after = await pg_conn.fetchval(scans_sql, index)
        if after - before >= 7:
            break
        await asyncio.sleep(0.1)
    assert after - before >= 7


# --- filters -------------------------------------------------------------------------

FILTERS = [
    {"parity": "even"},
    {"n": {"$gte": 10, "$lt": 20}},
    {"tags": {"$in": ["t1", "t3"]}},
    {"$or": [{"parity": "odd", "n": {"$lt": 7}}, {"tags": "t4"}]},
    {"n": {"$nin": [1, 2, 3]}, "parity": {"$ne": "even"}},
    {"missing": {"$exists": False}},
    {"extra": {"$exists": True}},
]


@pytest.mark.parametrize("raw_filter", FILTERS, ids=[str(f) for f in FILTERS])
async def test_filtered_query_and_count_match_the_reference(
    postgres_test_url: str, raw_filter: dict[str, Any]
) -> None:
    matrix = random_vectors(40)
    rows = records(matrix)
    rows[5] = VectorRecord("r5", matrix[5], {**rows[5].metadata, "extra": 1}, "text 5")
    parsed = parse_filter(raw_filter)
    passing = [i for i, row in enumerate(rows) if matches(parsed, row.metadata)]
    query = random_vectors(1, seed=8)[0]
    async with make_store(postgres_test_url, metric="euclidean") as store:
        await store.upsert(rows)
        hits = await store.query(query, top_k=40, filter=raw_filter)
        assert await store.count(filter=raw_filter) == len(passing)
    expected, _ = brute_force(matrix[passing], query, DistanceMetric.EUCLIDEAN, 40)
    assert [hit.id for hit in hits] == [f"r{passing[i]}" for i in expected]


async def test_selective_filter_still_fills_top_k_through_hnsw(
    postgres_test_url: str, pg_conn: Any
) -> None:
    """Iterative index scans: 1 row in 100 passes, yet the 10 nearest passing rows come
    back, where a plain HNSW scan (ef_search=40 candidates, then filtered) finds ~0.

    A range filter, which the GIN index cannot serve, so the planner does choose HNSW
    (checked with EXPLAIN); equality filters tend to go through the GIN index and an exact
    sort instead."""
    matrix = random_vectors(3000)
    rows = [VectorRecord(f"r{i}", vector, {"n": i}) for i, vector in enumerate(matrix)]
    rare = {"n": {"$lt": 30}}
    query = random_vectors(1, seed=11)[0]
    async with make_store(postgres_test_url, hnsw_ef_search=40) as store:
        await store.upsert(rows)
        hits = await store.query(query, top_k=10, filter=rare)
    params: list[Any] = [query, 10, ""]
    where = "namespace = $3 AND " + compile_sql(
        parse_filter(rare), column="metadata", params=params
    )
    sql = TableSql(table_name("docs"), METRICS[DistanceMetric.COSINE]).query(where, False)
    plan = "\n".join(row[0] for row in await pg_conn.fetch(f"EXPLAIN {sql}", *params))
    assert "Index Scan using devora_vec_docs_hnsw_cosine" in plan, plan
    expected, _ = brute_force(matrix[:30], query, DistanceMetric.COSINE, 10)
    assert len(hits) == 10
    # Relaxed-order scans are approximate: most of the true top 10 must be there.
    assert len({hit.id for hit in hits} & {f"r{i}" for i in expected}) >= 8
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


# --- namespaces, fetch, delete, count, stats -----------------------------------------


async def test_upsert_is_idempotent_by_id(postgres_test_url: str) -> None:
    matrix = random_vectors(30)
    async with make_store(postgres_test_url) as store:
        assert await store.upsert(records(matrix)) == 30
        assert await store.upsert(records(matrix)) == 30
        assert await store.count() == 30
        changed = VectorRecord("r7", matrix[8], {"new": True}, text="rewritten")
        await store.upsert([changed])
        assert await store.count() == 30
        fetched = (await store.fetch(["r7"]))["r7"]
    assert fetched.metadata == {"new": True} and fetched.text == "rewritten"
    np.testing.assert_allclose(fetched.values, matrix[8] / np.linalg.norm(matrix[8]), rtol=1e-6)


async def test_large_upsert_spans_several_batches(postgres_test_url: str) -> None:
    async with make_store(postgres_test_url) as store:
        await store.upsert(records(random_vectors(2500)))
        assert await store.count() == 2500


async def test_namespaces_are_separate(postgres_test_url: str) -> None:
    matrix = random_vectors(6)
    async with make_store(postgres_test_url, namespace="default-ns") as store:
        await store.upsert(records(matrix))  # config namespace
        await store.upsert(records(matrix[:2]), namespace="other")
        await store.upsert(records(matrix[:1]), namespace="")
        hits = await store.query(matrix[4], top_k=10, namespace="other")
        assert {hit.id for hit in hits} == {"r0", "r1"}
        await store.delete(["r0", "r1"])
        assert await store.count(namespace="other") == 2
        assert await store.count() == 4
        stats = await store.stats()
    assert dict(stats.namespaces) == {"": 1, "default-ns": 4, "other": 2}
    assert (stats.total, stats.dimension, stats.metric) == (7, DIM, DistanceMetric.COSINE)


async def test_fetch_delete_and_delete_by_filter(postgres_test_url: str) -> None:
    async with make_store(postgres_test_url) as store:
        assert await store.fetch(["r1"]) == {}  # no table yet
        await store.upsert(records(random_vectors(10)))
        found = await store.fetch(["r3", "missing", "r1"])
        assert sorted(found) == ["r1", "r3"] and found["r3"].metadata["n"] == 3
        await store.delete(["r1", "missing"])
        assert await store.count() == 9
        await store.delete_by_filter({"parity": "even"})
        assert await store.count() == 4
        assert await store.count(filter={"parity": "odd"}) == 4
        await store.delete_by_filter({"parity": "odd"}, namespace="elsewhere")
        assert await store.count() == 4


async def test_metadata_that_is_not_json_is_refused(postgres_test_url: str) -> None:
    async with make_store(postgres_test_url) as store:
        bad = VectorRecord("x", np.ones(DIM, dtype=np.float32), {"when": object()})
        with pytest.raises(ConfigurationError, match=r"'x'.*JSON"):
            await store.upsert([bad])


# --- errors and lifecycle ------------------------------------------------------------


async def test_dead_database_raises_store_error_without_password() -> None:
    url = f"postgresql://devora:hunter2-secret@127.0.0.1:{closed_port()}/nowhere"
    async with make_store(url) as store:
        with pytest.raises(StoreError) as caught:
            await store.upsert(records(random_vectors(1)))
        with pytest.raises(StoreError):
            await store.count()
    message = str(caught.value)
    assert "hunter2-secret" not in message
    assert "devora:***@127.0.0.1" in message and "PostgreSQL is running" in message


async def test_sql_errors_become_store_errors(postgres_test_url: str, pg_conn: Any) -> None:
    async with make_store(postgres_test_url) as store:
        await store.upsert(records(random_vectors(2)))
        await pg_conn.execute(f"DROP TABLE {table_name('docs')}")
        with pytest.raises(StoreError, match="UndefinedTableError"):
            await store.count()
        assert await store.count() == 0  # the next calls see no table, not an error
        await store.upsert(records(random_vectors(3)))  # and an upsert creates it again
        assert await store.count() == 3


async def test_closed_store_refuses_work(postgres_test_url: str) -> None:
    store = make_store(postgres_test_url)
    await store.upsert(records(random_vectors(1)))
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await store.count()


def test_missing_driver_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "try:\n    import ai.rag.stores.pgvector\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'devora-ai[pgvector]'" in result.stdout
