"""Filters are bounded: list sizes, nesting and conditions have documented, configurable
limits, a filter over one fails with a `FilterError` naming it, and parsing and compiling
take time linear in the filter (no timing assertions: inputs big enough that quadratic
work would take minutes, and counts of what the parser reads)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.errors import ConfigurationError, FilterError
from ai.rag import ContextRetriever, VectorStore, VectorStoreConfig
from ai.rag.filters import (
    DEFAULT_FILTER_LIMITS,
    And,
    Condition,
    FilterLimits,
    Op,
    compile_sql,
    parse_filter,
)
from tests.ai.rag import filter_strategies as fs


def nested(depth: int) -> dict[str, Any]:
    """A filter of `depth` object levels: `{"$and": [... {"a": 1} ...]}`."""
    raw: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        raw = {"$and": [raw]}
    return raw


class CountingList(list[Any]):
    """A list that counts the items read from it, to show what the parser looked at."""

    read = 0

    def __iter__(self) -> Any:
        for item in super().__iter__():
            CountingList.read += 1
            yield item


def test_the_defaults_are_documented_values() -> None:
    assert (
        FilterLimits(max_list_items=10_000, max_depth=32, max_conditions=256)
        == DEFAULT_FILTER_LIMITS
    )
    assert VectorStoreConfig().resolved_filter_limits() is DEFAULT_FILTER_LIMITS


@pytest.mark.parametrize(
    ("raw", "limit"),
    [
        ({"k": {"$in": list(range(10_001))}}, "max_list_items"),
        ({"k": {"$in": list(range(6_000))}, "j": {"$nin": ["x"] * 4_001}}, "max_list_items"),
        (nested(33), "max_depth"),
        ({"$or": [{"a": i} for i in range(257)]}, "max_conditions"),
        ({f"f{i}": {"$gte": 0, "$lt": 9} for i in range(129)}, "max_conditions"),
    ],
    ids=["one-list", "lists-together", "depth", "conditions", "operators-count"],
)
async def test_a_filter_over_a_limit_fails_naming_the_limit_and_how_to_raise_it(
    raw: dict[str, Any], limit: str
) -> None:
    async with VectorStore(VectorStoreConfig(dimension=2)) as store:
        await store.upsert([{"id": "a", "values": [1, 0], "metadata": {"k": 1}}])
        for call in (
            store.query([1, 0], filter=raw),
            store.count(filter=raw),
            store.delete_by_filter(raw),
        ):
            with pytest.raises(FilterError) as caught:
                await call
            message = str(caught.value)
            assert f"FilterLimits.{limit}" in message
            assert f"VectorStoreConfig(filter_limits=FilterLimits({limit}=...))" in message
        assert await store.count() == 1


async def test_filters_at_the_limits_pass() -> None:
    async with VectorStore(VectorStoreConfig(dimension=2)) as store:
        await store.upsert([{"id": "a", "values": [1, 0], "metadata": {"a": 1, "k": 9_999}}])
        assert await store.count(filter={"k": {"$in": list(range(10_000))}}) == 1
        assert await store.count(filter=nested(32)) == 1
        assert await store.count(filter={"$or": [{"a": i} for i in range(1, 257)]}) == 1


async def test_the_limits_are_configurable_on_the_store() -> None:
    limits = FilterLimits(max_list_items=3, max_depth=2, max_conditions=2)
    async with VectorStore(VectorStoreConfig(dimension=2, filter_limits=limits)) as store:
        await store.upsert([{"id": "a", "values": [1, 0], "metadata": {"a": 1}}])
        assert await store.count(filter={"a": {"$in": [1, 2, 3]}}) == 1
        with pytest.raises(FilterError, match="hold 3 values in all"):
            await store.count(filter={"a": {"$in": [1, 2, 3, 4]}})
        with pytest.raises(FilterError, match="at most 2 levels"):
            await store.count(filter=nested(3))
        with pytest.raises(FilterError, match="at most 2 "):
            await store.count(filter={"a": 1, "b": 2, "c": 3})
    raised = FilterLimits(max_list_items=50_000)
    async with VectorStore(VectorStoreConfig(dimension=2, filter_limits=raised)) as store:
        await store.upsert([{"id": "a", "values": [1, 0], "metadata": {"a": 49_999}}])
        assert await store.count(filter={"a": {"$in": list(range(50_000))}}) == 1


@pytest.mark.parametrize(
    "options",
    [{"max_list_items": 0}, {"max_depth": -1}, {"max_conditions": True}, {"max_depth": 1.5}],
)
def test_limits_must_be_positive_integers(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="must be a positive integer"):
        FilterLimits(**options)


def test_the_config_takes_only_filter_limits() -> None:
    with pytest.raises(ConfigurationError, match=r"must be an ai\.rag\.filters\.FilterLimits"):
        VectorStoreConfig(filter_limits={"max_depth": 3})  # type: ignore[arg-type]
    for store_type in ("memory", "pgvector", "pinecone"):  # read by the front, for all
        assert (
            VectorStoreConfig(store_type=store_type, filter_limits=FilterLimits()).given_fields()
            == []
        )


class ConstantEmbedder:
    """Every text gets the same vector: enough to reach the filter."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.5] for _ in texts]


async def test_the_retriever_refuses_an_oversized_filter() -> None:
    store = VectorStore(VectorStoreConfig(dimension=2))
    retriever = ContextRetriever(ConstantEmbedder(), store)
    await retriever.add_documents([{"id": "d", "text": "Python is a language"}])
    with pytest.raises(FilterError, match=r"FilterLimits\.max_list_items"):
        await retriever.retrieve("python", filter={"source_id": {"$in": ["d"] * 10_001}})


