"""The in-memory vector store, mostly through the public `VectorStore` front."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ai.errors import ConfigurationError, FilterError, StoreError
from ai.rag.filters import matches, parse_filter
from ai.rag.stores.memory import MemoryVectorBackend
from ai.rag.stores.memory_topk import select_top
from ai.rag.types import DistanceMetric, VectorRecord
from ai.rag.vector_store import VectorStore, VectorStoreConfig
from tests.ai.rag import filter_strategies as fs

METRICS = list(DistanceMetric)
#: Both engines of the approximate index; each runs every index test.
ENGINES = ["scann", "usearch"]


def make_store(**options: Any) -> VectorStore:
    options.setdefault("ann_threshold", None)
    return VectorStore(VectorStoreConfig(store_type="memory", **options))


def unit(vector: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(vector, dtype=np.float64)
    return array / np.linalg.norm(array)


def reference_scores(
    metric: DistanceMetric, matrix: npt.NDArray[Any], query: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """Brute force in float64: what the store's scores mean."""
    matrix = np.asarray(matrix, dtype=np.float64)
    query = np.asarray(query, dtype=np.float64)
    if metric is DistanceMetric.COSINE:
        return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)) @ unit(query)
    if metric is DistanceMetric.DOT:
        return matrix @ query
    return -np.linalg.norm(matrix - query, axis=1)


def assert_top_k(
    result: list[Any], ids: list[str], expected: npt.NDArray[np.float64], top_k: int
) -> None:
    """Same scores as the reference's top k, in order; ties may pick either id."""
    k = min(top_k, len(ids))
    best = np.sort(expected)[::-1][:k]
    got = np.array([m.score for m in result])
    assert len(result) == k
    np.testing.assert_allclose(got, best, rtol=1e-4, atol=1e-4)
    by_id = dict(zip(ids, expected, strict=True))
    for match in result:
        assert match.score == pytest.approx(by_id[match.id], rel=1e-4, abs=1e-4)
    assert len({m.id for m in result}) == k


# --- basics ---------------------------------------------------------------------------------


async def test_upsert_is_idempotent_by_id_and_replaces() -> None:
    store = make_store()
    records = [{"id": "a", "values": [1, 0], "metadata": {"v": 1}, "text": "first"}]
    assert await store.upsert(records) == 1
    assert await store.upsert(records) == 1
    await store.upsert([{"id": "a", "values": [0, 1], "metadata": {"v": 2}, "text": "second"}])
    assert await store.count() == 1
    record = (await store.fetch(["a"]))["a"]
    assert record.metadata == {"v": 2} and record.text == "second"
    np.testing.assert_allclose(record.values, [0, 1])
    assert (await store.query([0, 1], top_k=1))[0].score == pytest.approx(1.0)


async def test_duplicate_ids_in_one_call_keep_the_last() -> None:
    store = make_store()
    await store.upsert([{"id": "a", "values": [1, 0]}, {"id": "a", "values": [0, 1]}])
    assert await store.count() == 1
    np.testing.assert_allclose((await store.fetch(["a"]))["a"].values, [0, 1])


@pytest.mark.parametrize("metric", METRICS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
async def test_query_ranks_like_brute_force(metric: DistanceMetric, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 40), label="n")
    d = data.draw(st.integers(1, 6), label="d")
    elements = st.floats(-1, 1, width=32).filter(lambda x: abs(x) > 1e-3 or x == 0)
    matrix = data.draw(hnp.arrays(np.float32, (n, d), elements=elements), label="matrix")
    query = data.draw(hnp.arrays(np.float32, d, elements=elements), label="query")
    if metric is DistanceMetric.COSINE:
        matrix[np.linalg.norm(matrix, axis=1) < 1e-2, 0] = 1
        if np.linalg.norm(query) < 1e-2:
            query[0] = 1
    top_k = data.draw(st.integers(1, 12), label="top_k")
    store = make_store(metric=metric)
    ids = [f"id{i}" for i in range(n)]
    await store.upsert([VectorRecord(i, row) for i, row in zip(ids, matrix, strict=True)])
    result = await store.query(query, top_k=top_k)
    assert_top_k(result, ids, reference_scores(metric, matrix, query), top_k)
    batch = await store.backend.query_batch(query[None, :], top_k, "")  # type: ignore[attr-defined]
    assert [m.score for m in batch[0]] == pytest.approx([m.score for m in result], rel=1e-5)


