"""Usage: subset rules, derived totals, and addition."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.core.usage import Usage


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    """Any valid Usage: cache counts within input, reasoning within output."""
    input_tokens = draw(st.integers(0, 10**9))
    cached = draw(st.integers(0, input_tokens))
    creation = draw(st.integers(0, input_tokens - cached))
    output_tokens = draw(st.integers(0, 10**9))
    reasoning = draw(st.integers(0, output_tokens))
    return Usage(input_tokens, output_tokens, cached, creation, reasoning, draw(st.booleans()))


def test_defaults_are_zero_and_reported() -> None:
    usage = Usage()
    assert (usage.total_tokens, usage.uncached_input_tokens, usage.estimated) == (0, 0, False)


def test_total_is_input_plus_output_without_counting_subsets_again() -> None:
    usage = Usage(
        input_tokens=1000,
        output_tokens=300,
        cached_input_tokens=600,
        cache_creation_tokens=250,
        reasoning_tokens=200,
    )
    assert usage.total_tokens == 1300
    assert usage.uncached_input_tokens == 150


def test_subsets_may_fill_the_whole_input() -> None:
    usage = Usage(input_tokens=10, cached_input_tokens=4, cache_creation_tokens=6)
    assert usage.uncached_input_tokens == 0
    assert Usage(output_tokens=5, reasoning_tokens=5).reasoning_tokens == 5


@pytest.mark.parametrize(
    "field",
    [
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_creation_tokens",
        "reasoning_tokens",
    ],
)
def test_negative_counts_are_rejected_by_name(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Usage(**{field: -1})


def test_cache_counts_beyond_input_are_rejected() -> None:
    with pytest.raises(ValueError, match="subset"):
        Usage(input_tokens=10, cached_input_tokens=11)
    with pytest.raises(ValueError, match="subset"):
        Usage(input_tokens=10, cache_creation_tokens=11)
    with pytest.raises(ValueError, match="subset"):
        Usage(input_tokens=10, cached_input_tokens=6, cache_creation_tokens=5)


def test_reasoning_beyond_output_is_rejected() -> None:
    with pytest.raises(ValueError, match="reasoning"):
        Usage(output_tokens=3, reasoning_tokens=4)


def test_usage_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Usage().input_tokens = 5  # type: ignore[misc]


def test_addition_adds_each_count_and_ors_estimated() -> None:
    a = Usage(100, 20, 50, 10, 5, estimated=False)
    b = Usage(30, 7, 0, 30, 7, estimated=True)
    assert a + b == Usage(130, 27, 50, 40, 12, estimated=True)
    assert a + Usage(1, 1) == Usage(101, 21, 50, 10, 5, estimated=False)


@given(usages(), usages())
def test_addition_is_commutative(a: Usage, b: Usage) -> None:
    assert a + b == b + a


@given(usages(), usages(), usages())
def test_addition_is_associative(a: Usage, b: Usage, c: Usage) -> None:
    assert (a + b) + c == a + (b + c)


@given(usages())
def test_zero_usage_is_the_identity(a: Usage) -> None:
    assert a + Usage() == a
    assert Usage() + a == a


@given(usages(), usages())
def test_totals_and_uncached_counts_add(a: Usage, b: Usage) -> None:
    total = a + b
    assert total.total_tokens == a.total_tokens + b.total_tokens
    assert total.uncached_input_tokens == a.uncached_input_tokens + b.uncached_input_tokens
    assert total.estimated == (a.estimated or b.estimated)


@given(usages())
def test_derived_counts_are_never_negative(a: Usage) -> None:
    assert a.uncached_input_tokens >= 0
    assert a.total_tokens >= a.input_tokens >= a.cached_input_tokens
