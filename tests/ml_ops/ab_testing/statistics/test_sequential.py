"""The sequential mode holds its false-positive rate under peeking; the naive test does not.

Each simulated A/A experiment is checked after every 100 observations per arm, up to 5,000
per arm, and counts as a false positive if any look is significant.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_ops.ab_testing.statistics import (
    DEFAULT_TUNING_N,
    MeanSummary,
    ProportionSummary,
    sequence_multiplier,
    sequential_means,
    sequential_proportions,
    two_proportion_ztest,
    welch_ttest,
)

ALPHA = 0.05
STEP, LOOKS = 100, 50  # a look after every 100 units per arm, up to 5,000 per arm


def simulation_ceiling(experiments: int) -> float:
    """alpha plus the one-sided 99% simulation error of a rate estimated from `experiments`."""
    return ALPHA + 2.326 * math.sqrt(ALPHA * (1 - ALPHA) / experiments)


def test_peeking_rates_sequential_holds_alpha_naive_does_not() -> None:
    rng = np.random.default_rng(2024)
    experiments = 600
    cumulative = rng.binomial(STEP, 0.2, size=(experiments, 2, LOOKS)).cumsum(axis=2)
    naive = sequential = 0
    for control, treatment in cumulative:
        looks = [
            (ProportionSummary(STEP * (k + 1), int(c)), ProportionSummary(STEP * (k + 1), int(t)))
            for k, (c, t) in enumerate(zip(control, treatment, strict=True))
        ]
        naive += any(two_proportion_ztest(c, t).p_value < ALPHA for c, t in looks)
        sequential += any(sequential_proportions(c, t).p_value < ALPHA for c, t in looks)
    naive_fpr, sequential_fpr = naive / experiments, sequential / experiments
    print(
        f"rates, {experiments} A/A x {LOOKS} looks: naive z-test FPR {naive_fpr:.3f}, "
        f"sequential FPR {sequential_fpr:.3f} (alpha {ALPHA})"
    )
    assert sequential_fpr <= simulation_ceiling(experiments), (naive_fpr, sequential_fpr)
    assert naive_fpr >= 3 * ALPHA, (naive_fpr, sequential_fpr)


def mean_looks(values: np.ndarray) -> list[MeanSummary]:
    """Cumulative summaries of one arm's values at every look."""
    sums = values.reshape(LOOKS, STEP).sum(axis=1).cumsum()
    squares = (values * values).reshape(LOOKS, STEP).sum(axis=1).cumsum()
    return [
        MeanSummary(STEP * (k + 1), float(s), float(q))
        for k, (s, q) in enumerate(zip(sums, squares, strict=True))
    ]


def test_peeking_means_sequential_holds_alpha_naive_does_not() -> None:
    rng = np.random.default_rng(77)
    experiments = 500
    cost = rng.exponential(0.01, size=(experiments, 2, STEP * LOOKS))  # skewed, like cost
    naive = sequential = 0
    for control, treatment in cost:
        looks = list(zip(mean_looks(control), mean_looks(treatment), strict=True))
        naive += any(welch_ttest(c, t).p_value < ALPHA for c, t in looks)
        sequential += any(sequential_means(c, t).p_value < ALPHA for c, t in looks)
    naive_fpr, sequential_fpr = naive / experiments, sequential / experiments
    print(
        f"means, {experiments} A/A x {LOOKS} looks: naive Welch FPR {naive_fpr:.3f}, "
        f"sequential FPR {sequential_fpr:.3f} (alpha {ALPHA})"
    )
    assert sequential_fpr <= simulation_ceiling(experiments), (naive_fpr, sequential_fpr)
    assert naive_fpr >= 3 * ALPHA, (naive_fpr, sequential_fpr)


def test_sequential_mode_still_finds_a_real_lift() -> None:
    rng = np.random.default_rng(5)
    experiments = 300
    control = rng.binomial(STEP, 0.20, size=(experiments, LOOKS)).cumsum(axis=1)
    treatment = rng.binomial(STEP, 0.25, size=(experiments, LOOKS)).cumsum(axis=1)
    found = sum(
        any(
            sequential_proportions(
                ProportionSummary(STEP * (k + 1), int(c[k])),
                ProportionSummary(STEP * (k + 1), int(t[k])),
            ).p_value
            < ALPHA
            for k in range(LOOKS)
        )
        for c, t in zip(control, treatment, strict=True)
    )
    print(f"sequential power for 20% -> 25% within 5,000 per arm: {found / experiments:.3f}")
    assert found / experiments > 0.9


def test_interval_is_wider_than_fixed_horizon_and_tightest_near_tuning_n() -> None:
    assert sequence_multiplier(DEFAULT_TUNING_N) == pytest.approx(3.035, abs=1e-3)
    ratios = [sequence_multiplier(n) / 1.959964 for n in (100, 1_000, 5_000, 50_000)]
    assert all(r > 1 for r in ratios)


@settings(max_examples=200, deadline=None)
@given(
    n_c=st.integers(20, 50_000),
    n_t=st.integers(20, 50_000),
    rate_c=st.floats(0.05, 0.95),
    rate_t=st.floats(0.05, 0.95),
    tuning_n=st.integers(100, 100_000),
)
def test_p_value_and_interval_agree(
    n_c: int, n_t: int, rate_c: float, rate_t: float, tuning_n: int
) -> None:
    control = ProportionSummary(n_c, round(n_c * rate_c))
    treatment = ProportionSummary(n_t, round(n_t * rate_t))
    result = sequential_proportions(control, treatment, tuning_n=tuning_n)
    excludes_zero = not result.difference_ci.contains(0.0)
    if abs(result.p_value - ALPHA) > 1e-9:
        assert (result.p_value < ALPHA) == excludes_zero


def test_means_need_two_units() -> None:
    one = MeanSummary(1, 1.0, 1.0)
    with pytest.raises(ValueError, match="two units"):
        sequential_means(one, one)