@pytest.mark.parametrize("metric", METRICS)
async def test_query_batch_equals_single_queries_on_many_rows(metric: DistanceMetric) -> None:
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((12_000, 8)).astype(np.float32)
    queries = rng.standard_normal((25, 8)).astype(np.float32)
    store = make_store(metric=metric)
    await store.upsert([VectorRecord(str(i), v) for i, v in enumerate(vectors)])
    batch = await store.backend.query_batch(queries, 7, "")  # type: ignore[attr-defined]
    for query, found in zip(queries, batch, strict=True):
        single = await store.query(query, top_k=7)
        assert [m.id for m in found] == [m.id for m in single]
        assert [m.score for m in found] == pytest.approx([m.score for m in single], rel=1e-5)


async def test_scores_per_metric() -> None:
    for metric, expected in [("cosine", 0.6), ("dot", 3.0), ("euclidean", -np.sqrt(20))]:
        store = make_store(metric=metric)
        await store.upsert([{"id": "a", "values": [3, 4]}])
        score = (await store.query([1, 0]))[0].score
        assert score == pytest.approx(expected, rel=1e-6), metric


async def test_include_values_and_metadata() -> None:
    store = make_store(metric="dot")
    await store.upsert([{"id": "a", "values": [1, 2], "metadata": {"k": "v"}, "text": "t"}])
    plain = (await store.query([1, 0]))[0]
    assert plain.values is None and plain.metadata == {"k": "v"} and plain.text == "t"
    full = (await store.query([1, 0], include_values=True, include_metadata=False))[0]
    assert full.metadata == {}
    assert full.values is not None
    np.testing.assert_allclose(full.values, [1, 2])


async def test_returned_metadata_and_values_are_copies() -> None:
    store = make_store(metric="dot")
    await store.upsert([{"id": "a", "values": [1, 2], "metadata": {"tags": ["x"]}}])
    match = (await store.query([1, 0], include_values=True))[0]
    match.metadata["tags"].append("y")  # type: ignore[index]
    assert match.values is not None
    match.values[0] = 99
    assert await store.query([1, 0], filter={"tags": "y"}) == []
    record = (await store.fetch(["a"]))["a"]
    assert record.values[0] == 1 and record.metadata == {"tags": ["x"]}
    record.metadata["tags"].append("z")  # type: ignore[index]
    assert (await store.fetch(["a"]))["a"].metadata == {"tags": ["x"]}


async def test_namespaces_are_isolated_and_counted() -> None:
    store = make_store(namespace="default")
    await store.upsert([{"id": "a", "values": [1, 0]}])
    await store.upsert([{"id": "a", "values": [0, 1]}, {"id": "b", "values": [1, 1]}], "other")
    assert [m.id for m in await store.query([1, 0], top_k=5)] == ["a"]
    assert await store.count("other") == 2
    assert (await store.fetch(["b"])) == {}
    await store.delete(["a"], namespace="other")
    assert await store.count() == 1
    stats = await store.stats()
    assert stats.namespaces == {"default": 1, "other": 1}
    assert stats.dimension == 2 and stats.metric is DistanceMetric.COSINE and stats.total == 2
    await store.delete(["a"])
    assert (await store.stats()).namespaces == {"other": 1}
    assert await store.query([1, 0]) == []
    assert await store.count("nowhere") == 0
    assert await store.fetch(["a"], namespace="nowhere") == {}


