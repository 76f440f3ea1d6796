"""CUPED (Deng, Xu, Kohavi and Walker, 2013): variance reduction with a pre-period covariate.

Each unit's metric y is replaced by y - theta (x - mean(x)), where x is the same unit's
value of a covariate measured *before* assignment (last month's cost for a user, a
prompt's historical success rate). Because x cannot be affected by the treatment and has
the same distribution in every variant (randomisation), the adjusted means estimate the
same difference without bias; their variance shrinks by the factor 1 - rho^2, where rho is
the correlation between x and y. theta = Cov(x, y) / Var(x) is estimated once from all
variants pooled (within-variant sums of squares and cross-products, so a treatment effect
does not leak into it) and the same theta is applied to every variant.

The adjusted summaries are ordinary `MeanSummary`s (the exact sums of the adjusted values),
so Welch's test, the sequential mode and the Bayesian normal model run on them unchanged.
Pitfalls: a covariate measured after exposure can absorb the effect itself and bias the
estimate; units without pre-period data need some value (the pooled mean is neutral), and
CUPED then gains nothing for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_ops.ab_testing.statistics.results import json_float
from ml_ops.ab_testing.statistics.summaries import MeanSummary


@dataclass(frozen=True, slots=True)
class CupedAdjustment:
    """theta, the pooled covariate mean, the fraction of variance removed (the pooled
    within-variant rho^2) and the adjusted summaries by variant name."""

    theta: float
    covariate_mean: float
    variance_reduction: float
    adjusted: dict[str, MeanSummary]

    def to_dict(self) -> dict[str, Any]:
        """The adjustment as plain JSON types (adjusted means and variances per variant)."""
        return {
            "theta": json_float(self.theta),
            "covariate_mean": json_float(self.covariate_mean),
            "variance_reduction": json_float(self.variance_reduction),
            "adjusted": {
                name: {"n": s.n, "mean": json_float(s.mean), "variance": json_float(s.variance)}
                for name, s in self.adjusted.items()
            },
        }


def cuped_adjust(summaries: Mapping[str, MeanSummary]) -> CupedAdjustment:
    """Adjust every variant's summary with theta from the pooled data. Every summary must
    carry the covariate sums (`sum_x`, `sum_x2`, `sum_xy`)."""
    if not summaries:
        raise ValueError("no summaries to adjust")
    missing = [name for name, s in summaries.items() if not s.has_covariate]
    if missing:
        raise ValueError(f"CUPED needs covariate sums for every variant; missing: {missing}")
    s_xx = s_xy = s_yy = 0.0
    sum_x = 0.0
    n_total = 0
    for s in summaries.values():
        sx, sx2, sxy = _covariate(s)
        s_xx += sx2 - sx * sx / s.n if s.n else 0.0
        s_xy += sxy - sx * s.sum / s.n if s.n else 0.0
        s_yy += s.sum_squares - s.sum * s.sum / s.n if s.n else 0.0
        sum_x += sx
        n_total += s.n
    theta = s_xy / s_xx if s_xx > 0 else 0.0
    covariate_mean = sum_x / n_total if n_total else 0.0
    reduction = theta * s_xy / s_yy if s_yy > 0 else 0.0
    adjusted = {name: _adjust(s, theta, covariate_mean) for name, s in summaries.items()}
    return CupedAdjustment(theta, covariate_mean, max(0.0, min(1.0, reduction)), adjusted)


def _covariate(summary: MeanSummary) -> tuple[float, float, float]:
    if summary.sum_x is None or summary.sum_x2 is None or summary.sum_xy is None:
        raise ValueError("CUPED needs the covariate sums sum_x, sum_x2 and sum_xy")
    return summary.sum_x, summary.sum_x2, summary.sum_xy


def _adjust(summary: MeanSummary, theta: float, covariate_mean: float) -> MeanSummary:
    """The summary of y - theta (x - covariate_mean), from the sums alone."""
    n = summary.n
    if n == 0:
        return MeanSummary(0, 0.0, 0.0)
    sx, sx2, sxy = _covariate(summary)
    mean_x = sx / n
    mean = summary.mean - theta * (mean_x - covariate_mean)
    if n < 2:
        return MeanSummary(n, mean * n, mean * mean * n)
    var_x = max(sx2 - sx * mean_x, 0.0) / (n - 1)
    cov_xy = (sxy - sx * summary.mean) / (n - 1)
    variance = max(summary.variance - 2.0 * theta * cov_xy + theta * theta * var_x, 0.0)
    return MeanSummary(n=n, sum=mean * n, sum_squares=(n - 1) * variance + n * mean * mean)
