"""Pinecone backend through the public `VectorStore`, against the loopback Pinecone fake over
real sockets. Result order and scores are checked against a numpy brute force, filters
against the reference `matches`, retries on an injected `FakeClock`."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from ai.calls.retry import ExponentialBackoff, RetryPolicy
from ai.core.clock import FakeClock
from ai.errors import ConfigurationError, StoreError
from ai.rag.filters import matches, parse_filter
from ai.rag.stores.pinecone import API_VERSION, TEXT_KEY, PineconeBackend
from ai.rag.types import DistanceMetric, VectorRecord
from ai.rag.vector_store import VectorStore, VectorStoreConfig
from ai.testing import FakePineconeServer, Fault

DIM = 8
KEY = "pcsk_store_secret_0123456789"
METRIC_NAMES = {
    DistanceMetric.COSINE: "cosine",
    DistanceMetric.DOT: "dotproduct",
    DistanceMetric.EUCLIDEAN: "euclidean",
}


@pytest.fixture(scope="module")
def pinecone_server() -> Iterator[FakePineconeServer]:
    with FakePineconeServer(api_key=KEY, dimension=DIM) as server:
        yield server


@pytest.fixture
def fake(pinecone_server: FakePineconeServer) -> Iterator[FakePineconeServer]:
    pinecone_server.reset()
    yield pinecone_server
    pinecone_server.reset()


def create_index(fake: FakePineconeServer, name: str, metric: str, dimension: int = DIM) -> str:
    """A new index on the fake (through its control plane); returns its data-plane host."""
    serverless = {"serverless": {"cloud": "aws", "region": "us-east-1"}}
    body = {"name": name, "dimension": dimension, "metric": metric, "spec": serverless}
    reply = httpx.post(f"{fake.url}/indexes", json=body, headers={"Api-Key": KEY})
    assert reply.status_code == 201, reply.text
    return fake.host_for(name)


def make_store(
    host: str,
    metric: DistanceMetric = DistanceMetric.COSINE,
    clock: FakeClock | None = None,
    api_key: str = KEY,
    **options: Any,
) -> VectorStore:
    config = VectorStoreConfig(
        store_type="pinecone", api_key=api_key, index_host=host, metric=metric, **options
    )
    retry = RetryPolicy(max_retries=3, backoff=ExponentialBackoff(initial=0.5, jitter=0))
    backend = PineconeBackend(config, clock=clock or FakeClock(), retry=retry)
    return VectorStore(config, backend=backend)


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
    """Reference ranking (devora's convention: higher is closer)."""
    m, q = matrix.astype(np.float64), query.astype(np.float64)
    if metric is DistanceMetric.COSINE:
        scores = (m / np.linalg.norm(m, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
    elif metric is DistanceMetric.DOT:
        scores = m @ q
    else:
        scores = -np.linalg.norm(m - q, axis=1)
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(i) for i in order], scores[order]


# -- search --------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", list(DistanceMetric), ids=[m.value for m in DistanceMetric])
async def test_upsert_is_idempotent_and_query_order_matches_numpy(
    fake: FakePineconeServer, metric: DistanceMetric
) -> None:
    host = create_index(fake, f"m-{metric.value}", METRIC_NAMES[metric])
    vectors = random_vectors(300)
    async with make_store(host, metric) as store:
        assert await store.upsert(records(vectors)) == 300
        assert await store.upsert(records(vectors)) == 300
        assert await store.count() == 300
        for seed in range(5):
            query = random_vectors(1, seed=100 + seed)[0]
            found = await store.query(query, top_k=10)
            order, scores = brute_force(vectors, query, metric, 10)
            assert [m.id for m in found] == [f"r{i}" for i in order]
            assert [m.score for m in found] == pytest.approx(list(scores), rel=1e-4, abs=1e-4)
            assert found[0].text == f"text {order[0]}"
            assert TEXT_KEY not in found[0].metadata


async def test_euclidean_scores_are_negated_distances_not_squared(fake: FakePineconeServer) -> None:
    host = create_index(fake, "plane", "euclidean", dimension=2)
    async with make_store(host, DistanceMetric.EUCLIDEAN) as store:
        await store.upsert([{"id": "far", "values": [3.0, 4.0]}, {"id": "near", "values": [0, 1]}])
        found = await store.query([0.0, 0.0], top_k=2)
    assert [(m.id, m.score) for m in found] == [("near", -1.0), ("far", -5.0)]


FILTERS: list[dict[str, Any]] = [
    {"parity": "even"},
    {"n": {"$gte": 10, "$lt": 40}},
    {"tags": {"$in": ["t1", "t3"]}},
    {"$or": [{"parity": "odd"}, {"n": {"$lte": 4}}]},
    {"tags": {"$nin": ["t0"]}, "parity": {"$ne": "odd"}},
    {"missing": {"$exists": False}},
]


@pytest.mark.parametrize("raw_filter", FILTERS, ids=[str(f) for f in FILTERS])
async def test_filters_agree_with_the_reference_semantics(
    fake: FakePineconeServer, raw_filter: dict[str, Any]
) -> None:
    vectors = random_vectors(60, seed=3)
    rows = records(vectors)
    parsed = parse_filter(raw_filter)
    expected = {r.id for r in rows if matches(parsed, r.metadata)}
    async with make_store(fake.url) as store:
        await store.upsert(rows)
        found = await store.query(vectors[0], top_k=60, filter=raw_filter)
        assert {m.id for m in found} == expected
        assert await store.count(filter=raw_filter) == len(expected)
        await store.delete_by_filter(raw_filter)
        assert await store.count() == 60 - len(expected)


async def test_namespaces_are_separate(fake: FakePineconeServer) -> None:
    vectors = random_vectors(6)
    async with make_store(fake.url, namespace="tenant-a") as store:
        await store.upsert(records(vectors[:2]))
        await store.upsert(records(vectors[2:5]), namespace="tenant-b")
        await store.upsert(records(vectors[5:]), namespace="")
        stats = await store.stats()
        assert stats.namespaces == {"tenant-a": 2, "tenant-b": 3, "": 1}
        assert stats.dimension == DIM
        assert stats.metric is DistanceMetric.COSINE
        assert await store.count() == 2
        assert await store.count(namespace="tenant-b") == 3
        found = await store.query(vectors[3], top_k=10, namespace="tenant-b")
        assert {m.id for m in found} == {"r0", "r1", "r2"}
        assert await store.count(namespace="nobody") == 0


# -- fetch, delete, count ------------------------------------------------------------------


async def test_fetch_delete_and_metadata_round_trip(fake: FakePineconeServer) -> None:
    vectors = random_vectors(4)
    rows = records(vectors)
    rows[0] = VectorRecord("r0", vectors[0], {"n": 0, "gone": None, "flag": True}, text="zero")
    async with make_store(fake.url, metric=DistanceMetric.DOT) as store:
        await store.upsert(rows)
        fetched = await store.fetch(["r0", "r1", "missing"])
        assert set(fetched) == {"r0", "r1"}
        np.testing.assert_allclose(fetched["r1"].values, vectors[1], rtol=1e-6)
        assert fetched["r0"].metadata == {"n": 0, "flag": True}  # None dropped, 0 == 0.0
        assert fetched["r0"].text == "zero"
        with_values = await store.query(vectors[1], top_k=1, include_values=True)
        assert with_values[0].values is not None
        np.testing.assert_allclose(with_values[0].values, vectors[1], rtol=1e-6)
        await store.delete(["r0", "never-stored"])
        assert set(await store.fetch(["r0", "r1"])) == {"r1"}
        await store.delete(["x"], namespace="never-created")  # Pinecone's 404: not an error
        await store.delete_by_filter({"n": 1}, namespace="never-created")
        assert await store.count() == 3


async def test_cosine_near_float32s_limit_is_not_a_zero_vector(fake: FakePineconeServer) -> None:
    async with make_store(fake.url) as store:
        await store.upsert(
            [{"id": "big", "values": [3e38] * DIM}, {"id": "one", "values": [1] * DIM}]
        )
        stored = (await store.fetch(["big"]))["big"].values
        np.testing.assert_allclose(stored, [DIM**-0.5] * DIM, rtol=1e-6)
        hits = await store.query([3e38] * DIM, top_k=2)
        assert [round(hit.score, 5) for hit in hits] == [1.0, 1.0]


async def test_large_inputs_are_batched_within_pinecone_limits(fake: FakePineconeServer) -> None:
    host = create_index(fake, "tiny", "cosine", dimension=2)
    rows = [{"id": f"id-{i:05d}", "values": [1.0, i + 1.0]} for i in range(2_500)]
    async with make_store(host) as store:
        await store.upsert(rows)
        upserts = [r for r in fake.requests if r.operation == "upsert"]
        assert [len(r.body["vectors"]) for r in upserts] == [1_000, 1_000, 500]
        fetched = await store.fetch([r["id"] for r in rows])
        assert len(fetched) == 2_500
        fetches = [r for r in fake.requests if r.operation == "fetch"]
        assert len(fetches) >= 3
        text = "x" * 30_000  # ~30 KB per vector: 2 MB holds fewer than 70
        await store.upsert([{"id": f"t{i}", "values": [1, 0], "text": text} for i in range(150)])
        big = [r for r in fake.requests if r.operation == "upsert"][3:]
        assert len(big) == 3
        assert all(int(r.headers["content-length"]) <= 2 * 1024 * 1024 for r in big)
        await store.delete([r["id"] for r in rows])
        assert await store.count() == 150


async def test_count_with_a_filter_above_ten_thousand_pages_by_metadata(
    fake: FakePineconeServer,
) -> None:
    host = create_index(fake, "many", "dotproduct", dimension=2)
    rows = [{"id": f"v{i}", "values": [1.0, 0.5], "metadata": {"k": i % 2}} for i in range(10_002)]
    async with make_store(host, DistanceMetric.DOT) as store:
        await store.upsert(rows)
        assert await store.count(filter={"k": {"$gte": 0}}) == 10_002
        assert await store.count(filter={"k": 1}) == 5_001
    assert fake.request_count("fetch_by_metadata") == 11


# -- what Pinecone cannot store ------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "a", "values": [1] * DIM, "metadata": {"x": {"nested": 1}}}, "cannot be stored"),
        ({"id": "a", "values": [1] * DIM, "metadata": {"x": [1, 2]}}, "cannot be stored"),
        ({"id": "a", "values": [1] * DIM, "metadata": {"x": float("nan")}}, "cannot be stored"),
        ({"id": "a", "values": [1] * DIM, "metadata": {TEXT_KEY: "t"}}, "reserved"),
        ({"id": "café", "values": [1] * DIM}, "ASCII"),
        ({"id": "a", "values": [1] * DIM, "text": "é" * 30_000}, "at most 40960"),
    ],
)
async def test_records_pinecone_would_refuse_fail_before_sending(
    fake: FakePineconeServer, record: dict[str, Any], message: str
) -> None:
    async with make_store(fake.url) as store:
        with pytest.raises(ConfigurationError, match=message):
            await store.upsert([record])
    assert fake.request_count("upsert") == 0


