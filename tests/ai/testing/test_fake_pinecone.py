"""The Pinecone fake, verified by the official `pinecone` SDK (10.x) and by raw HTTP where
the SDK would refuse a request before sending it."""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Iterator

import httpx
import pinecone
import pytest
from pinecone import Pinecone
from pinecone.errors.exceptions import (
    ApiError,
    NotFoundError,
    PayloadTooLargeError,
    PineconeTimeoutError,
    ResponseParsingError,
    ServiceError,
    UnauthorizedError,
)

import ai.testing
from ai.testing import FakePineconeServer, Fault, PineconeOperation
from tests.ai.testing.test_fake_cli import _command

KEY = "pcsk_test_key_0123456789"
SERVERLESS = {"serverless": {"cloud": "aws", "region": "us-east-1"}}


@pytest.fixture(scope="module")
def pinecone_server() -> Iterator[FakePineconeServer]:
    with FakePineconeServer(api_key=KEY, dimension=3, metric="cosine") as server:
        yield server


@pytest.fixture
def fake(pinecone_server: FakePineconeServer) -> Iterator[FakePineconeServer]:
    pinecone_server.reset()
    yield pinecone_server
    pinecone_server.reset()


@pytest.fixture
def pc(fake: FakePineconeServer) -> Iterator[Pinecone]:
    no_retries = pinecone.RetryConfig(max_retries=0)
    with Pinecone(api_key=KEY, host=fake.url, retry_config=no_retries) as client:
        yield client


@pytest.fixture
def index(pc: Pinecone, fake: FakePineconeServer) -> Iterator[pinecone.Index]:
    with pc.Index(host=fake.url) as idx:
        yield idx


@pytest.fixture
def raw(fake: FakePineconeServer) -> Iterator[httpx.Client]:
    """Plain HTTP with the key, for requests the SDK validates away."""
    headers = {"Api-Key": KEY, "X-Pinecone-API-Version": "2025-10"}
    with httpx.Client(base_url=fake.url, headers=headers, timeout=5) as client:
        yield client


def _seed(index: pinecone.Index, namespace: str = "docs") -> None:
    index.upsert(
        vectors=[
            ("a", [1.0, 0.0, 0.0], {"genre": "drama", "year": 2019, "tags": ["x", "y"]}),
            ("b", [0.0, 1.0, 0.0], {"genre": "comedy", "year": 2021}),
            ("c", [0.7, 0.7, 0.0], {"genre": "drama", "year": 2023}),
            {"id": "d", "values": [0.0, 0.0, 1.0]},
        ],
        namespace=namespace,
    )


# -- control plane -------------------------------------------------------------------------


def test_sdk_finds_the_index_through_the_control_plane(
    pc: Pinecone, fake: FakePineconeServer
) -> None:
    model = pc.describe_index(fake.index_name)
    assert model.host == fake.url
    assert model.status.ready
    assert model.dimension == 3
    assert model.metric == "cosine"
    assert [i.name for i in pc.list_indexes()] == [fake.index_name]
    assert pc.has_index(fake.index_name)
    assert not pc.has_index("missing-index")
    with pytest.raises(NotFoundError):
        pc.describe_index("missing-index")
    with pc.Index(name=fake.index_name) as idx:
        assert idx.describe_index_stats().dimension == 3


def test_created_indexes_get_their_own_host(pc: Pinecone, fake: FakePineconeServer) -> None:
    pc.create_index(name="images", dimension=2, metric="euclidean", spec=SERVERLESS)
    model = pc.describe_index("images")
    assert model.host == fake.host_for("images") == f"{fake.url}/index/images"
    with pc.Index(name="images") as idx:
        idx.upsert(vectors=[("p", [0.0, 1.0]), ("q", [3.0, 4.0])])
        scores = {m.id: m.score for m in idx.query(vector=[0.0, 0.0], top_k=2).matches}
    assert scores == {"p": pytest.approx(1.0), "q": pytest.approx(25.0)}  # squared distance
    assert fake.vector_count(index_name="images") == 2
    assert fake.vector_count() == 0
    with pytest.raises(ApiError) as taken:
        pc.create_index(name="images", dimension=2, spec=SERVERLESS)
    assert taken.value.status_code == 409
    pc.delete_index("images", timeout=-1)
    assert not pc.has_index("images")


def test_legacy_api_version_gets_the_2025_index_shape(
    raw: httpx.Client, fake: FakePineconeServer
) -> None:
    body = raw.get(f"/indexes/{fake.index_name}").json()
    assert body["dimension"] == 3
    assert body["metric"] == "cosine"
    assert body["spec"] == {"serverless": {"cloud": "aws", "region": "us-east-1"}}
    assert body["host"] == fake.url
    missing = raw.get("/indexes/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": "NOT_FOUND", "message": "Resource nope not found"},
        "status": 404,
    }


