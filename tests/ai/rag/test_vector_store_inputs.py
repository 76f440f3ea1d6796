"""Bad input to `VectorStore` is a `ConfigurationError` (or `FilterError`) that names the
record and the problem, never numpy's or Python's `ValueError`/`TypeError`/`OverflowError`."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ai.errors import ConfigurationError, DevoraError
from ai.rag import VectorRecord, VectorStore, VectorStoreConfig

DIM = 3


def make_store() -> VectorStore:
    return VectorStore(VectorStoreConfig(dimension=DIM))


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (["x", "y", "z"], "element 0 is a str ('x'), not a number"),
        (["1", "2", "3"], "element 0 is a str ('1'), not a number"),
        ([[1, 2], [3]], "element 0 is a list ([1, 2]), not a number"),
        ([[1.0, 2.0, 3.0]], "got an array of shape (1, 3)"),
        ([1, float("nan"), 3], "contains NaN or infinity (element 1)"),
        ([1, 2, float("-inf")], "contains NaN or infinity (element 2)"),
        ([1, 1e39, 3], "element 1 (1e+39) is beyond float32's range"),
        ([1, 10**400, 3], "element 1 is an integer too large for float32"),
        ([1j, 2, 3], "element 0 is a complex (1j), not a number"),
        ([1, None, 3], "element 1 is a NoneType (None), not a number"),
        (np.array([1j, 2, 3]), "element 0 is a complex128"),
        ("abc", "must be a flat, non-empty list of numbers, got 'abc'"),
        ({"a": 1}, "must be a flat, non-empty list of numbers, got {'a': 1}"),
        (None, "must be a flat, non-empty list of numbers, got None"),
        ([], "got an array of shape (0,)"),
        ([1, 2], "has dimension 2, but the store holds 3-d vectors"),
    ],
)
async def test_a_bad_vector_names_the_record_and_the_problem(values: Any, problem: str) -> None:
    async with make_store() as store:
        with pytest.raises(ConfigurationError) as caught:
            await store.upsert([{"id": "doc-7", "values": values}])
        assert "record 'doc-7'" in str(caught.value)
        assert problem in str(caught.value)
        with pytest.raises(ConfigurationError, match="the query vector"):
            await store.query(values)
        assert await store.count() == 0


async def test_big_integers_within_float32_are_numbers() -> None:
    async with make_store() as store:
        await store.upsert([{"id": "a", "values": [1, 2**70, 3]}])
        assert (await store.query([1, 2**70, 3], top_k=1))[0].id == "a"
        stored = (await store.fetch(["a"]))["a"].values
        np.testing.assert_allclose(stored, [0, 1, 0], atol=1e-6)  # unit length, computed in float64


_nonzero_finite_float32 = hnp.arrays(
    np.float32,
    DIM,
    elements=st.floats(width=32, allow_nan=False, allow_infinity=False)
    | st.sampled_from([3e38, -3.4e38, 1e-45, 1e30]),
).filter(lambda values: bool(np.any(values != 0)))


# The fast path's float32 dot product overflows on purpose (the checked path then decides);
# any other overflow, such as the cast of a float64 norm, fails the test.
@pytest.mark.filterwarnings(
    "error::RuntimeWarning", "ignore:overflow encountered in dot:RuntimeWarning"
)
@settings(max_examples=200, deadline=None)
@given(values=_nonzero_finite_float32)
async def test_cosine_keeps_any_nonzero_vector_at_unit_length(
    values: npt.NDArray[np.float32],
) -> None:
    """Normalisation divides in float64, then rounds to float32: [3e38, 3e38, 3e38] was
    stored as a zero vector (the float64 norm overflowed when cast to float32)."""
    async with make_store() as store:
        await store.upsert([{"id": "v", "values": values}])
        stored = (await store.fetch(["v"]))["v"].values
        assert float(np.linalg.norm(stored.astype(np.float64))) == pytest.approx(1, abs=1e-5)
        for query in (values, [float(x) for x in values]):
            [match] = await store.query(query, top_k=1)
            assert match.score == pytest.approx(1, abs=1e-5)
        [[batched]] = await store.backend.query_batch(values[None, :], 1, "")  # type: ignore[attr-defined]
        assert batched.score == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"id": 10**5000, "values": [1, 2, 3]}], "integer id of 16610 bits is too long"),
        ([{"id": None, "values": [1, 2, 3]}], "record 0 needs a non-empty string id, got None"),
        ([{"id": "", "values": [1, 2, 3]}], "record 0 needs a non-empty string id"),
        ([{"values": [1, 2, 3]}], "record 0 is missing 'id'"),
        ([{"id": "a"}], "record 0 is missing 'values'"),
        ([["a", [1, 2, 3]]], "record 0 must be a VectorRecord or a mapping"),
        (["abc"], "record 0 must be a VectorRecord or a mapping"),
        ([{"id": "a", "values": [1, 2, 3], "metadata": "x"}], "record 'a': metadata must be a"),
        ([{"id": "a", "values": [1, 2, 3], "metadata": 5}], "record 'a': metadata must be a"),
        ([{"id": "a", "values": [1, 2, 3], "text": 5}], "record 'a': text must be a string"),
        ([VectorRecord("a", [1, "x", 3])], "record 'a' must be a flat"),  # type: ignore[arg-type]
        ({"id": "a", "values": [1, 2, 3]}, "got one dict; wrap it in [...]"),
        (VectorRecord("a", np.ones(3, np.float32)), "got one VectorRecord"),
        (5, "upsert takes a list of records, got 5"),
        (None, "upsert takes a list of records, got None"),
    ],
)
async def test_bad_records_are_configuration_errors(records: Any, message: str) -> None:
    async with make_store() as store:
        with pytest.raises(ConfigurationError) as caught:
            await store.upsert(records)
        assert message in str(caught.value)


async def test_integer_ids_still_read_as_decimal_strings() -> None:
    async with make_store() as store:
        await store.upsert([{"id": 7, "values": [1, 2, 3]}])
        assert list(await store.fetch(["7"])) == ["7"]


async def test_bad_call_arguments_are_configuration_errors() -> None:
    async with make_store() as store:
        await store.upsert([{"id": "a", "values": [1, 2, 3]}])
        cases: list[tuple[Any, str]] = [
            (store.query([1, 2, 3], top_k="5"), "top_k must be an integer >= 1, got '5'"),
            (store.query([1, 2, 3], top_k=2.5), "top_k must be an integer >= 1, got 2.5"),
            (store.query([1, 2, 3], top_k=True), "top_k must be an integer >= 1, got True"),
            (store.query([1, 2, 3], namespace=5), "namespace must be a string, got 5"),
            (store.count(namespace=b"x"), "namespace must be a string"),
            (store.upsert([{"id": "b", "values": [1, 2, 3]}], namespace=1), "namespace must"),
            (store.fetch("abc"), "ids must be a list of strings, got one string 'abc'"),
            (store.fetch(5), "ids must be a list of strings, got 5"),
            (store.fetch([1, 2]), "ids must be strings, got 1"),
            (store.delete("a"), "got one string 'a'"),
            (store.delete([None]), "ids must be strings, got None"),
        ]
        for call, message in cases:
            with pytest.raises(ConfigurationError) as caught:
                await call
            assert message in str(caught.value)
        assert await store.count() == 1


# --- anything at all: typed errors only ---------------------------------------------------------


def _deep_list() -> list[Any]:
    """A list nested 2,000 deep (deeper than repr can go)."""
    deep: list[Any] = [1.0]
    for _ in range(2_000):
        deep = [deep]
    return deep


# Built, not sampled: hypothesis writes sampled values into reprs, and these have none.
_huge = st.builds(pow, st.sampled_from([10, -10, 2]), st.sampled_from([64, 400, 5000]))
_junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | _huge
    | st.floats()
    | st.complex_numbers()
    | st.text(max_size=4)
    | st.binary(max_size=4)
    | st.builds(_deep_list),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=2), children)
    ),
    max_leaves=8,
)
_vectors = _junk | st.lists(st.floats() | st.integers(), min_size=DIM, max_size=DIM)
_record = st.fixed_dictionaries(
    {"id": _junk | st.text(min_size=1, max_size=3), "values": _vectors},
    optional={"metadata": _junk, "text": _junk},
)


@settings(max_examples=300, deadline=None)
@given(records=st.lists(_record | _junk, max_size=3) | _junk, namespace=_junk | st.none())
async def test_upsert_raises_only_typed_errors(records: Any, namespace: Any) -> None:
    async with make_store() as store:
        with contextlib.suppress(DevoraError):
            await store.upsert(records, namespace=namespace)


@settings(max_examples=300, deadline=None)
@given(vector=_vectors, top_k=_junk, filter=_junk, namespace=_junk | st.none(), ids=_junk)
async def test_reads_raise_only_typed_errors(
    vector: Any, top_k: Any, filter: Any, namespace: Any, ids: Any
) -> None:
    async with make_store() as store:
        await store.upsert([{"id": "a", "values": [1, 2, 3], "metadata": {"k": 1}}])
        for call in (
            lambda: store.query(vector, top_k=top_k, filter=filter, namespace=namespace),
            lambda: store.count(namespace=namespace, filter=filter),
            lambda: store.fetch(ids, namespace=namespace),
            lambda: store.delete(ids, namespace=namespace),
            lambda: store.delete_by_filter(filter, namespace=namespace),
        ):
            with contextlib.suppress(DevoraError):
                await call()


_float32_queries = hnp.arrays(
    np.float32,
    DIM,
    elements=st.floats(width=32, allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, 1e-30, 1e30, 3.4e38]),
)


# Queries near float32's limits overflow numpy's products (scores of +-inf): numpy says
# so with RuntimeWarnings, which are expected here.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@settings(max_examples=300, deadline=None)
@given(query=_float32_queries)
async def test_a_float32_query_array_reads_as_the_same_query_as_a_list(
    query: npt.NDArray[np.float32],
) -> None:
    """The store's fast path for float32 arrays (what embedders give) gives the scores
    the checked path gives for the same numbers as a list, or the same typed error."""
    for metric in ("cosine", "dot", "euclidean"):
        store = VectorStore(VectorStoreConfig(dimension=DIM, metric=metric))
        await store.upsert(
            [VectorRecord(str(i), v) for i, v in enumerate(np.eye(DIM, dtype=np.float32) + 0.1)]
        )
        outcomes = []
        for form in (query, [float(x) for x in query]):
            try:
                found = await store.query(form, top_k=DIM)
            except ConfigurationError as error:
                outcomes.append(type(error))
            else:
                outcomes.append({m.id: m.score for m in found})
        fast, checked = outcomes
        if isinstance(fast, dict) and isinstance(checked, dict):
            assert fast.keys() == checked.keys()
            for key, score in fast.items():
                assert score == pytest.approx(checked[key], rel=1e-5, abs=1e-6)
        else:
            assert fast == checked
