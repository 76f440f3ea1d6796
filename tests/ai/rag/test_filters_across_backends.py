"""One filter language, three backends: memory, pgvector and the Pinecone fake agree.

For random metadata rows and random filters, each store returns exactly the ids that the
reference semantics (`ai.rag.filters.matches`) select.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai.rag import VectorStore, VectorStoreConfig
from ai.rag.filters import matches, parse_filter
from ai.testing import FakePineconeServer
from tests.ai.rag.filter_strategies import filters, scalars, strings

KEY = "pcsk_cross_backend_0123456789"
DIM = 4

# What all three can store: Pinecone takes strings, numbers, booleans and lists of strings.
storable_value = st.one_of(scalars, scalars, st.lists(strings, max_size=3))
storable_rows = st.dictionaries(
    st.sampled_from(["genre", "year", "tags", "odd"]), storable_value, max_size=4
)


@pytest.fixture(scope="module")
def pinecone() -> Iterator[FakePineconeServer]:
    with FakePineconeServer(api_key=KEY, dimension=DIM) as server:
        yield server


async def ids_from_every_store(
    rows: list[dict[str, Any]], filter: dict[str, Any], pg_url: str, pinecone_url: str
) -> dict[str, set[str]]:
    namespace = uuid.uuid4().hex
    records = [
        {"id": f"r{i}", "values": [1.0, 0.5, 0.25, float(i + 1)], "metadata": row}
        for i, row in enumerate(rows)
    ]
    configs = {
        "memory": VectorStoreConfig(store_type="memory", dimension=DIM),
        "pgvector": VectorStoreConfig(
            store_type="pgvector", connection_string=pg_url, dimension=DIM, index_name="cross"
        ),
        "pinecone": VectorStoreConfig(
            store_type="pinecone", api_key=KEY, index_host=pinecone_url, dimension=DIM
        ),
    }
    found: dict[str, set[str]] = {}
    for name, config in configs.items():
        async with VectorStore(config) as store:
            await store.upsert(records, namespace=namespace)
            hits = await store.query(
                [1.0, 0.5, 0.25, 1.0], top_k=len(rows), filter=filter, namespace=namespace
            )
            found[name] = {hit.id for hit in hits}
            assert await store.count(namespace=namespace, filter=filter) == len(found[name])
    return found


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(storable_rows, min_size=1, max_size=8), filter=filters)
def test_memory_pgvector_and_pinecone_return_the_same_ids(
    rows: list[dict[str, Any]],
    filter: dict[str, Any],
    postgres_test_url: str,
    pinecone: FakePineconeServer,
) -> None:
    parsed = parse_filter(filter)
    expected = {f"r{i}" for i, row in enumerate(rows) if matches(parsed, row)}
    found = asyncio.run(ids_from_every_store(rows, filter, postgres_test_url, pinecone.url))
    assert found == {"memory": expected, "pgvector": expected, "pinecone": expected}, filter


# --- long $in / $nin lists: typed arrays in pgvector, same answers everywhere -------------------


def _mixed_rows(n: int) -> list[dict[str, Any]]:
    """Strings, ints, floats (equal to ints or not), booleans, lists of strings, gaps."""
    kinds: list[Any] = [
        lambda i: f"s{i}",
        lambda i: i,
        lambda i: float(i),
        lambda i: i + 0.5,
        lambda i: i % 2 == 0,
        lambda i: [f"s{i}", f"t{i}"],
        lambda i: None,
        lambda i: str(i),
        lambda i: 2**53 + i,
    ]
    return [{"v": kinds[i % len(kinds)](i), "w": i} for i in range(n)]


LONG_LIST_FILTERS: list[dict[str, Any]] = [
    {"v": {"$in": [f"s{i}" for i in range(0, 10_000, 3)] + list(range(1, 10_000, 2))}},
    {"v": {"$in": [i + 0.5 for i in range(10_000)]}},
    {"v": {"$in": [str(i) for i in range(5_000)] + [float(i) for i in range(5_000)]}},
    {"v": {"$nin": [f"t{i}" for i in range(10_000)]}},
    {"v": {"$nin": list(range(0, 10_000, 7)) + [f"s{i}" for i in range(0, 5_000)]}},
    {"$or": [{"v": {"$in": [2**53 + i for i in range(10_000)]}}, {"w": {"$lt": 3}}]},
]


async def _ids_in(
    store: VectorStore, rows: list[dict[str, Any]], filter: dict[str, Any]
) -> set[str]:
    namespace = uuid.uuid4().hex
    records = [
        {"id": f"r{i}", "values": [1.0, 0.5, 0.25, float(i + 1)], "metadata": row}
        for i, row in enumerate(rows)
    ]
    await store.upsert(records, namespace=namespace)
    hits = await store.query(
        [1.0, 0.5, 0.25, 1.0], top_k=len(rows), filter=filter, namespace=namespace
    )
    assert await store.count(namespace=namespace, filter=filter) == len(hits)
    return {hit.id for hit in hits}


@pytest.mark.parametrize("filter", LONG_LIST_FILTERS, ids=[f"f{i}" for i in range(6)])
async def test_a_10000_value_list_selects_the_same_rows_in_every_store(
    filter: dict[str, Any], postgres_test_url: str, pinecone: FakePineconeServer
) -> None:
    rows = _mixed_rows(450)
    parsed = parse_filter(filter)
    expected = {f"r{i}" for i, row in enumerate(rows) if matches(parsed, row)}
    assert expected  # the filters are meant to select something, and not everything
    assert len(expected) < len(rows)
    memory = VectorStoreConfig(store_type="memory", dimension=DIM)
    pgvector = VectorStoreConfig(
        store_type="pgvector", connection_string=postgres_test_url, dimension=DIM, index_name="long"
    )
    pinecone_config = VectorStoreConfig(
        store_type="pinecone", api_key=KEY, index_host=pinecone.url, dimension=DIM
    )
    for config in (memory, pgvector, pinecone_config):
        async with VectorStore(config) as store:
            assert await _ids_in(store, rows, filter) == expected, config.store_type
