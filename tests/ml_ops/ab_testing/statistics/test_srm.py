"""Sample ratio mismatch: flagged at p < 0.001."""

from __future__ import annotations

import pytest
from scipy import stats

from ml_ops.ab_testing.statistics import sample_ratio_mismatch


def test_flags_a_52_48_split_of_10000_units() -> None:
    check = sample_ratio_mismatch([5_200, 4_800], [0.5, 0.5])
    assert check.mismatch
    assert check.chi_square == pytest.approx(16.0)
    assert check.p_value == pytest.approx(stats.chisquare([5_200, 4_800]).pvalue)
    assert check.p_value < 0.001


def test_does_not_flag_a_50_50_split() -> None:
    check = sample_ratio_mismatch([5_000, 5_000], [0.5, 0.5])
    assert not check.mismatch
    assert check.p_value == pytest.approx(1.0)


def test_uses_the_configured_weights() -> None:
    counts, weights = [2_050, 3_950, 4_000], [0.2, 0.4, 0.4]
    check = sample_ratio_mismatch(counts, weights)
    expected = [10_000 * w for w in weights]
    assert check.p_value == pytest.approx(stats.chisquare(counts, expected).pvalue)
    assert not check.mismatch
    assert sample_ratio_mismatch([5_200, 4_800], [52, 48]).p_value == pytest.approx(1.0)


def test_units_in_a_zero_weight_variant_are_a_mismatch() -> None:
    assert sample_ratio_mismatch([100, 1], [1.0, 0.0]).mismatch


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="one weight per variant"):
        sample_ratio_mismatch([1, 2], [1.0])
    with pytest.raises(ValueError, match="weights"):
        sample_ratio_mismatch([1, 2], [0.0, 0.0])
