"""Bayesian chance to beat control and expected loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import betaln

from ml_ops.ab_testing.statistics import (
    BetaPrior,
    Direction,
    MeanSummary,
    ProportionSummary,
    bayesian_means,
    bayesian_proportions,
)


def exact_chance_to_beat(a_c: int, b_c: int, a_t: int, b_t: int) -> float:
    """P(p_t > p_c) for Beta posteriors with integer a_t (Evan Miller's closed form)."""
    terms = [
        betaln(a_c + i, b_c + b_t) - math.log(b_t + i) - betaln(1 + i, b_t) - betaln(a_c, b_c)
        for i in range(a_t)
    ]
    return float(np.exp(terms).sum())


def test_monte_carlo_matches_the_closed_form() -> None:
    control, treatment = ProportionSummary(400, 80), ProportionSummary(400, 95)
    result = bayesian_proportions(control, treatment)
    exact = exact_chance_to_beat(81, 321, 96, 306)
    assert result.chance_to_beat_control == pytest.approx(exact, abs=4 * 0.5 / math.sqrt(1e5))
    assert result.method == "monte_carlo"
    assert bayesian_proportions(control, treatment) == result  # seeded: reproducible


def test_chance_is_one_half_for_identical_data() -> None:
    same = ProportionSummary(1_000, 200)
    assert bayesian_proportions(same, same).chance_to_beat_control == pytest.approx(0.5, abs=0.01)
    means = MeanSummary.from_values(np.arange(10.0))
    assert bayesian_means(means, means).chance_to_beat_control == 0.5


def test_chance_averages_one_half_under_aa() -> None:
    rng = np.random.default_rng(3)
    counts = rng.binomial(2_000, 0.1, size=(300, 2))
    chances = [
        bayesian_proportions(
            ProportionSummary(2_000, int(c)), ProportionSummary(2_000, int(t)), draws=20_000
        ).chance_to_beat_control
        for c, t in counts
    ]
    assert np.mean(chances) == pytest.approx(0.5, abs=0.05)  # uniform on [0, 1]: sd 0.017


def test_chance_is_near_one_for_a_large_lift() -> None:
    result = bayesian_proportions(ProportionSummary(5_000, 1_000), ProportionSummary(5_000, 1_250))
    assert result.chance_to_beat_control > 0.999
    assert result.expected_loss_treatment < 1e-6
    assert result.difference_interval.contains(0.05)


def test_expected_loss_decreases_with_n() -> None:
    losses = [
        bayesian_proportions(
            ProportionSummary(n, n // 5), ProportionSummary(n, n * 21 // 100)
        ).expected_loss_treatment
        for n in (500, 2_000, 8_000, 32_000)
    ]
    assert losses == sorted(losses, reverse=True)
    assert losses[-1] < losses[0] / 10


def test_lower_is_better_flips_the_chance() -> None:
    control, treatment = ProportionSummary(1_000, 100), ProportionSummary(1_000, 80)
    lower = bayesian_proportions(control, treatment, direction=Direction.LOWER_IS_BETTER)
    higher = bayesian_proportions(control, treatment)
    assert lower.chance_to_beat_control == pytest.approx(1 - higher.chance_to_beat_control)


def test_prior_pulls_towards_its_mean() -> None:
    control, treatment = ProportionSummary(20, 2), ProportionSummary(20, 6)
    flat = bayesian_proportions(control, treatment)
    strong = bayesian_proportions(control, treatment, prior=BetaPrior(200, 800))
    assert strong.chance_to_beat_control < flat.chance_to_beat_control
    with pytest.raises(ValueError, match="> 0"):
        BetaPrior(0, 1)


def test_means_closed_form_matches_simulation() -> None:
    rng = np.random.default_rng(11)
    control = MeanSummary.from_values(rng.normal(1.00, 1.0, size=800))
    treatment = MeanSummary.from_values(rng.normal(1.08, 1.0, size=800))
    result = bayesian_means(control, treatment)
    sd = math.sqrt(control.variance / 800 + treatment.variance / 800)
    draws = np.random.default_rng(0).normal(treatment.mean - control.mean, sd, size=400_000)
    assert result.chance_to_beat_control == pytest.approx(np.mean(draws > 0), abs=0.005)
    assert result.expected_loss_treatment == pytest.approx(np.maximum(-draws, 0).mean(), rel=0.05)
    assert result.expected_loss_control == pytest.approx(np.maximum(draws, 0).mean(), rel=0.02)
    assert result.method == "normal_closed_form"


def test_means_expected_loss_decreases_with_n() -> None:
    def summary(n: int, mean: float) -> MeanSummary:
        return MeanSummary(n=n, sum=n * mean, sum_squares=(n - 1) * 1.0 + n * mean * mean)

    losses = [
        bayesian_means(summary(n, 1.0), summary(n, 1.05)).expected_loss_treatment
        for n in (100, 1_000, 10_000)
    ]
    assert losses == sorted(losses, reverse=True)
