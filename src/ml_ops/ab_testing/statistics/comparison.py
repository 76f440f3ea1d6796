"""One entry point for "compare this treatment with the control" in either mode.

Rates (`ProportionSummary`) go to the two-proportion z-test or its confidence sequence,
means (`MeanSummary`) to Welch's t-test or theirs. `decide` uses it for every variant.
"""

from __future__ import annotations

from ml_ops.ab_testing.statistics.means import welch_ttest
from ml_ops.ab_testing.statistics.proportions import two_proportion_ztest
from ml_ops.ab_testing.statistics.results import AnalysisMode, Comparison
from ml_ops.ab_testing.statistics.sequential import (
    DEFAULT_TUNING_N,
    sequential_means,
    sequential_proportions,
)
from ml_ops.ab_testing.statistics.summaries import MeanSummary, ProportionSummary

Summary = ProportionSummary | MeanSummary


def compare(
    control: Summary,
    treatment: Summary,
    *,
    mode: AnalysisMode = AnalysisMode.FIXED_HORIZON,
    alpha: float = 0.05,
    tuning_n: int = DEFAULT_TUNING_N,
) -> Comparison:
    """Compare `treatment` with `control` (both rates or both means) in `mode`;
    `tuning_n` matters only in the sequential mode."""
    sequential = mode is AnalysisMode.SEQUENTIAL
    if isinstance(control, ProportionSummary) and isinstance(treatment, ProportionSummary):
        if sequential:
            return sequential_proportions(control, treatment, alpha=alpha, tuning_n=tuning_n)
        return two_proportion_ztest(control, treatment, alpha=alpha)
    if isinstance(control, MeanSummary) and isinstance(treatment, MeanSummary):
        if sequential:
            return sequential_means(control, treatment, alpha=alpha, tuning_n=tuning_n)
        return welch_ttest(control, treatment, alpha=alpha)
    raise TypeError(
        f"control and treatment must both be rates or both be means, got "
        f"{type(control).__name__} and {type(treatment).__name__}"
    )