@pytest.mark.parametrize("char", ["a", "é", "日", "😀", '"', "\n"])
async def test_the_fake_and_the_backend_measure_metadata_alike(
    fake: FakePineconeServer, char: str
) -> None:
    """Text filling Pinecone's 40 KB exactly is stored; one byte more is refused before
    sending. The fake counted ASCII-escaped JSON, so CJK text the backend (and Pinecone)
    accept came back as a 400."""
    width = len(json.dumps(char, ensure_ascii=False).encode()) - 2  # '"' and newline: 2
    overhead = len(f'{{"{TEXT_KEY}":""}}')
    fill = (40 * 1024 - overhead) // width
    text = char * fill + "a" * (40 * 1024 - overhead - fill * width)
    async with make_store(fake.url) as store:
        await store.upsert([{"id": "full", "values": [1] * DIM, "text": text}])
        assert (await store.fetch(["full"]))["full"].text == text
        with pytest.raises(ConfigurationError, match="take 40961 bytes"):
            await store.upsert([{"id": "over", "values": [1] * DIM, "text": text + "a"}])
    assert fake.request_count("upsert") == 1


async def test_top_k_above_pinecones_maximum(fake: FakePineconeServer) -> None:
    async with make_store(fake.url) as store:
        with pytest.raises(ConfigurationError, match="at most 10000"):
            await store.query([1.0] * DIM, top_k=10_001)


