"""Two-proportion z-test for rates (success_rate and other 0/1 outcomes per unit).

Assumes independent units, each counted once in one variant, and samples large enough for
the normal approximation (roughly n*p and n*(1-p) of at least 10 in each variant). The test
statistic uses the pooled rate, which is the standard error under the null hypothesis of
equal rates (the same as statsmodels' `proportions_ztest`); the confidence intervals use the
unpooled standard error, which is right away from the null. Use it once, at the planned
sample size: looking repeatedly and stopping at the first p < alpha inflates false
positives (see `sequential` for a test that allows that).
"""

from __future__ import annotations

import math

from scipy.special import ndtr, ndtri

from ml_ops.ab_testing.statistics.checks import check_probability
from ml_ops.ab_testing.statistics.effects import effects
from ml_ops.ab_testing.statistics.results import Comparison, ComparisonMethod
from ml_ops.ab_testing.statistics.summaries import ProportionSummary


def two_proportion_ztest(
    control: ProportionSummary, treatment: ProportionSummary, *, alpha: float = 0.05
) -> Comparison:
    """Two-sided z-test of treatment rate vs control rate, with the absolute difference and
    relative lift and their 1 - `alpha` confidence intervals.

    When the pooled rate is 0 or 1 (no variation at all) the statistic is 0 and p is 1.
    """
    check_probability("alpha", alpha)
    if control.n == 0 or treatment.n == 0:
        raise ValueError("both variants need at least one unit")
    pooled = (control.successes + treatment.successes) / (control.n + treatment.n)
    pooled_se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / control.n + 1.0 / treatment.n))
    difference = treatment.rate - control.rate
    statistic = difference / pooled_se if pooled_se > 0 else 0.0
    p_value = float(2.0 * ndtr(-abs(statistic)))
    found = effects(
        control.rate,
        control.variance / control.n,
        treatment.rate,
        treatment.variance / treatment.n,
        critical=float(ndtri(1.0 - alpha / 2.0)),
    )
    return Comparison(
        method=ComparisonMethod.TWO_PROPORTION_Z,
        alpha=alpha,
        n_control=control.n,
        n_treatment=treatment.n,
        control_mean=control.rate,
        treatment_mean=treatment.rate,
        difference=found.difference,
        difference_ci=found.difference_ci,
        relative_lift=found.relative_lift,
        relative_lift_ci=found.relative_lift_ci,
        statistic=statistic,
        p_value=min(p_value, 1.0),
    )