# -- data plane through the SDK ------------------------------------------------------------


def test_upsert_query_fetch_delete_stats(index: pinecone.Index, fake: FakePineconeServer) -> None:
    _seed(index)
    result = index.query(
        vector=[1.0, 0.1, 0.0],
        top_k=5,
        namespace="docs",
        filter={"genre": {"$eq": "drama"}},
        include_metadata=True,
    )
    assert [m.id for m in result.matches] == ["a", "c"]
    assert result.matches[0].score == pytest.approx(1 / math.sqrt(1.01))
    assert result.matches[0].metadata == {"genre": "drama", "year": 2019.0, "tags": ["x", "y"]}
    assert result.matches[0].values == []
    assert result.namespace == "docs"
    assert result.usage is not None and result.usage.read_units >= 1

    fetched = index.fetch(ids=["b", "missing"], namespace="docs")
    assert set(fetched.vectors) == {"b"}
    assert fetched.vectors["b"].values == [0.0, 1.0, 0.0]

    stats = index.describe_index_stats()
    assert stats.total_vector_count == 4
    assert stats.namespaces["docs"].vector_count == 4
    assert stats.dimension == 3
    assert stats.metric == "cosine"

    index.delete(ids=["a", "never-there"], namespace="docs")
    index.delete(filter={"year": {"$gte": 2023}}, namespace="docs")
    assert fake.vector_count("docs") == 2
    index.delete(delete_all=True, namespace="docs")
    assert index.describe_index_stats().total_vector_count == 0


def test_query_by_id_with_values_and_in_filters(index: pinecone.Index) -> None:
    _seed(index, namespace="")
    result = index.query(id="a", top_k=2, include_values=True, filter={"tags": {"$in": ["y"]}})
    assert [m.id for m in result.matches] == ["a"]
    assert result.matches[0].values == [1.0, 0.0, 0.0]
    assert index.query(id="nope", top_k=2).matches == []
    stats = index.describe_index_stats()
    assert stats.namespaces["__default__"].vector_count == 4


def test_namespaces_list_describe_delete(index: pinecone.Index) -> None:
    for name in ("ns-a", "ns-b", "other"):
        index.upsert(vectors=[("v", [1.0, 2.0, 3.0])], namespace=name)
    pages = list(index.list_namespaces(limit=2))
    assert [[ns.name for ns in page.namespaces] for page in pages] == [["ns-a", "ns-b"], ["other"]]
    assert pages[0].total_count == 3
    assert [ns.name for p in index.list_namespaces(prefix="ns-") for ns in p.namespaces] == [
        "ns-a",
        "ns-b",
    ]
    assert index.describe_namespace(name="other").record_count == 1
    index.delete_namespace(name="other")
    with pytest.raises(NotFoundError):
        index.describe_namespace(name="other")
    with pytest.raises(NotFoundError, match="Namespace not found"):
        index.delete(ids=["v"], namespace="never-created")


def test_fetch_by_metadata_pages(index: pinecone.Index) -> None:
    index.upsert(
        vectors=[(f"v{i}", [1.0, float(i), 0.0], {"even": i % 2 == 0}) for i in range(7)],
        namespace="n",
    )
    seen: list[str] = []
    token = None
    while True:
        page = index.fetch_by_metadata(
            filter={"even": True}, namespace="n", limit=2, pagination_token=token
        )
        seen.extend(page.vectors)
        if page.pagination is None:
            break
        token = page.pagination.next
    assert sorted(seen) == ["v0", "v2", "v4", "v6"]


def test_dotproduct_scores(pc: Pinecone) -> None:
    pc.create_index(name="dots", dimension=2, metric="dotproduct", spec=SERVERLESS)
    with pc.Index(name="dots") as idx:
        idx.upsert(vectors=[("big", [10.0, 0.0]), ("small", [1.0, 1.0])])
        matches = idx.query(vector=[1.0, 0.5], top_k=2).matches
    assert [(m.id, m.score) for m in matches] == [("big", 10.0), ("small", 1.5)]


async def test_async_sdk_against_the_async_context_manager() -> None:
    async with (
        FakePineconeServer(api_key=KEY, dimension=2) as server,
        pinecone.AsyncIndex(host=server.url, api_key=KEY) as idx,
    ):
        await idx.upsert(vectors=[("a", [1.0, 0.0])], namespace="x")
        result = await idx.query(vector=[1.0, 0.0], top_k=1, namespace="x")
        assert [m.id for m in result.matches] == ["a"]


# -- what Pinecone refuses -----------------------------------------------------------------