async def test_fetch_delete_delete_by_filter_and_count() -> None:
    store = make_store()
    await store.upsert(
        [{"id": str(i), "values": [1, i], "metadata": {"even": i % 2 == 0}} for i in range(10)]
    )
    assert sorted(await store.fetch(["3", "missing", "4"])) == ["3", "4"]
    assert await store.count(filter={"even": True}) == 5
    await store.delete(["0", "1", "missing"])
    assert await store.count() == 8
    await store.delete_by_filter({"even": True})
    remaining = await store.fetch([str(i) for i in range(10)])
    assert sorted(remaining) == ["3", "5", "7", "9"]
    for record_id, record in remaining.items():
        assert record.metadata == {"even": False}
        np.testing.assert_allclose(record.values, unit([1, int(record_id)]), rtol=1e-6)
    with pytest.raises(ConfigurationError, match="non-empty filter"):
        await store.delete_by_filter({})


async def test_input_errors() -> None:
    store = make_store()
    await store.upsert([{"id": "a", "values": [1, 0, 0]}])
    with pytest.raises(ConfigurationError, match="dimension 2"):
        await store.upsert([{"id": "b", "values": [1, 0]}])
    with pytest.raises(ConfigurationError, match="dimension 4"):
        await store.query([1, 0, 0, 0])
    with pytest.raises(ConfigurationError, match="all zeros"):
        await store.upsert([{"id": "z", "values": [0, 0, 0]}])
    with pytest.raises(ConfigurationError, match="all zeros"):
        await store.query([0, 0, 0])
    with pytest.raises(FilterError, match=r"filter\['n'\]\['\$gt'\]"):
        await store.query([1, 0, 0], filter={"n": {"$gt": "x"}})
    with pytest.raises(FilterError):
        await store.count(filter={"$nope": 1})


async def test_the_backend_checks_dimensions_itself() -> None:
    backend = MemoryVectorBackend(VectorStoreConfig(dimension=2, ann_threshold=None))
    with pytest.raises(ConfigurationError, match="2-d"):
        await backend.upsert([VectorRecord("a", np.ones(3, np.float32))], "")
    await backend.upsert([VectorRecord("a", np.ones(2, np.float32))], "")
    with pytest.raises(ConfigurationError, match="2-d"):
        await backend.query(np.ones(3, np.float32), 1, "", None, False)
    with pytest.raises(ConfigurationError, match="2 columns"):
        await backend.query_batch(np.ones((2, 3), np.float32), 1, "")


# --- filters --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(fs.rows, min_size=1, max_size=30), raws=st.lists(fs.filters, max_size=4))
async def test_filtered_queries_return_exactly_the_matching_records(
    rows: list[dict[str, Any]], raws: list[dict[str, Any]]
) -> None:
    store = make_store(metric="dot")
    await store.upsert(
        [{"id": str(i), "values": [1.0, i], "metadata": row} for i, row in enumerate(rows)]
    )
    for raw in raws:
        parsed = parse_filter(raw)
        expected = [str(i) for i in reversed(range(len(rows))) if matches(parsed, rows[i])]
        found = await store.query([0.0, 1.0], top_k=len(rows), filter=raw)
        assert [m.id for m in found] == expected
        top = await store.query([0.0, 1.0], top_k=3, filter=raw)
        assert [m.id for m in top] == expected[:3]
        assert await store.count(filter=raw) == len(expected)


async def test_selective_and_broad_filters_both_search_exactly() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((2000, 8)).astype(np.float32)
    store = make_store(metric="dot")
    await store.upsert(
        [VectorRecord(str(i), v, {"bucket": i % 100}) for i, v in enumerate(vectors)]
    )
    query = rng.standard_normal(8).astype(np.float32)
    for raw, passing in [({"bucket": 7}, lambda i: i % 100 == 7), ({"bucket": {"$gt": 10}}, None)]:
        keep = np.array([passing(i) if passing else i % 100 > 10 for i in range(2000)])
        scores = np.where(keep, vectors @ query, -np.inf)
        expected = [str(i) for i in np.argsort(-scores, kind="stable")[:10]]
        assert [m.id for m in await store.query(query, top_k=10, filter=raw)] == expected


