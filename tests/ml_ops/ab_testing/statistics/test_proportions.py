"""Two-proportion z-test: equal to statsmodels, honest under A/A, powered as planned."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from ml_ops.ab_testing.statistics import (
    EffectScale,
    ProportionSummary,
    minimum_sample_size_proportions,
    two_proportion_ztest,
)


@st.composite
def two_rates(draw: st.DrawFn) -> tuple[ProportionSummary, ProportionSummary]:
    n_c = draw(st.integers(1, 200_000))
    n_t = draw(st.integers(1, 200_000))
    return (
        ProportionSummary(n_c, draw(st.integers(0, n_c))),
        ProportionSummary(n_t, draw(st.integers(0, n_t))),
    )


@settings(max_examples=300, deadline=None)
@given(two_rates())
def test_equals_statsmodels_proportions_ztest(rates: tuple[ProportionSummary, ...]) -> None:
    control, treatment = rates
    pooled = (control.successes + treatment.successes) / (control.n + treatment.n)
    assume(0 < pooled < 1)
    ours = two_proportion_ztest(control, treatment)
    z, p = proportions_ztest([treatment.successes, control.successes], [treatment.n, control.n])
    assert ours.p_value == pytest.approx(p, abs=1e-9)
    assert ours.statistic == pytest.approx(z, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(two_rates())
def test_interval_is_the_unpooled_wald_interval(rates: tuple[ProportionSummary, ...]) -> None:
    control, treatment = rates
    assume(0 < control.successes < control.n and 0 < treatment.successes < treatment.n)
    ours = two_proportion_ztest(control, treatment)
    low, high = confint_proportions_2indep(
        treatment.successes, treatment.n, control.successes, control.n, method="wald"
    )
    assert ours.difference_ci.lower == pytest.approx(low, abs=1e-9)
    assert ours.difference_ci.upper == pytest.approx(high, abs=1e-9)


def test_relative_lift_uses_the_delta_method() -> None:
    control, treatment = ProportionSummary(10_000, 2_000), ProportionSummary(10_000, 2_200)
    result = two_proportion_ztest(control, treatment)
    assert result.relative_lift == pytest.approx(0.1)
    se = np.sqrt(0.22 * 0.78 / 10_000 / 0.2**2 + 0.22**2 * 0.2 * 0.8 / 10_000 / 0.2**4)
    assert result.relative_lift_ci is not None
    assert result.relative_lift_ci.upper - 0.1 == pytest.approx(stats.norm.ppf(0.975) * se)


def test_degenerate_data_gives_no_evidence() -> None:
    result = two_proportion_ztest(ProportionSummary(100, 0), ProportionSummary(100, 0))
    assert result.p_value == 1.0
    assert result.relative_lift is None
    with pytest.raises(ValueError, match="at least one unit"):
        two_proportion_ztest(ProportionSummary(0, 0), ProportionSummary(10, 1))
    with pytest.raises(ValueError, match="alpha"):
        two_proportion_ztest(ProportionSummary(10, 1), ProportionSummary(10, 1), alpha=1.5)


def binomial_99_range(experiments: int, rate: float) -> tuple[float, float]:
    low, high = stats.binom.interval(0.99, experiments, rate)
    return low / experiments, high / experiments


def test_aa_false_positive_rate_is_alpha() -> None:
    rng = np.random.default_rng(20240501)
    experiments, n, rate = 1_000, 2_000, 0.3
    successes = rng.binomial(n, rate, size=(experiments, 2))
    rejections = sum(
        two_proportion_ztest(ProportionSummary(n, int(c)), ProportionSummary(n, int(t))).p_value
        < 0.05
        for c, t in successes
    )
    low, high = binomial_99_range(experiments, 0.05)
    print(f"A/A z-test false positive rate: {rejections / experiments:.3f}")
    assert low <= rejections / experiments <= high


def test_computed_sample_size_gives_the_planned_power() -> None:
    n = minimum_sample_size_proportions(0.20, 0.05, scale=EffectScale.ABSOLUTE, power=0.8)
    assert n == 1094
    rng = np.random.default_rng(7)
    experiments = 2_000
    control = rng.binomial(n, 0.20, size=experiments)
    treatment = rng.binomial(n, 0.25, size=experiments)
    detected = sum(
        two_proportion_ztest(ProportionSummary(n, int(c)), ProportionSummary(n, int(t))).p_value
        < 0.05
        for c, t in zip(control, treatment, strict=True)
    )
    low, high = binomial_99_range(experiments, 0.8)
    print(f"power at n={n} per arm for 20% -> 25%: {detected / experiments:.3f}")
    assert low <= detected / experiments <= high