def test_wrong_key_raises_the_sdks_unauthorized_error(fake: FakePineconeServer) -> None:
    with Pinecone(api_key="pcsk_wrong_key_000000000", host=fake.url) as client:
        with pytest.raises(UnauthorizedError) as control:
            client.list_indexes()
        with client.Index(host=fake.url) as idx, pytest.raises(UnauthorizedError) as data:
            idx.describe_index_stats()
    assert control.value.body == {
        "error": {"code": "UNAUTHENTICATED", "message": "Invalid API Key"},
        "status": 401,
    }
    assert data.value.body == {"code": 16, "message": "Invalid API Key", "details": []}
    logged = fake.requests[-1]
    assert not logged.authenticated
    assert "wrong" not in logged.headers["api-key"]


def test_requests_are_logged_with_the_key_masked(
    index: pinecone.Index, fake: FakePineconeServer
) -> None:
    index.describe_index_stats()
    logged = fake.requests[-1]
    assert logged.operation is PineconeOperation.DESCRIBE_INDEX_STATS
    assert logged.api_version == "2026-07"
    assert KEY not in str(logged.describe())
    assert fake.request_count("describe_index_stats") == 1


def test_dimension_mismatch_and_bad_filters_are_400s(index: pinecone.Index) -> None:
    with pytest.raises(ApiError) as upsert:
        index.upsert(vectors=[("a", [1.0, 2.0])])
    assert upsert.value.status_code == 400
    assert upsert.value.body == {
        "code": 3,
        "message": "Vector dimension 2 does not match the dimension of the index 3",
        "details": [],
    }
    with pytest.raises(ApiError, match="Query vector dimension 4 does not match"):
        index.query(vector=[1.0, 2.0, 3.0, 4.0], top_k=1)
    with pytest.raises(ApiError, match="Invalid filter") as bad_filter:
        index.query(vector=[1.0, 2.0, 3.0], top_k=1, filter={"year": {"$gte": "2020"}})
    assert bad_filter.value.status_code == 400
    with pytest.raises(ApiError, match="do not support describing index stats"):
        index.describe_index_stats(filter={"genre": "drama"})


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"x": None}, "got null"),
        ({"x": {"nested": 1}}, "got dict"),
        ({"x": [1, 2]}, "got list"),
        ({"x": "a" * 41_000}, "exceeds the limit of 40960 bytes"),
        ({"x": 10**400}, "is not finite"),
    ],
)
def test_metadata_pinecone_cannot_store_is_refused(
    raw: httpx.Client, metadata: dict[str, object], message: str
) -> None:
    reply = raw.post(
        "/vectors/upsert",
        json={"vectors": [{"id": "a", "values": [1, 2, 3], "metadata": metadata}]},
    )
    assert reply.status_code == 400
    assert reply.json()["code"] == 3
    assert message in reply.json()["message"]


@pytest.mark.parametrize("char", ["a", "é", "日", "😀"])
def test_metadata_size_counts_utf8_bytes(raw: httpx.Client, char: str) -> None:
    """40 KB of metadata is 40,960 bytes of its JSON in UTF-8, not ASCII-escaped."""
    overhead = len('{"t":""}')
    fill = (40 * 1024 - overhead) // len(char.encode())
    text = char * fill + "a" * (40 * 1024 - overhead - fill * len(char.encode()))
    for extra, status in (("", 200), ("a", 400)):
        vector = {"id": "a", "values": [1, 2, 3], "metadata": {"t": text + extra}}
        reply = raw.post("/vectors/upsert", json={"vectors": [vector]})
        assert reply.status_code == status, reply.text
    assert "Metadata size is 40961 bytes" in reply.json()["message"]


def test_limits(raw: httpx.Client, index: pinecone.Index) -> None:
    too_many = [{"id": f"v{i}", "values": [1, 2, 3]} for i in range(1001)]
    assert raw.post("/vectors/upsert", json={"vectors": too_many}).status_code == 400
    assert raw.post("/query", json={"vector": [1, 2, 3], "topK": 10_001}).status_code == 400
    assert raw.post("/query", json={"vector": [1, 2, 3], "topK": 10_000}).status_code == 200
    non_ascii = {"vectors": [{"id": "café", "values": [1, 2, 3]}]}
    assert raw.post("/vectors/upsert", json=non_ascii).status_code == 400
    both = raw.post("/vectors/delete", json={"deleteAll": True, "ids": ["a"]})
    assert both.json()["message"] == "No explicit IDs allowed when delete_all=true"
    big = [(f"v{i}", [0.123456789] * 3, {"pad": "p" * 30_000}) for i in range(80)]
    with pytest.raises(PayloadTooLargeError):
        index.upsert(vectors=big)
    not_json = raw.post("/query", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400


# -- faults --------------------------------------------------------------------------------


def test_a_rate_limit_is_retried_by_the_sdk(fake: FakePineconeServer) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=0), operation="query")
    with Pinecone(api_key=KEY, host=fake.url) as client, client.Index(host=fake.url) as idx:
        assert idx.query(vector=[1.0, 0.0, 0.0], top_k=1).matches == []
    assert fake.request_count("query") == 2
    assert [r.fault for r in fake.requests] == ["rate_limit", None]