# -- retries and errors --------------------------------------------------------------------


async def test_429_and_503_are_retried_with_the_waits_on_the_clock(
    fake: FakePineconeServer,
) -> None:
    clock = FakeClock()
    fake.faults.push(Fault.rate_limit(retry_after=2), operation="upsert")
    fake.faults.push(Fault.server_error(503), operation="upsert")
    fake.faults.push(Fault.disconnect(), operation="query")
    fake.faults.push(Fault.malformed_json(), operation="query")
    async with make_store(fake.url, clock=clock) as store:
        await store.upsert(records(random_vectors(3)))
        assert clock.sleeps == [2.0, 1.0]  # Retry-After, then backoff retry 2 (0.5 * 2)
        found = await store.query(random_vectors(1)[0], top_k=3)
    assert len(found) == 3
    assert clock.sleeps == [2.0, 1.0, 0.5, 1.0]
    assert fake.request_count("upsert") == 3
    assert fake.vector_count() == 3


async def test_persistent_failure_becomes_one_store_error(fake: FakePineconeServer) -> None:
    clock = FakeClock()
    fake.faults.add(Fault.server_error(503), operation="describe_index_stats")
    async with make_store(fake.url, clock=clock) as store:
        with pytest.raises(StoreError, match=r"describe_index_stats failed after 4 attempt\(s\)"):
            await store.stats()
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_dead_host_is_a_store_error_without_waiting() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = FakeClock()
    async with make_store(f"http://127.0.0.1:{port}", clock=clock) as store:
        with pytest.raises(StoreError, match="PINECONE_INDEX_HOST") as failure:
            await store.count()
    assert len(clock.sleeps) == 3
    assert KEY not in str(failure.value)