# --- swap-remove keeps everything aligned ---------------------------------------------------


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.integers(0, 15), st.integers(-3, 3), fs.json_rows),
        st.tuples(st.just("delete"), st.integers(0, 15)),
        st.tuples(st.just("delete_by_filter"), fs.conditions),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(_ops, fs.filters)
async def test_random_operations_match_a_dict_model(
    operations: list[tuple[Any, ...]], raw: dict[str, Any]
) -> None:
    store = make_store(metric="euclidean")
    model: dict[str, tuple[list[float], dict[str, Any]]] = {}
    for operation in operations:
        if operation[0] == "upsert":
            _, key, y, metadata = operation
            record_id, values = f"id{key}", [float(key), float(y)]
            await store.upsert([{"id": record_id, "values": values, "metadata": metadata}])
            model[record_id] = (values, metadata)
        elif operation[0] == "delete":
            await store.delete([f"id{operation[1]}"])
            model.pop(f"id{operation[1]}", None)
        else:
            await store.delete_by_filter(operation[1])
            parsed = parse_filter(operation[1])
            model = {k: v for k, v in model.items() if not matches(parsed, v[1])}
    assert await store.count() == len(model)
    fetched = await store.fetch(list(model))
    assert sorted(fetched) == sorted(model)
    for record_id, (values, metadata) in model.items():
        np.testing.assert_allclose(fetched[record_id].values, values)
        assert fetched[record_id].metadata == metadata
    if model:
        found = await store.query([0.0, 0.0], top_k=len(model), filter=raw)
        parsed = parse_filter(raw)
        expected = {k for k, v in model.items() if matches(parsed, v[1])}
        assert {m.id for m in found} == expected
        for match in found:
            assert match.score == pytest.approx(-np.linalg.norm(model[match.id][0]), rel=1e-5)


# --- HNSW -----------------------------------------------------------------------------------


def clustered(rng: np.random.Generator, n: int, d: int, clusters: int) -> npt.NDArray[np.float32]:
    """Embedding-like points: around cluster centres, lengths near 1 (0.8 to 1.2)."""
    centres = rng.standard_normal((clusters, d))
    points = centres[rng.integers(0, clusters, n)] + 0.35 * rng.standard_normal((n, d))
    points *= rng.uniform(0.8, 1.2, (n, 1)) / np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("metric", METRICS)
async def test_hnsw_recall_against_exact(metric: DistanceMetric, engine: str) -> None:
    """Queries away from the stored clusters (new centres): ScaNN's check of its
    quantizer must refuse the coarse one that recalls 0.7 here."""
    rng = np.random.default_rng(3)
    data = clustered(rng, 3000, 32, 30)
    queries = clustered(rng, 40, 32, 30)
    records = [VectorRecord(str(i), v, {"c": i % 4}) for i, v in enumerate(data)]
    ann = make_store(metric=metric, ann_threshold=1000, ann_engine=engine)
    exact = make_store(metric=metric)
    for store in (ann, exact):
        for start in range(0, len(records), 700):  # crosses the threshold mid-way
            await store.upsert(records[start : start + 700])
    assert ann.backend._namespaces[""].ann is not None  # type: ignore[attr-defined]
    hits = 0
    for query in queries:
        truth = {m.id for m in await exact.query(query, top_k=10)}
        found = await ann.query(query, top_k=10)
        hits += len(truth & {m.id for m in found})
        reference = {m.id: m.score for m in await exact.query(query, top_k=3000)}
        for match in found:  # scores are exact even when the candidates are approximate
            assert match.score == pytest.approx(reference[match.id], rel=1e-4, abs=1e-4)
        filtered = await ann.query(query, top_k=10, filter={"c": {"$in": [1, 2, 3]}})
        assert all(m.metadata["c"] != 0 for m in filtered) and len(filtered) == 10
    assert hits / (10 * len(queries)) >= 0.9