@pytest.fixture
def no_sdk_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own seam for its retry sleeps: its data-plane `Index` always retries
    408/429/5xx three times (it ignores the client's `retry_config`)."""
    monkeypatch.setattr("pinecone._internal.http_client._retry_sleep", lambda _: None)


@pytest.mark.usefixtures("no_sdk_backoff")
def test_status_faults_reach_the_caller(index: pinecone.Index, fake: FakePineconeServer) -> None:
    fake.faults.add(Fault.server_error(503), times=4)
    with pytest.raises(ServiceError) as failure:
        index.describe_index_stats()
    assert failure.value.body is not None
    assert failure.value.body["code"] == 14
    assert fake.request_count("describe_index_stats") == 4  # the first try and 3 retries
    fake.faults.push(Fault.auth_error(), operation=PineconeOperation.FETCH)
    with pytest.raises(UnauthorizedError):
        index.fetch(ids=["a"])
    fake.faults.add(Fault.rate_limit(retry_after=3), times=4)
    with pytest.raises(pinecone.errors.exceptions.RateLimitError) as limited:
        index.describe_index_stats()
    assert limited.value.retry_after == 3


@pytest.mark.usefixtures("no_sdk_backoff")
def test_transport_faults(index: pinecone.Index, fake: FakePineconeServer) -> None:
    fake.faults.push(Fault.disconnect(), operation="upsert")
    index.upsert(vectors=[("a", [1.0, 0.0, 0.0])])  # the SDK retries the dropped connection
    assert fake.request_count("upsert") == 2
    assert fake.vector_count() == 1
    with pinecone.Index(host=fake.url, api_key=KEY, timeout=0.2) as impatient:
        fake.faults.add(Fault.slow_first_byte(2.0), times=4)
        with pytest.raises(PineconeTimeoutError):
            impatient.describe_index_stats()
    fake.faults.push(Fault.malformed_json())
    with pytest.raises(ResponseParsingError):
        index.describe_index_stats()


def test_faults_that_mean_nothing_here_are_refused(fake: FakePineconeServer) -> None:
    with pytest.raises(ValueError, match="does not apply"):
        fake.faults.push(Fault.unknown_model())
    with pytest.raises(ValueError, match="operation must be one of"):
        fake.faults.push(Fault.disconnect(), operation="chat")


def test_http_fault_control(raw: httpx.Client, fake: FakePineconeServer) -> None:
    rule = {"kind": "server_error", "status": 502, "operation": "query"}
    created = raw.post("/_fake/faults", json=rule)
    assert created.status_code == 201
    assert created.json()["rule"]["operation"] == "query"
    assert raw.post("/_fake/faults", json={"kind": "stream_error_event"}).status_code == 400
    assert raw.post("/_fake/faults", json={"kind": "rate_limit", "model": "x"}).status_code == 400
    assert raw.get("/_fake/faults").json()["faults"][0]["operation"] == "query"
    assert raw.post("/query", json={"vector": [1, 2, 3], "topK": 1}).status_code == 502
    logged = raw.get("/_fake/requests").json()["requests"]
    assert logged[-1]["fault"] == "server_error"
    assert KEY not in str(logged)
    assert raw.post("/_fake/reset").json() == {"status": "reset"}
    assert raw.get("/_fake/health").json() == {"status": "ok"}


def test_unknown_index_paths_and_routes(raw: httpx.Client) -> None:
    assert raw.post("/index/nope/query", json={"topK": 1, "vector": [1, 2, 3]}).status_code == 404
    unknown = raw.get("/not/a/route")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == 5


def test_reset_empties_the_fake(index: pinecone.Index, fake: FakePineconeServer) -> None:
    _seed(index)
    fake.reset()
    assert fake.vector_count("docs") == 0
    assert fake.requests == []


def test_public_names() -> None:
    for name in ("FakePineconeServer", "PineconeOperation", "PineconeRequest"):
        assert name in ai.testing.__all__


def test_cli_serves_the_pinecone_fake() -> None:
    arguments = ["fake-pinecone", "--port", "0", "--api-key", "pcsk_cli_secret_123456"]
    process = subprocess.Popen(
        [*_command(), *arguments, "--dimension", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(banner)
        assert "pcsk_cli_secret" not in text
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        assert match, text
        with (
            Pinecone(api_key="pcsk_cli_secret_123456", host=match.group(1)) as client,
            client.Index(name="devora-embeddings") as idx,
        ):
            idx.upsert(vectors=[("a", [1.0, 0.0])])
            assert idx.describe_index_stats().total_vector_count == 1
    finally:
        process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
