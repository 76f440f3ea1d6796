"""Sticky assignment: the hash is stable and uniform, shares follow the weights, and a
weight change moves exactly the buckets it must (a property test)."""

from __future__ import annotations

import hashlib
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.errors import ConfigurationError
from ml_ops.ab_testing import BUCKETS, BucketMap, bucket_of
from ml_ops.ab_testing.buckets import apportion

NAMES = ["a", "b", "c", "d", "e"]
weight_lists = st.lists(
    st.floats(min_value=0, max_value=1000, allow_nan=False), min_size=2, max_size=5
).filter(lambda ws: sum(ws) > 0)


def as_weights(values: list[float]) -> dict[str, float]:
    return dict(zip(NAMES, values, strict=False))


def test_the_bucket_is_the_documented_hash() -> None:
    digest = hashlib.sha256(b"prompt_test\x00user-42").digest()
    expected = int(int.from_bytes(digest[:8], "big") / 2**64 * BUCKETS)
    assert bucket_of("prompt_test", "user-42") == expected
    assert bucket_of("prompt_test", "user-42") == bucket_of("prompt_test", "user-42")


def test_buckets_are_uniform() -> None:
    counts = Counter(bucket_of("salt", f"user-{n}") // 1000 for n in range(50_000))
    assert len(counts) == 10
    assert all(4_600 <= c <= 5_400 for c in counts.values())  # 10 deciles of 5,000 each


def test_salts_make_experiments_independent() -> None:
    both = Counter(
        (bucket_of("one", f"u{n}") < 5_000, bucket_of("two", f"u{n}") < 5_000)
        for n in range(20_000)
    )
    assert all(4_500 <= c <= 5_500 for c in both.values())


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ({"a": 1, "b": 1}, {"a": 5_000, "b": 5_000}),
        ({"a": 1, "b": 2}, {"a": 3_333, "b": 6_667}),
        ({"a": 1, "b": 1, "c": 1}, {"a": 3_334, "b": 3_333, "c": 3_333}),
        ({"a": 0.1, "b": 0.0, "c": 0.3}, {"a": 2_500, "b": 0, "c": 7_500}),
    ],
)
def test_shares_follow_the_weights(weights: dict[str, float], expected: dict[str, int]) -> None:
    assert apportion(weights) == expected
    assert BucketMap.build(weights).counts() == expected


@pytest.mark.parametrize("weights", [{}, {"a": 0}, {"a": -1, "b": 2}])
def test_bad_weights_are_refused(weights: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        apportion(weights)


@settings(max_examples=150, deadline=None)
@given(first=weight_lists, changes=st.lists(weight_lists, min_size=1, max_size=4))
def test_a_weight_change_moves_the_fewest_buckets(
    first: list[float], changes: list[list[float]]
) -> None:
    current = BucketMap.build(as_weights(first))
    for values in changes:
        values = (values + [1.0] * len(first))[: len(first)]
        if sum(values) <= 0:
            continue
        weights = as_weights(values)
        new = current.rebalance(weights)
        old_counts, new_counts = current.counts(), new.counts()
        assert new_counts == apportion(weights)
        minimum = sum(max(0, old_counts[n] - new_counts[n]) for n in old_counts)
        assert current.moved(new) == minimum
        assert BucketMap.from_dict(new.to_dict()) == new
        current = new


def test_a_ramp_keeps_every_unit_that_can_stay() -> None:
    salt = "ramp"
    units = [f"user-{n}" for n in range(5_000)]
    before = BucketMap.build({"control": 90, "new": 10})
    after = before.rebalance({"control": 50, "new": 50})
    old = {u: before.variant_at(bucket_of(salt, u)) for u in units}
    new = {u: after.variant_at(bucket_of(salt, u)) for u in units}
    assert all(new[u] == "new" for u in units if old[u] == "new")  # nobody leaves "new"
    moved = sum(old[u] != new[u] for u in units)
    assert 0.35 * len(units) <= moved <= 0.45 * len(units)  # 40% of traffic must move


def test_random_buckets_cover_the_space() -> None:
    from ml_ops.ab_testing.buckets import random_bucket

    rng = random.Random(1)
    draws = [random_bucket(rng) for _ in range(10_000)]
    assert min(draws) >= 0 and max(draws) < BUCKETS
    assert len(set(draws)) > 6_000


def test_a_damaged_map_is_refused() -> None:
    data = BucketMap.build({"a": 1, "b": 1}).to_dict()
    data["ranges"][1][0] = 4_000
    with pytest.raises(ConfigurationError, match="damaged"):
        BucketMap.from_dict(data)
