"""How many units each variant needs before the experiment can be read.

Both formulas are the standard normal-approximation ones for a two-sided test at level
alpha with the given power, equal allocation, and one treatment vs the control. With
several treatments, pass `comparisons=k` to plan at alpha / k (Bonferroni, a safe upper
bound for the Holm-corrected analysis). The sequential mode needs more units than this to
reach the same power at the planned horizon (its interval is wider); plan with the
fixed-horizon number and expect to stop earlier only when the effect is larger than the MDE.
"""

from __future__ import annotations

import math
from enum import StrEnum

from scipy.special import ndtri

from ml_ops.ab_testing.statistics.checks import check_probability


class EffectScale(StrEnum):
    """Whether a minimum detectable effect is absolute (0.05 = five points on a rate, or
    metric units on a mean) or relative (0.05 = +5% of the baseline)."""

    ABSOLUTE = "absolute"
    RELATIVE = "relative"


def minimum_sample_size_proportions(
    baseline_rate: float,
    mde: float,
    *,
    scale: EffectScale = EffectScale.RELATIVE,
    alpha: float = 0.05,
    power: float = 0.8,
    comparisons: int = 1,
) -> int:
    """Units per variant to detect a change of `mde` from `baseline_rate` with the pooled
    two-proportion z-test: n = (z_a sqrt(2 p(1-p)) + z_b sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2
    with p the mean of p1 and p2 (Fleiss, without continuity correction).

    The test is two-sided, so a change either way is planned for: towards
    `baseline + mde`, or, where that is no rate (a 95% success rate cannot rise by 10%),
    towards `baseline - mde`."""
    check_probability("baseline_rate", baseline_rate)
    if mde == 0:
        raise ValueError("mde must not be 0")
    change = baseline_rate * mde if scale is EffectScale.RELATIVE else mde
    target = baseline_rate + change
    if not 0 < target < 1:
        target = baseline_rate - change
    check_probability("baseline_rate - mde (baseline_rate + mde is not a rate either)", target)
    z_alpha, z_beta = _quantiles(alpha, power, comparisons)
    p_mean = (baseline_rate + target) / 2
    spread_null = math.sqrt(2 * p_mean * (1 - p_mean))
    spread_alt = math.sqrt(baseline_rate * (1 - baseline_rate) + target * (1 - target))
    n = (z_alpha * spread_null + z_beta * spread_alt) ** 2 / (target - baseline_rate) ** 2
    return math.ceil(n)


def minimum_sample_size_means(
    variance: float,
    mde: float,
    *,
    scale: EffectScale = EffectScale.ABSOLUTE,
    baseline_mean: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    comparisons: int = 1,
) -> int:
    """Units per variant to detect a change of `mde` in a mean with per-unit `variance`
    (taken as equal in both variants): n = 2 variance (z_a + z_b)^2 / delta^2. A relative
    `mde` needs `baseline_mean`. Use the CUPED-adjusted variance when you will use CUPED."""
    if variance <= 0:
        raise ValueError(f"variance must be > 0, got {variance}")
    if scale is EffectScale.RELATIVE:
        if baseline_mean is None:
            raise ValueError("a relative mde needs baseline_mean")
        delta = mde * baseline_mean
    else:
        delta = mde
    if delta == 0:
        raise ValueError("the minimum detectable effect must not be 0")
    z_alpha, z_beta = _quantiles(alpha, power, comparisons)
    return math.ceil(2 * variance * (z_alpha + z_beta) ** 2 / delta**2)


def _quantiles(alpha: float, power: float, comparisons: int) -> tuple[float, float]:
    check_probability("alpha", alpha)
    check_probability("power", power)
    if comparisons < 1:
        raise ValueError(f"comparisons must be >= 1, got {comparisons}")
    return float(ndtri(1 - alpha / comparisons / 2)), float(ndtri(power))