def embedding_like(rng: np.random.Generator, n: int, d: int, topics: int) -> npt.NDArray[Any]:
    """Unit vectors shaped like sentence embeddings: topics, sub-topics within them, and
    noise, so a query's neighbours stand out from the rest by more than the noise."""
    centres = rng.standard_normal((topics, d))
    subtopics = centres[rng.integers(0, topics, n // 8)] + 0.6 * rng.standard_normal((n // 8, d))
    points = subtopics[rng.integers(0, n // 8, n)] + 0.5 * rng.standard_normal((n, d))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


#: What each engine's index stores at 384-d: usearch int8 for cosine (float32 otherwise);
#: ScaNN one of its coarse 4-bit quantizers (which one its check keeps depends on the
#: data and the metric), not the fine ones kept for data it cannot quantize coarsely.
STORED = {
    ("usearch", DistanceMetric.COSINE): {"I8"},
    ("usearch", DistanceMetric.DOT): {"F32"},
    ("usearch", DistanceMetric.EUCLIDEAN): {"F32"},
    ("scann", DistanceMetric.COSINE): {"AH6", "AH4"},
    ("scann", DistanceMetric.DOT): {"AH6", "AH4"},
    ("scann", DistanceMetric.EUCLIDEAN): {"AH6", "AH4"},
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("metric", METRICS)
async def test_hnsw_recall_on_embedding_sized_vectors(metric: DistanceMetric, engine: str) -> None:
    """384-d, as all-MiniLM-L6-v2 gives: the index (quantized) with exact re-scoring
    finds what exact search finds, at the default ef."""
    rng = np.random.default_rng(1)
    points = embedding_like(rng, 4050, 384, 40)
    data, queries = points[:4000], points[4000:]
    records = [VectorRecord(str(i), v) for i, v in enumerate(data)]
    ann = make_store(metric=metric, ann_threshold=1000, ann_engine=engine)
    exact = make_store(metric=metric)
    await ann.upsert(records)
    await exact.upsert(records)
    index = ann.backend._namespaces[""].ann  # type: ignore[attr-defined]
    assert index.scalar in STORED[engine, metric]
    hits = 0
    for query in queries:
        truth = await exact.query(query, top_k=10)
        found = await ann.query(query, top_k=10)
        hits += len({m.id for m in truth} & {m.id for m in found})
        scores = {m.id: m.score for m in truth}
        for match in found:  # exact scores, whatever graph found the candidates
            if match.id in scores:
                assert match.score == pytest.approx(scores[match.id], rel=1e-5, abs=1e-6)
        assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    assert hits / (10 * len(queries)) >= 0.95


@pytest.mark.parametrize("engine", ENGINES)
async def test_hnsw_follows_deletes_and_overwrites(engine: str) -> None:
    rng = np.random.default_rng(4)
    data = clustered(rng, 1500, 16, 10)
    store = make_store(metric="euclidean", ann_threshold=500, ann_engine=engine)
    await store.upsert([VectorRecord(str(i), v, {"i": i}) for i, v in enumerate(data)])
    await store.delete([str(i) for i in range(0, 1500, 3)])
    moved = {str(i): data[i] + 5 for i in range(1, 1500, 3)}
    await store.upsert([VectorRecord(k, v, {"i": -1}) for k, v in moved.items()])
    for query in data[:30]:
        found = await store.query(query, top_k=10)
        for match in found:
            assert int(match.id) % 3 != 0
            stored = moved.get(match.id, data[int(match.id)])
            assert match.score == pytest.approx(-np.linalg.norm(stored - query), rel=1e-4)
        selective = await store.query(query, top_k=5, filter={"i": {"$lt": 40, "$gte": 0}})
        assert all(0 <= m.metadata["i"] < 40 for m in selective)
        assert len(selective) == 5
    batch = await store.backend.query_batch(data[:5], 10, "")  # type: ignore[attr-defined]
    assert [len(r) for r in batch] == [10] * 5
    size = (await store.stats()).total
    everything = await store.backend.query_batch(data[:2], size + 50, "")  # type: ignore[attr-defined]
    for answer in everything:  # asking for more than there is: each row once, no padding
        assert len({m.id for m in answer}) == len(answer) == size
    await store.delete([str(i) for i in range(1500)])
    assert (await store.stats()).namespaces == {}


async def test_hnsw_dot_product_rebuilds_for_longer_vectors() -> None:
    """usearch's graph indexes dot products through a norm bound (ScaNN needs none)."""
    rng = np.random.default_rng(5)
    store = make_store(metric="dot", ann_threshold=200, ann_engine="usearch")
    await store.upsert([VectorRecord(f"s{i}", v) for i, v in enumerate(clustered(rng, 400, 8, 5))])
    before = store.backend._namespaces[""].ann  # type: ignore[attr-defined]
    long = clustered(rng, 20, 8, 5) * 3
    await store.upsert([VectorRecord(f"l{i}", v) for i, v in enumerate(long)])
    assert store.backend._namespaces[""].ann is not before  # type: ignore[attr-defined]
    for query in long[:5]:
        best = np.argsort(-(long @ query))[:3]
        assert [m.id for m in await store.query(query, top_k=3)] == [f"l{i}" for i in best]


async def test_matrix_layout_follows_the_hnsw_index() -> None:
    """Column-major while exact scans serve queries, row-major while the index does; each
    switch keeps every row, and searches stay exact on both sides of it."""
    rng = np.random.default_rng(6)
    data = clustered(rng, 600, 16, 6)
    store = make_store(metric="euclidean", ann_threshold=400)
    records = [VectorRecord(str(i), v, {"i": i}) for i, v in enumerate(data)]

    def namespace() -> Any:
        return store.backend._namespaces[""]  # type: ignore[attr-defined]

    await store.upsert(records[:300])
    assert namespace().ann is None and namespace().matrix.flags.f_contiguous
    await store.upsert(records[300:])
    assert namespace().ann is not None and namespace().matrix.flags.c_contiguous
    kept = list(range(0, 600, 3))  # 200 rows: at half the threshold the index goes
    await store.delete([str(i) for i in range(600) if i % 3])
    assert namespace().ann is None and namespace().matrix.flags.f_contiguous
    ids = [str(i) for i in kept]
    fetched = await store.fetch(ids)
    for i in kept:
        np.testing.assert_array_equal(fetched[str(i)].values, data[i])
    few = [i for i in kept if i < 30]  # 10 of 200 pass: gathered, not scanned
    for query in data[:10]:
        expected = reference_scores(DistanceMetric.EUCLIDEAN, data[kept], query)
        assert_top_k(await store.query(query, top_k=10), ids, expected, 10)
        found = await store.query(query, top_k=3, filter={"i": {"$lt": 30}})
        expected = reference_scores(DistanceMetric.EUCLIDEAN, data[few], query)
        assert_top_k(found, [str(i) for i in few], expected, 3)


def test_importing_the_store_does_not_import_an_index_engine() -> None:
    code = (
        "import sys, ai.rag.vector_store, ai.rag.stores.memory; "
        "assert 'usearch' not in sys.modules, 'usearch imported'; "
        "assert 'scann' not in sys.modules, 'scann imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_missing_scann_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scann", None)
    store = make_store(ann_threshold=2, ann_engine="scann")
    with pytest.raises(ImportError, match=r"pip install 'devora-ai\[ann\]'"):
        await store.upsert([{"id": str(i), "values": [1, i]} for i in range(3)])


async def test_the_default_engine_is_scann_up_to_its_size_where_it_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(8)
    records = [VectorRecord(str(i), v) for i, v in enumerate(clustered(rng, 300, 8, 4))]
    store = make_store(ann_threshold=100)
    await store.upsert(records)
    assert store.backend._namespaces[""].ann.scalar.startswith("AH")  # type: ignore[attr-defined]
    more = clustered(rng, 20_000, 8, 4)
    await store.upsert([VectorRecord(f"m{i}", v) for i, v in enumerate(more)])
    assert store.backend._namespaces[""].ann.scalar == "I8"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scann", None)
    fallback = make_store(ann_threshold=100)
    await fallback.upsert(records)
    assert fallback.backend._namespaces[""].ann.scalar == "I8"  # type: ignore[attr-defined]


async def test_missing_usearch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "usearch.index", None)
    store = make_store(ann_threshold=2, ann_engine="usearch")
    with pytest.raises(ImportError, match=r"pip install 'devora-ai\[ann\]'"):
        await store.upsert([{"id": str(i), "values": [1, i]} for i in range(3)])


# --- persistence ----------------------------------------------------------------------------


def names_in(folder: Path) -> list[str]:
    """What a save left behind (no temporary files)."""
    return sorted(path.name for path in folder.iterdir())


async def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "store.npz"
    store = make_store(metric="dot", persist_path=str(path))
    await store.upsert(
        [
            {"id": "a", "values": [1, 2], "metadata": {"tags": ["x", "y"], "n": 1.5}, "text": "A"},
            {"id": "b", "values": [3, 4], "metadata": {}, "text": None},
        ]
    )
    await store.upsert([{"id": "c", "values": [5, 6], "metadata": {"ok": True}}], "ns2")
    await store.backend.save()  # type: ignore[attr-defined]
    assert names_in(tmp_path) == ["store.npz"]

    loaded = make_store(metric="dot", persist_path=str(path))
    assert (await loaded.stats()).namespaces == {"": 2, "ns2": 1}
    a = (await loaded.fetch(["a"]))["a"]
    assert a.metadata == {"tags": ["x", "y"], "n": 1.5} and a.text == "A"
    np.testing.assert_array_equal(a.values, np.array([1, 2], np.float32))
    assert [m.id for m in await loaded.query([1, 1], filter={"tags": "y"})] == ["a"]
    assert [m.id for m in await loaded.query([1, 1], namespace="ns2")] == ["c"]

    await loaded.delete(["a"])
    await loaded.aclose()  # changed since load: saved
    assert (await make_store(metric="dot", persist_path=str(path)).count()) == 1


async def test_loading_checks_metric_dimension_and_format(tmp_path: Path) -> None:
    path = tmp_path / "store.npz"
    store = make_store(metric="dot", persist_path=str(path))
    await store.upsert([{"id": "a", "values": [1, 2]}])
    await store.aclose()
    with pytest.raises(ConfigurationError, match="dot store"):
        make_store(metric="cosine", persist_path=str(path))
    with pytest.raises(ConfigurationError, match="2-d vectors"):
        make_store(metric="dot", dimension=3, persist_path=str(path))
    loaded = make_store(metric="dot", persist_path=str(path))
    assert loaded.dimension == 2
    with pytest.raises(ConfigurationError, match="2-d"):
        await loaded.query([1, 2, 3])
    assert [m.id for m in await loaded.query([1, 2])] == ["a"]
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(StoreError, match="cannot load"):
        make_store(persist_path=str(garbage))


async def test_save_refuses_what_json_cannot_hold(tmp_path: Path) -> None:
    store = make_store(persist_path=str(tmp_path / "s.npz"))
    await store.upsert([{"id": "a", "values": [1, 2], "metadata": {"when": object()}}])
    with pytest.raises(StoreError, match="JSON"):
        await store.backend.save()  # type: ignore[attr-defined]
    assert names_in(tmp_path) == []
    with pytest.raises(ConfigurationError, match="persist_path"):
        await make_store().backend.save()  # type: ignore[attr-defined]


# --- top-k selection ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.sampled_from([1, 5, 100, 9000, 20000]),
    k=st.integers(1, 50),
    distinct=st.sampled_from([3, 50, 100000]),
    seed=st.integers(0, 2**32 - 1),
)
def test_select_top_equals_a_stable_sort(n: int, k: int, distinct: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = (rng.integers(0, distinct, n) / 7).astype(np.float32)
    keys[rng.random(n) < 0.1] = -np.inf
    expected = np.argsort(-keys, kind="stable")[:k]
    np.testing.assert_array_equal(select_top(keys, k), expected)
