"""Welch's t-test for means of numeric metrics (cost, latency, quality scores).

Assumes independent units and sample means that are close to normal (the central limit
theorem: fine for a few hundred units per variant even for skewed metrics such as latency
or cost; heavy tails need more, or a capped/log-transformed metric). It does not assume
equal variances, so it is safe when a variant changes the spread as well as the mean; the
degrees of freedom come from the Welch-Satterthwaite approximation. Same result as
`scipy.stats.ttest_ind(treatment, control, equal_var=False)`. Fixed-horizon: analyse once at
the planned sample size, or use `sequential` when you will look repeatedly. For variance
reduction with a pre-period covariate, pass summaries through `cuped_adjust` first.
"""

from __future__ import annotations

import math

from scipy.special import stdtr, stdtrit

from ml_ops.ab_testing.statistics.checks import check_probability
from ml_ops.ab_testing.statistics.effects import effects
from ml_ops.ab_testing.statistics.results import Comparison, ComparisonMethod
from ml_ops.ab_testing.statistics.summaries import MeanSummary


def welch_degrees_of_freedom(control: MeanSummary, treatment: MeanSummary) -> float:
    """The Welch-Satterthwaite degrees of freedom of the difference of two means."""
    vc = control.variance / control.n
    vt = treatment.variance / treatment.n
    denominator = vc**2 / (control.n - 1) + vt**2 / (treatment.n - 1)
    if denominator == 0:
        return float(control.n + treatment.n - 2)
    return (vc + vt) ** 2 / denominator


def welch_ttest(control: MeanSummary, treatment: MeanSummary, *, alpha: float = 0.05) -> Comparison:
    """Two-sided Welch t-test of treatment mean vs control mean, with the absolute
    difference and relative lift and their 1 - `alpha` confidence intervals (t quantile at
    the Welch degrees of freedom).

    Needs at least two units per variant. When both variances are zero the standard error
    is zero: equal means are no evidence (statistic 0, p = 1), different means a certain
    difference (statistic +/-inf, p = 0), as the zero-width interval says.
    """
    check_probability("alpha", alpha)
    if control.n < 2 or treatment.n < 2:
        raise ValueError("Welch's t-test needs at least two units per variant")
    vc = control.variance / control.n
    vt = treatment.variance / treatment.n
    se = math.sqrt(vc + vt)
    df = welch_degrees_of_freedom(control, treatment)
    difference = treatment.mean - control.mean
    if se > 0:
        statistic = difference / se
        p_value = float(2.0 * stdtr(df, -abs(statistic)))
    else:
        statistic = math.copysign(math.inf, difference) if difference else 0.0
        p_value = 0.0 if difference else 1.0
    found = effects(
        control.mean, vc, treatment.mean, vt, critical=float(stdtrit(df, 1.0 - alpha / 2.0))
    )
    return Comparison(
        method=ComparisonMethod.WELCH_T,
        alpha=alpha,
        n_control=control.n,
        n_treatment=treatment.n,
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        difference=found.difference,
        difference_ci=found.difference_ci,
        relative_lift=found.relative_lift,
        relative_lift_ci=found.relative_lift_ci,
        statistic=statistic,
        p_value=min(p_value, 1.0),
        degrees_of_freedom=df,
    )
