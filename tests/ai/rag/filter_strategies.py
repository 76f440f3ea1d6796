"""Hypothesis strategies for metadata rows and filters, shared by the filter and store tests.

Values come from small pools so that filters hit stored values often: strings that differ
only by case or look like numbers/booleans, ints and floats that are equal as float64,
integers around 2**53, lists of strings (Pinecone's list type) and a few oddities.
`json_rows` keeps to what PostgreSQL's jsonb can store; `rows` adds NaN and friends.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

FIELDS = ["genre", "year", "tags", "odd"]
STRINGS = ["drama", "Drama", "comedy", "", "1", "é"]
NUMBERS = [0, 1, 2, -1, 1.0, 2.5, -0.0, 0.1, 2**53, 2**53 + 1, 9007199254740992.0, 10**17]

fields = st.sampled_from(FIELDS)
strings = st.sampled_from(STRINGS)
# Mostly values from a small pool, so that stored values and operands collide often.
numbers = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(NUMBERS),
    st.sampled_from(NUMBERS),
    st.integers(-5, 5),
    st.floats(-4, 4, allow_nan=False, allow_infinity=False),
)
bools = st.booleans()
scalars = strings | numbers | bools

json_values: st.SearchStrategy[Any] = st.one_of(
    scalars,
    scalars,
    scalars,
    st.lists(strings, max_size=3),
    st.lists(scalars, max_size=3),
    st.none(),
    st.sampled_from([{}, {"nested": "drama"}, [["drama"]]]),
)
values: st.SearchStrategy[Any] = json_values | st.sampled_from([float("nan"), (1, "drama")])


def _rows(value_strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(fields, value_strategy, max_size=len(FIELDS))


json_rows = _rows(json_values)
rows = _rows(values)

_ops_with_operands: list[tuple[str, st.SearchStrategy[Any]]] = [
    ("$eq", scalars),
    ("$ne", scalars),
    ("$gt", numbers),
    ("$gte", numbers),
    ("$lt", numbers),
    ("$lte", numbers),
    ("$in", st.lists(strings | numbers, max_size=4)),
    ("$nin", st.lists(strings | numbers, max_size=4)),
    ("$exists", bools),
]
operator = st.sampled_from(_ops_with_operands).flatmap(
    lambda pair: st.tuples(st.just(pair[0]), pair[1])
)


def _field_clause(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(fields)
    if draw(st.booleans()):
        return {field: draw(scalars)}
    ops = draw(st.lists(operator, min_size=1, max_size=3, unique_by=lambda pair: pair[0]))
    return {field: dict(ops)}


conditions: st.SearchStrategy[dict[str, Any]] = st.composite(_field_clause)()


def _combine(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    clause_lists = st.lists(children, min_size=1, max_size=3)
    return st.one_of(
        clause_lists.map(lambda clauses: {"$and": clauses}),
        clause_lists.map(lambda clauses: {"$or": clauses}),
        st.tuples(children, children).map(lambda pair: {**pair[0], **pair[1]}),
    )


filters: st.SearchStrategy[dict[str, Any]] = st.recursive(conditions, _combine, max_leaves=8)
