"""The statistics engine of A/B testing: pure functions over per-variant summaries.

The store aggregates outcomes into `ProportionSummary` (rates) and `MeanSummary` (cost,
latency, scores; optional pre-period covariate sums for CUPED); everything here works on
those summaries alone, with no I/O (GrowthBook's gbstats is the model).

- Fixed horizon: `two_proportion_ztest`, `welch_ttest`, `holm_adjust` across variants.
- Always valid (peek as often as you like): `sequential_proportions`, `sequential_means`
  (asymptotic confidence sequences, tuned by `tuning_n`).
- Bayesian: `bayesian_proportions` (Beta-Binomial, seeded Monte Carlo),
  `bayesian_means` (normal, closed form).
- Health and planning: `sample_ratio_mismatch`, `cuped_adjust`,
  `minimum_sample_size_proportions`, `minimum_sample_size_means`.
- Decisions: `decide` (winner only with enough data, significance and no SRM), and
  `thompson_weights` for a bandit mode.

See docs/ab-testing.md ("The statistics") for the assumptions and pitfalls of each.
"""

from ml_ops.ab_testing.statistics.bandit import BanditAllocation, thompson_weights
from ml_ops.ab_testing.statistics.bayesian import (
    BayesianComparison,
    BetaPrior,
    bayesian_means,
    bayesian_proportions,
)
from ml_ops.ab_testing.statistics.comparison import Summary, compare
from ml_ops.ab_testing.statistics.cuped import CupedAdjustment, cuped_adjust
from ml_ops.ab_testing.statistics.decision import (
    Decision,
    DecisionPolicy,
    VariantOutcome,
    decide,
)
from ml_ops.ab_testing.statistics.means import welch_ttest
from ml_ops.ab_testing.statistics.multiple import holm_adjust
from ml_ops.ab_testing.statistics.power import (
    EffectScale,
    minimum_sample_size_means,
    minimum_sample_size_proportions,
)
from ml_ops.ab_testing.statistics.proportions import two_proportion_ztest
from ml_ops.ab_testing.statistics.results import (
    AnalysisMode,
    Comparison,
    ComparisonMethod,
    DecisionStatus,
    Direction,
    Interval,
)
from ml_ops.ab_testing.statistics.sequential import (
    DEFAULT_TUNING_N,
    always_valid_p_value,
    sequence_multiplier,
    sequential_means,
    sequential_proportions,
)
from ml_ops.ab_testing.statistics.srm import SampleRatioCheck, sample_ratio_mismatch
from ml_ops.ab_testing.statistics.summaries import MeanSummary, ProportionSummary

__all__ = [
    "DEFAULT_TUNING_N",
    "AnalysisMode",
    "BanditAllocation",
    "BayesianComparison",
    "BetaPrior",
    "Comparison",
    "ComparisonMethod",
    "CupedAdjustment",
    "Decision",
    "DecisionPolicy",
    "DecisionStatus",
    "Direction",
    "EffectScale",
    "Interval",
    "MeanSummary",
    "ProportionSummary",
    "SampleRatioCheck",
    "Summary",
    "VariantOutcome",
    "always_valid_p_value",
    "bayesian_means",
    "bayesian_proportions",
    "compare",
    "cuped_adjust",
    "decide",
    "holm_adjust",
    "minimum_sample_size_means",
    "minimum_sample_size_proportions",
    "sample_ratio_mismatch",
    "sequence_multiplier",
    "sequential_means",
    "sequential_proportions",
    "thompson_weights",
    "two_proportion_ztest",
    "welch_ttest",
]