def test_an_oversized_list_is_refused_before_it_is_read() -> None:
    CountingList.read = 0
    huge = CountingList(["x"] * 1_000_000)
    with pytest.raises(FilterError, match="max_list_items"):
        parse_filter({"k": {"$in": huge}})
    assert CountingList.read == 0


def test_parsing_stops_at_the_first_condition_over_the_limit() -> None:
    CountingList.read = 0
    clauses = CountingList({"a": i} for i in range(1_000_000))
    with pytest.raises(FilterError, match=r"filter\['\$or'\]\[256\]\['a'\]: too many conditions"):
        parse_filter({"$or": clauses})
    assert CountingList.read == 257


def test_hand_built_trees_are_held_to_the_limits_without_recursion() -> None:
    deep: Any = Condition("a", Op.EQ, 1)
    for _ in range(100_000):
        deep = And((deep,))
    with pytest.raises(FilterError, match="max_depth"):
        parse_filter(deep)
    wide = And(tuple(Condition("a", Op.EQ, i) for i in range(300)))
    with pytest.raises(FilterError, match="max_conditions"):
        parse_filter(wide)
    with pytest.raises(FilterError, match="max_list_items"):
        parse_filter(Condition("a", Op.IN, tuple(range(10_001))))
    with pytest.raises(FilterError, match="at least one clause"):
        parse_filter(And(()))
    # What the parser builds passes again: an object level may be two tree levels.
    raw = nested(32)
    for _ in range(31):
        raw = {"x": 1, **raw}
    parsed = parse_filter(raw)
    assert parsed is not None and parse_filter(parsed) is parsed


def test_parsing_and_compiling_are_linear_in_the_filter() -> None:
    """200,000 values and 20,000 conditions: quadratic work would be 10**10 steps."""
    limits = FilterLimits(max_list_items=400_000, max_conditions=20_000)
    values = [f"v{i}" for i in range(200_000)]
    raw = {"$or": [{"k": {"$in": values}}, {"n": {"$nin": list(range(200_000))}}]}
    parsed = parse_filter(raw, limits)
    params: list[Any] = []
    sql = compile_sql(parsed, column="metadata", params=params) if parsed else ""
    assert len(params) == 4 and len(sql) < 2_000  # two fields, one array per list
    many = {"$and": [{f"f{i % 100}": {"$eq": i}} for i in range(20_000)]}
    parsed = parse_filter(many, limits)
    params = []
    sql = compile_sql(parsed, column="metadata", params=params) if parsed else ""
    assert len(params) == 20_000 and sql.count(" AND ") == 19_999  # one document array each


# --- compiled SQL: one parameter per list -----------------------------------------------------


_FILLER: list[Any] = ["filler", 12345, 0.5]


def _grow_lists(raw: Any, length: int) -> Any:
    """`raw` with every $in/$nin list padded to `length` values of all three kinds."""
    if isinstance(raw, dict):
        return {
            key: (
                value + [_FILLER[i % 3] for i in range(length - len(value))]
                if key in ("$in", "$nin")
                else _grow_lists(value, length)
            )
            for key, value in raw.items()
        }
    if isinstance(raw, list):
        return [_grow_lists(item, length) for item in raw]
    return raw


def _params_of(raw: Any) -> list[Any]:
    parsed = parse_filter(raw, FilterLimits(max_list_items=10**6, max_conditions=10**4))
    assert parsed is not None
    params: list[Any] = []
    compile_sql(parsed, column="metadata", params=params)
    return params


@settings(max_examples=60, deadline=None)
@given(raw=fs.filters, short=st.integers(40, 100), long=st.integers(1_000, 5_000))
def test_the_number_of_sql_parameters_does_not_grow_with_list_sizes(
    raw: dict[str, Any], short: int, long: int
) -> None:
    few, many = _params_of(_grow_lists(raw, short)), _params_of(_grow_lists(raw, long))
    assert len(few) == len(many)
    parsed = parse_filter(raw)
    assert parsed is not None
    conditions = str(parsed).count("Condition(")
    assert len(many) <= len(fs.FIELDS) + 3 * conditions  # a field, then at most 3 arrays


async def test_the_retriever_holds_filters_to_its_stores_limits() -> None:
    from ai.errors import FilterError
    from ai.rag import ContextRetriever, VectorStore, VectorStoreConfig
    from ai.rag.filters import FilterLimits

    class Embedder:
        async def embed(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, 0.0, 0.0] for _ in texts]

    many = {"k": {"$in": [f"v{i}" for i in range(15_000)] + ["a"]}}
    document = {"id": "1", "text": "alpha", "metadata": {"k": "a"}}
    wide = VectorStore(VectorStoreConfig(filter_limits=FilterLimits(max_list_items=20_000)))
    retriever = ContextRetriever(Embedder(), wide)  # type: ignore[arg-type]
    await retriever.add_documents([document])
    assert len(await retriever.retrieve("alpha", filter=many, mode="vector")) == 1
    narrow = ContextRetriever(Embedder(), VectorStore(VectorStoreConfig()))  # type: ignore[arg-type]
    await narrow.add_documents([document])
    with pytest.raises(FilterError, match="max_list_items"):
        await narrow.retrieve("alpha", filter=many, mode="vector")
