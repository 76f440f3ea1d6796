"""The filter language: parsing, the reference semantics, and the numpy and SQL evaluators.

The numpy evaluator and the SQL compiler are each checked against `matches` on random rows
and filters (the SQL one against the real PostgreSQL of the test harness).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai.errors import ConfigurationError, FilterError
from ai.rag.filters import (
    MAX_DEPTH,
    And,
    Condition,
    FilterLimits,
    MetadataColumns,
    Op,
    Or,
    compile_sql,
    filter_fields,
    filter_to_dict,
    matches,
    parse_filter,
)
from tests.ai.rag import filter_strategies as fs

# --- parsing --------------------------------------------------------------------------------


def test_empty_filters_mean_no_filter() -> None:
    assert parse_filter(None) is None
    assert parse_filter({}) is None


def test_implicit_equality_and_explicit_eq_parse_alike() -> None:
    assert parse_filter({"genre": "drama"}) == Condition("genre", Op.EQ, "drama")
    assert parse_filter({"genre": {"$eq": "drama"}}) == Condition("genre", Op.EQ, "drama")


def test_several_operators_on_one_field_and_top_level_keys_are_anded() -> None:
    parsed = parse_filter({"year": {"$gte": 2000, "$lt": 2010}, "genre": {"$in": ["a", 1]}})
    assert parsed == And(
        (
            Condition("year", Op.GTE, 2000),
            Condition("year", Op.LT, 2010),
            Condition("genre", Op.IN, ("a", 1)),
        )
    )


def test_logical_operators_nest() -> None:
    parsed = parse_filter({"$or": [{"a": 1}, {"$and": [{"b": True}, {"c": {"$exists": False}}]}]})
    assert parsed == Or(
        (
            Condition("a", Op.EQ, 1),
            And((Condition("b", Op.EQ, True), Condition("c", Op.EXISTS, False))),
        )
    )
    assert filter_fields(parsed) == {"a", "b", "c"}


def test_a_parsed_filter_passes_through() -> None:
    condition = Condition("a", Op.EQ, 1)
    assert parse_filter(condition) is condition


def test_numpy_scalars_are_accepted_as_numbers() -> None:
    assert parse_filter({"n": {"$gt": np.float32(1.5)}}) == Condition("n", Op.GT, 1.5)
    assert parse_filter({"n": np.int64(3)}) == Condition("n", Op.EQ, 3)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"year": {"$gte": "abc"}}, "filter['year']['$gte']: expected a number, got 'abc'"),
        ({"year": {"$gt": True}}, "filter['year']['$gt']: expected a number, got True"),
        ({"year": {"$lt": float("nan")}}, "expected a number, got nan"),
        ({"year": {"$lt": 10**400}}, "expected a number"),
        ({"g": {"$in": ["a", None]}}, "filter['g']['$in'][1]: expected a string or number"),
        ({"g": {"$in": [True]}}, "filter['g']['$in'][0]: expected a string or number"),
        ({"g": {"$nin": "drama"}}, "filter['g']['$nin']: $nin takes a list"),
        ({"g": ["a", "b"]}, "filter['g']: $eq takes a string, number or boolean, got ['a', 'b']"),
        ({"g": ["a"]}, "use $in"),
        ({"g": {"$eq": None}}, "filter['g']['$eq']: $eq takes a string, number or boolean"),
        ({"g": {"$ne": {"x": 1}}}, "filter['g']['$ne']"),
        ({"g": {"$exists": 1}}, "filter['g']['$exists']: expected true or false, got 1"),
        ({"g": {"$regex": "x"}}, "filter['g']['$regex']: unknown operator '$regex'"),
        ({"g": {}}, "filter['g']: empty operator dict"),
        ({"g": {"$and": [{"a": 1}]}}, "filter['g']['$and']: $and combines clauses"),
        ({"$gt": 3}, "filter['$gt']: $gt cannot stand at the top of a clause"),
        ({"$not": {"a": 1}}, "filter['$not']: unknown operator '$not'"),
        ({"$and": []}, "filter['$and']: $and takes a non-empty list"),
        ({"$or": {"a": 1}}, "filter['$or']: $or takes a non-empty list"),
        ({"$and": [{"a": 1}, {}]}, "filter['$and'][1]: empty clause"),
        ({"$or": [{"a": 1}, "b"]}, "filter['$or'][1]: expected a dict"),
        ({"": 1}, "filter['']: field names must not be empty"),
        ({1: "a"}, "filter[1]: field names must be strings"),
        (["a"], "filter: expected a dict"),
    ],
)
def test_invalid_filters_name_the_bad_part(raw: Any, message: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(raw)
    assert message in str(caught.value)


def _nested(depth: int) -> dict[str, Any]:
    raw: dict[str, Any] = {"a": 1}
    for _ in range(depth):
        raw = {"$and": [raw]}
    return raw


def test_nesting_is_limited_without_recursing_into_deep_input() -> None:
    assert parse_filter(_nested(MAX_DEPTH - 1)) is not None
    with pytest.raises(FilterError, match="at most 32 levels"):
        parse_filter(_nested(MAX_DEPTH))
    with pytest.raises(FilterError, match="at most 32 levels"):
        parse_filter(_nested(5000))


@given(fs.filters)
def test_parse_round_trips_through_to_dict(raw: dict[str, Any]) -> None:
    parsed = parse_filter(raw)
    assert parsed is not None
    dumped = filter_to_dict(parsed)
    assert parse_filter(json.loads(json.dumps(dumped))) == parsed


_junk_keys = st.sampled_from(["$and", "$or", "$eq", "$in", "$gt", "$exists", "$x", "a", ""])
_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(_junk_keys | st.integers(), children, max_size=3)
    ),
    max_leaves=12,
)


@given(_junk)
def test_junk_raises_only_filter_error(raw: Any) -> None:
    try:
        parsed = parse_filter(raw)
    except FilterError:
        return
    if parsed is not None:
        matches(parsed, {"a": 1})


# --- reference semantics --------------------------------------------------------------------


LIST_RECORD = {"genre": ["comedy", "documentary"], "year": 2020}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Pinecone's examples for a list-valued field.
        ({"genre": "comedy"}, True),
        ({"genre": {"$in": ["documentary", "action"]}}, True),
        ({"$and": [{"genre": "comedy"}, {"genre": "documentary"}]}, True),
        ({"$and": [{"genre": "comedy"}, {"genre": "drama"}]}, False),
        ({"genre": "drama"}, False),
        ({"genre": {"$ne": "comedy"}}, False),
        ({"genre": {"$ne": "drama"}}, True),
        ({"genre": {"$nin": ["documentary", "action"]}}, False),
        ({"genre": {"$nin": ["drama"]}}, True),
        ({"genre": {"$gt": 1}}, False),
        # Missing fields: only $exists: false holds.
        ({"lang": {"$ne": "en"}}, False),
        ({"lang": {"$nin": ["en"]}}, False),
        ({"lang": {"$exists": False}}, True),
        ({"$or": [{"lang": {"$ne": "en"}}, {"lang": {"$exists": False}}]}, True),
        ({"year": {"$gte": 2020, "$lt": 2021}}, True),
        ({"year": {"$lte": 2020}}, True),
        ({"year": {"$lt": 2020}}, False),
        ({"year": {"$gt": 2019.5}}, True),
        ({"year": {"$gt": 2020}}, False),
        ({"year": 2020.0}, True),
        ({"year": {"$in": []}}, False),
        ({"year": {"$nin": []}}, True),
    ],
)
def test_reference_semantics(raw: dict[str, Any], expected: bool) -> None:
    assert matches(parse_filter(raw), LIST_RECORD) is expected


def test_booleans_are_not_numbers_and_types_never_coerce() -> None:
    assert not matches(parse_filter({"f": 1}), {"f": True})
    assert not matches(parse_filter({"f": True}), {"f": 1})
    assert matches(parse_filter({"f": {"$ne": 1}}), {"f": True})
    assert not matches(parse_filter({"f": {"$gte": 0}}), {"f": True})
    assert not matches(parse_filter({"f": "1"}), {"f": 1})
    assert not matches(parse_filter({"f": {"$gt": 0}}), {"f": "5"})


def test_numbers_compare_as_float64() -> None:
    assert matches(parse_filter({"f": 1}), {"f": 1.0})
    assert matches(parse_filter({"f": {"$in": [1.0]}}), {"f": [1]})
    assert matches(parse_filter({"f": 2**53}), {"f": 2**53 + 1})


def test_none_counts_as_missing_and_odd_values_equal_nothing() -> None:
    assert matches(parse_filter({"f": {"$exists": False}}), {"f": None})
    assert not matches(parse_filter({"f": {"$ne": "x"}}), {"f": None})
    for odd in ({}, {"x": 1}, [["x"]], float("nan")):
        assert matches(parse_filter({"f": {"$exists": True}}), {"f": odd})
        assert not matches(parse_filter({"f": {"$in": ["x", 1]}}), {"f": odd})
        assert matches(parse_filter({"f": {"$ne": "x"}}), {"f": odd})


def test_no_filter_matches_everything() -> None:
    assert matches(None, {})


# --- every evaluator on a grid of values and single conditions ------------------------------

GRID_VALUES: list[Any] = [
    "drama",
    "Drama",
    "",
    "1",
    "true",
    1,
    1.0,
    2,
    -0.0,
    0,
    2.5,
    2**53,
    2**53 + 1,
    True,
    False,
    ["drama", "comedy"],
    ["Drama"],
    [],
    [1, "x"],
    [True],
    [["drama"]],
    {"k": 1},
    None,
]
GRID_ROWS: list[dict[str, Any]] = [{"f": value} for value in GRID_VALUES] + [{}, {"g": 1}]
GRID_OPERANDS: list[Any] = ["drama", "Drama", "", "1", 1, 1.5, 0, 2**53, True, False]
GRID_FILTERS: list[dict[str, Any]] = [
    *({"f": {op: v}} for op in ("$eq", "$ne") for v in GRID_OPERANDS),
    *(
        {"f": {op: v}}
        for op in ("$gt", "$gte", "$lt", "$lte")
        for v in GRID_OPERANDS
        if not isinstance(v, str | bool)
    ),
    *(
        {"f": {op: v}}
        for op in ("$in", "$nin")
        for v in ([], ["drama"], ["comedy", 1], [2**53 + 1, "x"], [0.0])
    ),
    {"f": {"$exists": True}},
    {"f": {"$exists": False}},
]


def test_grid_mask_equals_reference() -> None:
    columns = MetadataColumns(GRID_ROWS)
    for raw in GRID_FILTERS:
        parsed = parse_filter(raw)
        assert parsed is not None
        expected = [matches(parsed, row) for row in GRID_ROWS]
        assert columns.mask(parsed).tolist() == expected, raw


# --- numpy evaluator ------------------------------------------------------------------------


@settings(max_examples=100)
@given(st.lists(fs.rows, min_size=5, max_size=40), st.lists(fs.filters, min_size=1, max_size=8))
def test_mask_equals_reference(rows: list[dict[str, Any]], raws: list[dict[str, Any]]) -> None:
    columns = MetadataColumns(rows)
    for raw in raws:
        parsed = parse_filter(raw)
        assert parsed is not None
        expected = [matches(parsed, row) for row in rows]
        assert columns.mask(parsed).tolist() == expected


_operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), fs.rows),
        st.tuples(st.just("replace"), st.integers(0, 30), fs.rows),
        st.tuples(st.just("remove"), st.integers(0, 30)),
    ),
    max_size=30,
)


@settings(max_examples=150)
@given(st.lists(fs.rows, min_size=5, max_size=40), st.lists(fs.conditions, min_size=4, max_size=8))
def test_mask_equals_reference_on_single_fields(
    rows: list[dict[str, Any]], raws: list[dict[str, Any]]
) -> None:
    test_mask_equals_reference.hypothesis.inner_test(rows, raws)  # type: ignore[attr-defined]


@settings(max_examples=100)
@given(_operations, st.lists(fs.filters, min_size=1, max_size=4))
def test_mask_follows_rows_through_replace_and_swap_remove(
    operations: list[tuple[Any, ...]], raws: list[dict[str, Any]]
) -> None:
    columns = MetadataColumns()
    model: list[dict[str, Any]] = []
    for operation in operations:
        if operation[0] == "append":
            columns.append(operation[1])
            model.append(operation[1])
        elif model and operation[0] == "replace":
            row = operation[1] % len(model)
            columns.replace(row, operation[2])
            model[row] = operation[2]
        elif model:
            row = operation[1] % len(model)
            columns.swap_remove(row)
            model[row] = model[-1]
            model.pop()
    assert len(columns) == len(model)
    assert [dict(columns.get(i)) for i in range(len(model))] == [
        {k: list(v) if isinstance(v, tuple) else v for k, v in row.items()} for row in model
    ]
    for raw in raws:
        parsed = parse_filter(raw)
        assert parsed is not None
        assert columns.mask(parsed).tolist() == [matches(parsed, row) for row in model]


def test_columns_copy_lists_so_callers_cannot_desync_them() -> None:
    tags = ["a"]
    columns = MetadataColumns([{"tags": tags}])
    tags.append("b")
    assert columns.mask(Condition("tags", Op.EQ, "b")).tolist() == [False]
    assert columns.get(0) == {"tags": ["a"]}


def test_swap_remove_checks_the_row() -> None:
    with pytest.raises(IndexError):
        MetadataColumns().swap_remove(0)


# --- SQL compiler ---------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["Metadata", "meta data", 'm"; drop table t; --', "1m", ""])
def test_compile_sql_refuses_unsafe_column_names(column: str) -> None:
    with pytest.raises(ConfigurationError, match="column must match"):
        compile_sql(Condition("a", Op.EQ, 1), column=column, params=[])


def test_compile_sql_keeps_keys_and_values_out_of_the_sql_text() -> None:
    params: list[Any] = []
    field = "x'); DROP TABLE t; --"
    parsed = parse_filter({field: {"$eq": "'; DELETE FROM t; --", "$ne": 2**60}, "y": {"$gt": 1}})
    assert parsed is not None
    sql = compile_sql(parsed, column="metadata", params=params)
    assert "DROP" not in sql and "DELETE" not in sql
    assert field in params and 1.0 in params
    assert params.count(field) == 1  # one placeholder per field, reused
    assert sql.count(f"${params.index(field) + 1}::text") >= 2
    value = "'; DELETE FROM t; --"
    assert params[0] == [json.dumps({field: value}), json.dumps({field: [value]})]


async def _create_table(conn: Any, rows: list[dict[str, Any]]) -> None:
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS items (id int PRIMARY KEY, metadata jsonb NOT NULL)"
    )
    await conn.execute("TRUNCATE items")
    await conn.executemany(
        "INSERT INTO items VALUES ($1, $2::text::jsonb)",
        [(i, json.dumps(row)) for i, row in enumerate(rows)],
    )


async def _sql_ids(conn: Any, raw: dict[str, Any]) -> list[int]:
    parsed = parse_filter(raw)
    assert parsed is not None
    params: list[Any] = []
    where = compile_sql(parsed, column="metadata", params=params)
    records = await conn.fetch(f"SELECT id FROM items WHERE {where} ORDER BY id", *params)  # noqa: S608
    return [record["id"] for record in records]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(fs.json_rows, min_size=5, max_size=30),
    raws=st.lists(fs.filters | fs.conditions, min_size=2, max_size=8),
)
async def test_sql_equals_reference_on_postgres(
    pg_conn: Any, rows: list[dict[str, Any]], raws: list[dict[str, Any]]
) -> None:
    await _create_table(pg_conn, rows)
    for raw in raws:
        parsed = parse_filter(raw)
        expected = [i for i, row in enumerate(rows) if matches(parsed, row)]
        assert await _sql_ids(pg_conn, raw) == expected, raw


async def _typed_sql_ids(conn: Any, raw: dict[str, Any]) -> list[int]:
    """Like `_sql_ids`, with every $in/$nin list compiled to typed arrays."""
    parsed = parse_filter(raw)
    assert parsed is not None
    params: list[Any] = []
    where = compile_sql(parsed, column="metadata", params=params, containment_max_values=0)
    records = await conn.fetch(f"SELECT id FROM items WHERE {where} ORDER BY id", *params)  # noqa: S608
    return [record["id"] for record in records]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(fs.json_rows, min_size=5, max_size=30),
    raws=st.lists(fs.filters | fs.conditions, min_size=2, max_size=8),
)
async def test_typed_array_lists_equal_reference_on_postgres(
    pg_conn: Any, rows: list[dict[str, Any]], raws: list[dict[str, Any]]
) -> None:
    """The form long $in/$nin lists take (typed arrays, hashed lookup) means the same."""
    await _create_table(pg_conn, rows)
    for raw in raws:
        parsed = parse_filter(raw)
        expected = [i for i, row in enumerate(rows) if matches(parsed, row)]
        assert await _typed_sql_ids(pg_conn, raw) == expected, raw


async def test_typed_array_lists_equal_reference_on_the_grid(pg_conn: Any) -> None:
    await _create_table(pg_conn, GRID_ROWS)
    for raw in GRID_FILTERS:
        parsed = parse_filter(raw)
        expected = [i for i, row in enumerate(GRID_ROWS) if matches(parsed, row)]
        assert await _typed_sql_ids(pg_conn, raw) == expected, raw


async def test_long_lists_are_one_typed_array_per_kind_and_read_by_hash(pg_conn: Any) -> None:
    await _create_table(pg_conn, [{"k": f"s{i}", "n": i} for i in range(200)])
    values: list[Any] = [f"s{i}" for i in range(10_000)] + list(range(10_000)) + [0.5]
    parsed = parse_filter({"k": {"$in": values}}, FilterLimits(max_list_items=len(values)))
    assert parsed is not None
    params: list[Any] = []
    where = compile_sql(parsed, column="metadata", params=params)
    assert params[0] == "k" and len(params) == 3
    assert params[1] == [float(i) for i in range(10_000)] + [0.5]
    assert params[2] == [f"s{i}" for i in range(10_000)]
    plan = await pg_conn.fetch(f"EXPLAIN SELECT id FROM items WHERE {where}", *params)  # noqa: S608
    assert "hashed SubPlan" in "\n".join(record[0] for record in plan)
    count = await pg_conn.fetchval(f"SELECT count(*) FROM items WHERE {where}", *params)  # noqa: S608
    assert count == 200


async def test_grid_sql_equals_reference(pg_conn: Any) -> None:
    await _create_table(pg_conn, GRID_ROWS)
    for raw in GRID_FILTERS:
        parsed = parse_filter(raw)
        expected = [i for i, row in enumerate(GRID_ROWS) if matches(parsed, row)]
        assert await _sql_ids(pg_conn, raw) == expected, raw


async def test_sql_handles_hostile_field_names_and_null_metadata(pg_conn: Any) -> None:
    field = "x'); DROP TABLE items; --"
    rows = [{field: "a"}, {field: ["a", "b"]}, {}, {field: None}]
    await _create_table(pg_conn, rows)
    assert await _sql_ids(pg_conn, {field: "a"}) == [0, 1]
    assert await _sql_ids(pg_conn, {field: {"$ne": "b"}}) == [0]
    assert await _sql_ids(pg_conn, {field: {"$exists": False}}) == [2, 3]
    await pg_conn.execute("ALTER TABLE items ALTER COLUMN metadata DROP NOT NULL")
    await pg_conn.execute("INSERT INTO items VALUES (9, NULL)")
    assert await _sql_ids(pg_conn, {field: {"$exists": False}}) == [2, 3, 9]
    assert await _sql_ids(pg_conn, {field: {"$nin": ["z"]}}) == [0, 1]


async def test_equality_filters_can_use_a_gin_index(pg_conn: Any) -> None:
    await _create_table(pg_conn, [{"genre": f"g{i}", "tags": [f"t{i}"]} for i in range(500)])
    await pg_conn.execute("CREATE INDEX ON items USING gin (metadata)")
    await pg_conn.execute("ANALYZE items")
    await pg_conn.execute("SET enable_seqscan = off")
    for raw in ({"genre": "g7"}, {"tags": {"$in": ["t3", "t4"]}}, {"genre": {"$exists": True}}):
        parsed = parse_filter(raw)
        assert parsed is not None
        params: list[Any] = []
        where = compile_sql(parsed, column="metadata", params=params)
        plan = await pg_conn.fetch(f"EXPLAIN SELECT id FROM items WHERE {where}", *params)  # noqa: S608
        assert "Bitmap Index Scan" in "\n".join(record[0] for record in plan), raw
