"""Minimum sample sizes: the textbook formulas, and the power they promise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.power import NormalIndPower

from ml_ops.ab_testing.statistics import (
    EffectScale,
    MeanSummary,
    minimum_sample_size_means,
    minimum_sample_size_proportions,
    welch_ttest,
)


def test_relative_and_absolute_effects_agree() -> None:
    relative = minimum_sample_size_proportions(0.20, 0.25, scale=EffectScale.RELATIVE)
    absolute = minimum_sample_size_proportions(0.20, 0.05, scale=EffectScale.ABSOLUTE)
    assert relative == absolute == 1094


def test_more_variants_need_more_units() -> None:
    one = minimum_sample_size_proportions(0.2, 0.1)
    three = minimum_sample_size_proportions(0.2, 0.1, comparisons=3)
    assert three > one


def fleiss(p1: float, p2: float) -> float:
    """Fleiss's two-proportion sample size at alpha 0.05 (two-sided) and power 0.8."""
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    mean = (p1 + p2) / 2
    spread = z_a * np.sqrt(2 * mean * (1 - mean)) + z_b * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return float(spread**2 / (p2 - p1) ** 2)


def test_a_rate_that_cannot_rise_by_the_effect_is_planned_for_a_fall() -> None:
    # 95% cannot rise by 10%; the test is two-sided, so plan for 95% -> 85.5%.
    assert minimum_sample_size_proportions(0.95, 0.1) == np.ceil(fleiss(0.95, 0.855)) == 152


@settings(max_examples=200, deadline=None)
@given(baseline=st.floats(0.001, 0.999), mde=st.floats(0.01, 0.99))
def test_every_rate_and_relative_effect_below_100_percent_can_be_planned(
    baseline: float, mde: float
) -> None:
    up, down = baseline * (1 + mde), baseline * (1 - mde)
    target = up if up < 1 else down
    assert minimum_sample_size_proportions(baseline, mde) == pytest.approx(
        np.ceil(fleiss(baseline, target)), abs=1
    )


def test_means_formula_equals_statsmodels() -> None:
    n = minimum_sample_size_means(4.0, 0.25, alpha=0.05, power=0.9)
    theirs = NormalIndPower().solve_power(effect_size=0.25 / 2.0, alpha=0.05, power=0.9)
    assert n == pytest.approx(theirs, abs=1)
    relative = minimum_sample_size_means(
        4.0, 0.05, scale=EffectScale.RELATIVE, baseline_mean=5.0, alpha=0.05, power=0.9
    )
    assert relative == n


def test_means_sample_size_gives_the_planned_power() -> None:
    n = minimum_sample_size_means(1.0, 0.1)
    rng = np.random.default_rng(8)
    experiments = 2_000
    control = rng.normal(0.0, 1.0, size=(experiments, n))
    treatment = rng.normal(0.1, 1.0, size=(experiments, n))
    detected = sum(
        welch_ttest(MeanSummary.from_values(c), MeanSummary.from_values(t)).p_value < 0.05
        for c, t in zip(control, treatment, strict=True)
    )
    low, high = stats.binom.interval(0.99, experiments, 0.8)
    print(f"Welch power at n={n} per arm for a 0.1 sd shift: {detected / experiments:.3f}")
    assert low <= detected <= high


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: minimum_sample_size_proportions(0.5, 0.6, scale=EffectScale.ABSOLUTE),
            "baseline_rate - mde",
        ),
        (lambda: minimum_sample_size_proportions(0.2, 0.0), "mde"),
        (lambda: minimum_sample_size_means(1.0, 0.1, scale=EffectScale.RELATIVE), "baseline_mean"),
        (lambda: minimum_sample_size_means(0.0, 0.1), "variance"),
        (lambda: minimum_sample_size_means(1.0, 0.1, power=1.0), "power"),
    ],
)
def test_rejects_impossible_plans(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
