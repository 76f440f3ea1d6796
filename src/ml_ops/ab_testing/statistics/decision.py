"""Automatic winner selection that holds up: a winner only when the experiment is big
enough, the result is significant in the chosen mode, and the traffic split is healthy.

`decide` runs, for one metric:

1. the sample ratio mismatch check of units per variant against the configured weights;
2. CUPED, when the metric is a mean and every variant carries covariate sums;
3. one comparison per variant against the control (fixed-horizon z or Welch test, or the
   always-valid confidence sequence), Holm-corrected across the variants;
4. the rules: no winner with SRM; no winner until every variant has `minimum_sample_size`
   units; otherwise the winner is the significant variant with the best estimate in the
   metric's direction, or the control when every variant is significantly worse.

The `Decision` says why in words and numbers, and `to_dict()` makes it JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_ops.ab_testing.statistics.checks import check_probability
from ml_ops.ab_testing.statistics.comparison import Summary, compare
from ml_ops.ab_testing.statistics.cuped import CupedAdjustment, cuped_adjust
from ml_ops.ab_testing.statistics.multiple import holm_adjust
from ml_ops.ab_testing.statistics.reasons import decision_reason
from ml_ops.ab_testing.statistics.results import (
    AnalysisMode,
    Comparison,
    DecisionStatus,
    Direction,
    json_float,
)
from ml_ops.ab_testing.statistics.srm import (
    SRM_THRESHOLD,
    SampleRatioCheck,
    sample_ratio_mismatch,
)
from ml_ops.ab_testing.statistics.summaries import MeanSummary


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    """How `decide` judges: level `alpha`, `mode` (fixed-horizon or sequential),
    `direction` of the metric, the SRM threshold, whether to use CUPED when covariates are
    present, and the sequential tuning parameter (None: the planned total sample size,
    `minimum_sample_size` times the number of variants including the control)."""

    alpha: float = 0.05
    mode: AnalysisMode = AnalysisMode.FIXED_HORIZON
    direction: Direction = Direction.HIGHER_IS_BETTER
    srm_threshold: float = SRM_THRESHOLD
    use_cuped: bool = True
    sequential_tuning_n: int | None = None

    def __post_init__(self) -> None:
        check_probability("alpha", self.alpha)
        check_probability("srm_threshold", self.srm_threshold)
        if self.sequential_tuning_n is not None and self.sequential_tuning_n < 1:
            raise ValueError(f"sequential_tuning_n must be >= 1, got {self.sequential_tuning_n}")


@dataclass(frozen=True, slots=True)
class VariantOutcome:
    """One variant vs the control: the comparison, its Holm-adjusted p-value, whether that
    is significant and whether the estimate points the good way for the metric."""

    name: str
    comparison: Comparison
    adjusted_p_value: float
    significant: bool
    favourable: bool

    def to_dict(self) -> dict[str, Any]:
        """The outcome as plain JSON types."""
        return {
            "name": self.name,
            "comparison": self.comparison.to_dict(),
            "adjusted_p_value": json_float(self.adjusted_p_value),
            "significant": self.significant,
            "favourable": self.favourable,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What `decide` concluded for one metric, why (`reason`), and every number behind it."""

    metric: str
    status: DecisionStatus
    winner: str | None
    reason: str
    control: str
    mode: AnalysisMode
    direction: Direction
    alpha: float
    minimum_sample_size: int
    sample_sizes: dict[str, int]
    srm: SampleRatioCheck
    variants: tuple[VariantOutcome, ...]
    cuped: CupedAdjustment | None = None
    sequential_tuning_n: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The decision as plain JSON types (`json.dumps(decision.to_dict())` works)."""
        return {
            "metric": self.metric,
            "status": self.status.value,
            "winner": self.winner,
            "reason": self.reason,
            "control": self.control,
            "mode": self.mode.value,
            "direction": self.direction.value,
            "alpha": self.alpha,
            "minimum_sample_size": self.minimum_sample_size,
            "sample_sizes": dict(self.sample_sizes),
            "srm": self.srm.to_dict(),
            "variants": [v.to_dict() for v in self.variants],
            "cuped": None if self.cuped is None else self.cuped.to_dict(),
            "sequential_tuning_n": self.sequential_tuning_n,
        }


def decide(
    metric: str,
    arms: Mapping[str, Summary],
    *,
    control: str,
    minimum_sample_size: int,
    weights: Mapping[str, float] | None = None,
    policy: DecisionPolicy | None = None,
) -> Decision:
    """Choose a winner for `metric` among `arms` (summaries by variant name, the control
    included), or say why not. `weights` are the configured traffic weights by name (equal
    when omitted); `minimum_sample_size` is units per variant (see `power`)."""
    policy = policy or DecisionPolicy()
    names = _check_arms(arms, control, minimum_sample_size, weights)
    sizes = {name: arms[name].n for name in names}
    srm = sample_ratio_mismatch(
        [sizes[n] for n in names],
        [1.0 if weights is None else weights[n] for n in names],
        threshold=policy.srm_threshold,
    )
    prepared, cuped = _maybe_cuped(arms, policy.use_cuped)
    tuning_n = policy.sequential_tuning_n or minimum_sample_size * len(names)
    outcomes = _compare_all(prepared, names, control, tuning_n, policy)
    status, winner = _judge(outcomes, sizes, minimum_sample_size, srm, control, policy.direction)
    reason = decision_reason(
        status=status,
        winner=winner,
        metric=metric,
        control=control,
        mode=policy.mode,
        alpha=policy.alpha,
        sizes=sizes,
        minimum_sample_size=minimum_sample_size,
        srm=srm,
        variants=[(o.name, o.comparison, o.adjusted_p_value) for o in outcomes],
    )
    return Decision(
        metric=metric,
        status=status,
        winner=winner,
        reason=reason,
        control=control,
        mode=policy.mode,
        direction=policy.direction,
        alpha=policy.alpha,
        minimum_sample_size=minimum_sample_size,
        sample_sizes=sizes,
        srm=srm,
        variants=outcomes,
        cuped=cuped,
        sequential_tuning_n=tuning_n if policy.mode is AnalysisMode.SEQUENTIAL else None,
    )


def _check_arms(
    arms: Mapping[str, Summary],
    control: str,
    minimum_sample_size: int,
    weights: Mapping[str, float] | None,
) -> list[str]:
    """The arm names, control first, after checking the arguments agree."""
    if control not in arms:
        raise ValueError(f"control {control!r} is not among the arms {sorted(arms)}")
    if len(arms) < 2:
        raise ValueError("need the control and at least one variant")
    if minimum_sample_size < 1:
        raise ValueError(f"minimum_sample_size must be >= 1, got {minimum_sample_size}")
    if len({type(s) for s in arms.values()}) != 1:
        raise TypeError("all arms must summarise the same kind of metric (rates or means)")
    if weights is not None and set(weights) != set(arms):
        raise ValueError(f"weights name {sorted(weights)}, arms are {sorted(arms)}")
    return [control, *(name for name in arms if name != control)]


def _maybe_cuped(
    arms: Mapping[str, Summary], use_cuped: bool
) -> tuple[Mapping[str, Summary], CupedAdjustment | None]:
    means = {n: s for n, s in arms.items() if isinstance(s, MeanSummary)}
    if not use_cuped or len(means) != len(arms) or not all(s.has_covariate for s in means.values()):
        return arms, None
    adjustment = cuped_adjust(means)
    return dict(adjustment.adjusted), adjustment


def _compare_all(
    arms: Mapping[str, Summary],
    names: list[str],
    control: str,
    tuning_n: int,
    policy: DecisionPolicy,
) -> tuple[VariantOutcome, ...]:
    treatments = names[1:]
    comparisons = [
        compare(arms[control], arms[n], mode=policy.mode, alpha=policy.alpha, tuning_n=tuning_n)
        for n in treatments
    ]
    adjusted = holm_adjust([c.p_value for c in comparisons])
    higher = policy.direction is Direction.HIGHER_IS_BETTER
    return tuple(
        VariantOutcome(
            name=name,
            comparison=c,
            adjusted_p_value=p,
            significant=p < policy.alpha,
            favourable=(c.difference > 0) if higher else (c.difference < 0),
        )
        for name, c, p in zip(treatments, comparisons, adjusted, strict=True)
    )


def _judge(
    outcomes: tuple[VariantOutcome, ...],
    sizes: Mapping[str, int],
    minimum_sample_size: int,
    srm: SampleRatioCheck,
    control: str,
    direction: Direction,
) -> tuple[DecisionStatus, str | None]:
    if srm.mismatch:
        return DecisionStatus.SAMPLE_RATIO_MISMATCH, None
    if min(sizes.values()) < minimum_sample_size:
        return DecisionStatus.INSUFFICIENT_SAMPLE, None
    better = [o for o in outcomes if o.significant and o.favourable]
    if better:
        sign = 1.0 if direction is Direction.HIGHER_IS_BETTER else -1.0
        best = max(better, key=lambda o: sign * o.comparison.difference)
        return DecisionStatus.WINNER, best.name
    if all(o.significant and not o.favourable for o in outcomes):
        return DecisionStatus.CONTROL_WINS, control
    return DecisionStatus.NOT_SIGNIFICANT, None
