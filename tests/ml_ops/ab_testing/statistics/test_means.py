"""Welch's t-test: equal to scipy, honest under A/A."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from ml_ops.ab_testing.statistics import MeanSummary, welch_ttest


def check_against_scipy(control: np.ndarray, treatment: np.ndarray) -> None:
    ours = welch_ttest(MeanSummary.from_values(control), MeanSummary.from_values(treatment))
    theirs = stats.ttest_ind(treatment, control, equal_var=False)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-9)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-7, abs=1e-9)
    assert ours.degrees_of_freedom == pytest.approx(theirs.df, rel=1e-7)
    ci = theirs.confidence_interval(0.95)
    assert ours.difference_ci.lower == pytest.approx(ci.low, rel=1e-7, abs=1e-9)
    assert ours.difference_ci.upper == pytest.approx(ci.high, rel=1e-7, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_control=st.integers(2, 3_000),
    n_treatment=st.integers(2, 3_000),
    shift=st.floats(-2.0, 2.0),
    scale_ratio=st.floats(0.2, 5.0),
    skewed=st.booleans(),
)
def test_equals_scipy_welch_on_random_data(
    seed: int, n_control: int, n_treatment: int, shift: float, scale_ratio: float, skewed: bool
) -> None:
    rng = np.random.default_rng(seed)
    draw = rng.lognormal if skewed else rng.normal
    control = draw(1.0, 1.0, size=n_control)
    treatment = draw(1.0 + shift * 0.1, scale_ratio, size=n_treatment)
    check_against_scipy(control, treatment)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1_000, 1_000), min_size=2, max_size=60),
    st.lists(st.floats(-1_000, 1_000), min_size=2, max_size=60),
)
def test_equals_scipy_welch_on_arbitrary_values(
    control: list[float], treatment: list[float]
) -> None:
    c, t = np.array(control), np.array(treatment)
    assume(c.std() > 1e-2 and t.std() > 1e-2)
    check_against_scipy(c, t)


def test_zero_variance_gives_no_evidence_for_equal_means_and_certainty_for_different() -> None:
    same = MeanSummary.from_values([1.0, 1.0, 1.0])
    assert welch_ttest(same, same).p_value == 1.0
    cheaper = welch_ttest(MeanSummary.from_values([2.0] * 50), MeanSummary.from_values([1.0] * 50))
    assert cheaper.p_value == 0.0 and cheaper.statistic == -math.inf
    assert cheaper.difference_ci.lower == cheaper.difference_ci.upper == -1.0
    with pytest.raises(ValueError, match="two units"):
        welch_ttest(MeanSummary.from_values([1.0]), same)


def test_aa_false_positive_rate_is_alpha() -> None:
    rng = np.random.default_rng(99)
    experiments, n = 1_000, 400
    latency = rng.lognormal(0.0, 1.0, size=(experiments, 2, n))  # skewed, like latency
    rejections = sum(
        welch_ttest(MeanSummary.from_values(c), MeanSummary.from_values(t)).p_value < 0.05
        for c, t in latency
    )
    low, high = stats.binom.interval(0.99, experiments, 0.05)
    print(f"A/A Welch false positive rate: {rejections / experiments:.3f}")
    assert low <= rejections <= high
