"""Bayesian summaries: chance to beat control and expected loss.

Use them to talk about risk ("B is better with probability 0.97; if it is not, we lose
0.02 points on average"), not as a substitute for the false-positive guarantees of the
frequentist modes: the chance to beat control is not corrected for peeking.

- Rates: Beta-Binomial with a Beta(a, b) prior per variant (uniform Beta(1, 1) by
  default). The posteriors are exact; chance to beat and expected loss are estimated by
  **seeded Monte Carlo** (`draws` joint draws from the two posteriors, `seed` fixed, so the
  same summaries always give the same numbers). The Monte Carlo standard error of the
  chance is at most 0.5 / sqrt(draws) (0.0016 at the default 100,000 draws).
- Means: normal approximation with a flat prior: the difference of means is
  N(mean_t - mean_c, var_t/n_t + var_c/n_c); both numbers are then in **closed form**.
  Assumes enough units for the central limit theorem (as Welch's test does).

Expected loss is the posterior mean of what you give up by a choice: for shipping the
treatment, E[max(control - treatment, 0)] (on the metric's scale, sign-flipped for
lower-is-better metrics); for keeping the control, E[max(treatment - control, 0)]. It
shrinks towards 0 as data accumulate; stop when the loss of the better choice is below what
you can afford.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from ml_ops.ab_testing.statistics.results import Direction, Interval, json_float
from ml_ops.ab_testing.statistics.summaries import MeanSummary, ProportionSummary


@dataclass(frozen=True, slots=True)
class BetaPrior:
    """A Beta(alpha, beta) prior on a rate; Beta(1, 1) is uniform on [0, 1]."""

    alpha: float = 1.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.alpha <= 0 or self.beta <= 0:
            raise ValueError(f"Beta prior parameters must be > 0, got {self.alpha}, {self.beta}")

    def posterior(self, summary: ProportionSummary) -> tuple[float, float]:
        """The posterior Beta parameters after `summary`."""
        return self.alpha + summary.successes, self.beta + summary.n - summary.successes


@dataclass(frozen=True, slots=True)
class BayesianComparison:
    """Posterior comparison of treatment with control.

    `difference_interval` is the central 95% credible interval of treatment - control.
    `method` is "monte_carlo" (rates; `draws` and `seed` say how) or "normal_closed_form"
    (means).
    """

    chance_to_beat_control: float
    expected_loss_treatment: float
    expected_loss_control: float
    difference_interval: Interval
    direction: Direction
    method: str
    draws: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The comparison as plain JSON types."""
        return {
            "chance_to_beat_control": json_float(self.chance_to_beat_control),
            "expected_loss_treatment": json_float(self.expected_loss_treatment),
            "expected_loss_control": json_float(self.expected_loss_control),
            "difference_interval": self.difference_interval.to_dict(),
            "direction": self.direction.value,
            "method": self.method,
            "draws": self.draws,
            "seed": self.seed,
        }


def bayesian_proportions(
    control: ProportionSummary,
    treatment: ProportionSummary,
    *,
    prior: BetaPrior | None = None,
    direction: Direction = Direction.HIGHER_IS_BETTER,
    draws: int = 100_000,
    seed: int = 0,
) -> BayesianComparison:
    """Chance to beat control and expected losses for two rates, by seeded Monte Carlo
    from the Beta posteriors (prior uniform unless given)."""
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    prior = prior or BetaPrior()
    rng = np.random.default_rng(seed)
    p_control = rng.beta(*prior.posterior(control), size=draws)
    p_treatment = rng.beta(*prior.posterior(treatment), size=draws)
    difference = p_treatment - p_control
    gain = difference if direction is Direction.HIGHER_IS_BETTER else -difference
    low, high = np.quantile(difference, [0.025, 0.975])
    return BayesianComparison(
        chance_to_beat_control=float(np.mean(gain > 0)),
        expected_loss_treatment=float(np.mean(np.maximum(-gain, 0.0))),
        expected_loss_control=float(np.mean(np.maximum(gain, 0.0))),
        difference_interval=Interval(float(low), float(high)),
        direction=direction,
        method="monte_carlo",
        draws=draws,
        seed=seed,
    )


def bayesian_means(
    control: MeanSummary,
    treatment: MeanSummary,
    *,
    direction: Direction = Direction.HIGHER_IS_BETTER,
) -> BayesianComparison:
    """Chance to beat control and expected losses for two means, in closed form under the
    normal approximation with a flat prior."""
    if control.n < 2 or treatment.n < 2:
        raise ValueError("need at least two units per variant")
    difference = treatment.mean - control.mean
    sd = math.sqrt(control.variance / control.n + treatment.variance / treatment.n)
    gain = difference if direction is Direction.HIGHER_IS_BETTER else -difference
    if sd == 0:
        chance = 1.0 if gain > 0 else 0.0 if gain < 0 else 0.5
        loss_t, loss_c = max(-gain, 0.0), max(gain, 0.0)
    else:
        z = gain / sd
        density = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        chance = float(ndtr(z))
        loss_t = sd * density - gain * float(ndtr(-z))
        loss_c = sd * density + gain * chance
    half = 1.959963984540054 * sd
    return BayesianComparison(
        chance_to_beat_control=chance,
        expected_loss_treatment=max(loss_t, 0.0),
        expected_loss_control=max(loss_c, 0.0),
        difference_interval=Interval(difference - half, difference + half),
        direction=direction,
        method="normal_closed_form",
    )
