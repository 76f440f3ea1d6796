"""Thompson-sampling allocation for the bandit mode."""

from __future__ import annotations

import json

import pytest

from ml_ops.ab_testing.statistics import Direction, ProportionSummary, thompson_weights


def test_weights_favour_the_better_arm_and_sum_to_one() -> None:
    arms = {"a": ProportionSummary(500, 100), "b": ProportionSummary(500, 130)}
    allocation = thompson_weights(arms)
    assert sum(allocation.weights.values()) == pytest.approx(1.0)
    assert allocation.weights["b"] > 0.9
    assert allocation.fixed_horizon_p_values_apply is False
    assert "do not apply" in allocation.note
    assert thompson_weights(arms) == allocation  # seeded
    json.dumps(allocation.to_dict(), allow_nan=False)


def test_no_data_splits_evenly() -> None:
    arms = {name: ProportionSummary(0, 0) for name in "abc"}
    weights = thompson_weights(arms, draws=60_000).weights
    assert all(w == pytest.approx(1 / 3, abs=0.01) for w in weights.values())


def test_floor_keeps_every_arm_alive() -> None:
    arms = {"a": ProportionSummary(5_000, 1_000), "b": ProportionSummary(5_000, 1_500)}
    weights = thompson_weights(arms, floor=0.05).weights
    assert weights["a"] == pytest.approx(0.05)
    assert weights["b"] == pytest.approx(0.95)


def test_lower_is_better() -> None:
    arms = {"a": ProportionSummary(500, 100), "b": ProportionSummary(500, 130)}
    assert thompson_weights(arms, direction=Direction.LOWER_IS_BETTER).weights["a"] > 0.9


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="two variants"):
        thompson_weights({"a": ProportionSummary(1, 1)})
    with pytest.raises(ValueError, match="floor"):
        thompson_weights({"a": ProportionSummary(1, 1), "b": ProportionSummary(1, 0)}, floor=0.6)