async def test_a_wrong_key_is_not_retried_and_never_shown(fake: FakePineconeServer) -> None:
    clock = FakeClock()
    secret = "my-very-secret-pinecone-key"
    async with make_store(fake.url, clock=clock, api_key=secret) as store:
        with pytest.raises(StoreError, match="PINECONE_API_KEY") as failure:
            await store.upsert(records(random_vectors(1)))
    assert "401" in str(failure.value)
    assert secret not in str(failure.value)
    assert secret not in repr(failure.value.__cause__)
    assert clock.sleeps == []


async def test_bad_request_keeps_pinecones_message(fake: FakePineconeServer) -> None:
    async with make_store(fake.url) as store:
        store.dimension = 3  # pretend the caller disagrees with the index
        with pytest.raises(StoreError, match="Vector dimension 3 does not match"):
            await store.upsert([{"id": "a", "values": [1.0, 2.0, 3.0]}])


async def test_requests_carry_the_key_header_and_api_version(fake: FakePineconeServer) -> None:
    async with make_store(fake.url) as store:
        await store.count()
    sent = fake.requests[-1]
    assert sent.authenticated
    assert sent.api_version == API_VERSION


# -- finding the index ---------------------------------------------------------------------


async def test_host_resolved_once_through_the_control_plane(fake: FakePineconeServer) -> None:
    config = VectorStoreConfig(
        store_type="pinecone", api_key=KEY, index_name=fake.index_name, dimension=DIM
    )
    backend = PineconeBackend(config, control_plane_url=fake.url, clock=FakeClock())
    async with VectorStore(config, backend=backend) as store:
        await store.upsert(records(random_vectors(2)))
        assert await store.count() == 2
    assert fake.request_count("describe_index") == 1


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"metric": DistanceMetric.DOT}, ConfigurationError, "uses metric 'cosine'"),
        ({"dimension": 4}, ConfigurationError, "holds 8-d vectors"),
        ({"index_name": "nope"}, StoreError, "describe_index failed"),
    ],
)
async def test_control_plane_checks(
    fake: FakePineconeServer, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    settings = {"store_type": "pinecone", "api_key": KEY, "index_name": fake.index_name}
    config = VectorStoreConfig(**{**settings, **options})
    backend = PineconeBackend(config, control_plane_url=fake.url, clock=FakeClock())
    async with VectorStore(config, backend=backend) as store:
        with pytest.raises(error, match=message):
            await store.count()


async def test_environment_variables_configure_the_default_backend(
    fake: FakePineconeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINECONE_API_KEY", KEY)
    monkeypatch.setenv("PINECONE_INDEX_HOST", fake.url)
    async with VectorStore(VectorStoreConfig(store_type="pinecone")) as store:
        await store.upsert([{"id": "a", "values": [random.random() + 0.1 for _ in range(DIM)]}])
        assert await store.count() == 1


def test_missing_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PINECONE_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="PINECONE_API_KEY"):
        VectorStore(VectorStoreConfig(store_type="pinecone", index_host="http://127.0.0.1:1"))
