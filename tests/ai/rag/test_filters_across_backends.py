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
