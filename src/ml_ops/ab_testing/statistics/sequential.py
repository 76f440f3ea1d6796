"""Always-valid inference: asymptotic confidence sequences (Waudby-Smith, Ramdas et al.,
"Time-uniform central limit theory and asymptotic confidence sequences", 2021/2023; the
method GrowthBook and Eppo use for sequential testing).

A confidence sequence is a sequence of intervals that covers the true difference at *every*
sample size simultaneously with probability 1 - alpha. So you may look after every batch,
stop whenever the interval excludes zero, and the false-positive rate stays <= alpha. The
always-valid p-value is the smallest alpha at which the sequence excludes zero; a result is
significant when it is below alpha.

With N the total units across both variants, se the usual (unpooled) standard error of the
estimate and rho the mixing parameter of a normal mixture, the half-width is

    se * sqrt( 2 (N rho^2 + 1) / (N rho^2) * ln( sqrt(N rho^2 + 1) / alpha ) )

Tuning parameter: `tuning_n`, the total sample size (both variants together) at which the
interval is narrowest relative to the fixed-horizon one; rho^2 = (-2 ln alpha +
ln(1 - 2 ln alpha)) / tuning_n. The default is 5,000 (GrowthBook's); set it to the planned
total sample size of the experiment (`decide` does). Near `tuning_n` the interval is about
1.5x the width of the fixed-horizon one at alpha = 0.05: that is the price of peeking.

Assumes independent units and the central limit theorem for the running means (the
guarantee is asymptotic: reliable once each variant has a few hundred units and, for rates,
a few dozen successes and failures), a fixed allocation ratio, and that the same metric is
monitored from the start of the experiment.
"""

from __future__ import annotations

import math

from ml_ops.ab_testing.statistics.checks import check_probability
from ml_ops.ab_testing.statistics.effects import effects
from ml_ops.ab_testing.statistics.results import Comparison, ComparisonMethod
from ml_ops.ab_testing.statistics.summaries import MeanSummary, ProportionSummary

DEFAULT_TUNING_N = 5_000


def mixing_variance(alpha: float, tuning_n: int) -> float:
    """rho^2 of the normal mixture that makes the sequence narrowest at `tuning_n` units."""
    check_probability("alpha", alpha)
    if tuning_n < 1:
        raise ValueError(f"tuning_n must be >= 1, got {tuning_n}")
    log_alpha = math.log(alpha)
    return (-2.0 * log_alpha + math.log(1.0 - 2.0 * log_alpha)) / tuning_n


def sequence_multiplier(
    n_total: int, *, alpha: float = 0.05, tuning_n: int = DEFAULT_TUNING_N
) -> float:
    """How many standard errors the confidence sequence extends either side at `n_total`
    units (compare 1.96 for a fixed-horizon 95% interval)."""
    r = n_total * mixing_variance(alpha, tuning_n)
    return math.sqrt(2.0 * (r + 1.0) / r * math.log(math.sqrt(r + 1.0) / alpha))


def always_valid_p_value(
    z: float, n_total: int, *, alpha: float = 0.05, tuning_n: int = DEFAULT_TUNING_N
) -> float:
    """The smallest level at which the confidence sequence (with the mixing variance fixed
    by `alpha` and `tuning_n`) excludes zero, for an estimate `z` standard errors from it.
    Valid at any stopping time; the running minimum over looks is valid too."""
    r = n_total * mixing_variance(alpha, tuning_n)
    log_p = 0.5 * math.log1p(r) - z * z * r / (2.0 * (r + 1.0))
    return min(1.0, math.exp(log_p))


def sequential_proportions(
    control: ProportionSummary,
    treatment: ProportionSummary,
    *,
    alpha: float = 0.05,
    tuning_n: int = DEFAULT_TUNING_N,
) -> Comparison:
    """Always-valid comparison of two rates: confidence sequences for the difference and
    the relative lift, and the always-valid p-value."""
    if control.n == 0 or treatment.n == 0:
        raise ValueError("both variants need at least one unit")
    return _sequential(
        (control.n, control.rate, control.variance / control.n),
        (treatment.n, treatment.rate, treatment.variance / treatment.n),
        alpha,
        tuning_n,
    )


def sequential_means(
    control: MeanSummary,
    treatment: MeanSummary,
    *,
    alpha: float = 0.05,
    tuning_n: int = DEFAULT_TUNING_N,
) -> Comparison:
    """Always-valid comparison of two means (CUPED-adjusted summaries work too)."""
    if control.n < 2 or treatment.n < 2:
        raise ValueError("need at least two units per variant")
    return _sequential(
        (control.n, control.mean, control.variance / control.n),
        (treatment.n, treatment.mean, treatment.variance / treatment.n),
        alpha,
        tuning_n,
    )


def _sequential(
    control: tuple[int, float, float],
    treatment: tuple[int, float, float],
    alpha: float,
    tuning_n: int,
) -> Comparison:
    (n_c, mean_c, var_c), (n_t, mean_t, var_t) = control, treatment
    n_total = n_c + n_t
    multiplier = sequence_multiplier(n_total, alpha=alpha, tuning_n=tuning_n)
    found = effects(mean_c, var_c, mean_t, var_t, critical=multiplier)
    se = math.sqrt(var_c + var_t)
    z = found.difference / se if se > 0 else 0.0
    return Comparison(
        method=ComparisonMethod.CONFIDENCE_SEQUENCE,
        alpha=alpha,
        n_control=n_c,
        n_treatment=n_t,
        control_mean=mean_c,
        treatment_mean=mean_t,
        difference=found.difference,
        difference_ci=found.difference_ci,
        relative_lift=found.relative_lift,
        relative_lift_ci=found.relative_lift_ci,
        statistic=z,
        p_value=always_valid_p_value(z, n_total, alpha=alpha, tuning_n=tuning_n),
    )
