"""From an experiment's totals to its statistics, through the engine only.

- `plan`: the minimum sample size per variant: given, or from the experiment's
  `min_detectable_effect`, `alpha`, `power` and `baseline` (the control's observed value
  when no baseline is given), with `comparisons` = the number of treatments (Holm).
- `primary_decision`: `statistics.decide` on the primary metric over the current weight
  period: SRM first, then the sample size, then significance in the experiment's mode
  (CUPED when the experiment names a covariate). Before every variant has results, the
  same checks in words (an arm with no results at all is what SRM is for).
- `secondary_decisions`: the same for every other metric, reported, never used to pick.
- `bayesian`: chance to beat the control and expected losses on the primary metric.
- `bandit`: the Thompson-sampling weights, for `allocation="bandit"`.

Every result is plain JSON (`to_dict` of the engine's values).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml_ops.ab_testing.experiment import BUILTIN_METRICS, SUCCESS_RATE, Experiment
from ml_ops.ab_testing.statistics import (
    Decision,
    DecisionPolicy,
    DecisionStatus,
    MeanSummary,
    ProportionSummary,
    Summary,
    bayesian_means,
    bayesian_proportions,
    cuped_adjust,
    decide,
    minimum_sample_size_means,
    minimum_sample_size_proportions,
    sample_ratio_mismatch,
    thompson_weights,
)
from ml_ops.ab_testing.statistics.reasons import effect_text, srm_text
from ml_ops.ab_testing.totals import VariantTotals

BAYES_DRAWS = 20_000  # Monte Carlo draws per comparison (standard error of a chance <= 0.0036)


@dataclass(frozen=True, slots=True)
class Plan:
    """The minimum sample size per variant and where it came from."""

    minimum_sample_size: int | None
    source: str  # "given", "planned" or "unplanned"
    baseline: float | None = None
    baseline_source: str | None = None  # "given" or "observed"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON types."""
        return {
            "minimum_sample_size": self.minimum_sample_size,
            "source": self.source,
            "baseline": self.baseline,
            "baseline_source": self.baseline_source,
            "note": self.note,
        }


def plan(experiment: Experiment, control: VariantTotals) -> Plan:
    """The minimum sample size per variant for `experiment` (see the module docstring)."""
    if experiment.minimum_sample_size is not None:
        return Plan(experiment.minimum_sample_size, "given")
    comparisons = max(len(experiment.variants) - 1, 1)
    metric = experiment.primary_metric
    source = "given" if experiment.baseline is not None else "observed"
    if metric == SUCCESS_RATE:
        rate = experiment.baseline
        if rate is None and control.results:
            rate = control.proportion().rate
        if rate is None or not 0 < rate < 1:
            return _unplanned(f"no usable baseline rate for {experiment.control_name} yet")
        try:
            size = minimum_sample_size_proportions(
                rate,
                experiment.min_detectable_effect,
                scale=experiment.effect_scale,
                alpha=experiment.alpha,
                power=experiment.power,
                comparisons=comparisons,
            )
        except ValueError as exc:
            return _unplanned(str(exc))
        return Plan(size, "planned", rate, source)
    observed = control.mean(metric)
    if observed.n < 2 or observed.variance <= 0:
        return _unplanned(f"the variance of {metric} for {experiment.control_name} is unknown")
    mean = observed.mean if experiment.baseline is None else experiment.baseline
    try:
        size = minimum_sample_size_means(
            observed.variance,
            experiment.min_detectable_effect,
            scale=experiment.effect_scale,
            baseline_mean=mean,
            alpha=experiment.alpha,
            power=experiment.power,
            comparisons=comparisons,
        )
    except ValueError as exc:
        return _unplanned(str(exc))
    return Plan(size, "planned", mean, source)


def _unplanned(why: str) -> Plan:
    return Plan(
        None,
        "unplanned",
        note=f"the minimum sample size cannot be planned: {why}; give Experiment(baseline=...) "
        "or minimum_sample_size=...",
    )


def arm_summary(experiment: Experiment, metric: str, totals: VariantTotals) -> Summary:
    """The engine's summary of `metric` for one variant (with CUPED sums for the primary
    metric when the experiment names a covariate)."""
    if experiment.covariate is not None and metric == experiment.primary_metric:
        if totals.covariate is None:
            return MeanSummary(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return totals.covariate.summary()
    if metric == SUCCESS_RATE:
        return totals.proportion()
    return totals.mean(metric)


def analysed_arms(
    experiment: Experiment, totals: Mapping[str, VariantTotals], weights: Mapping[str, float]
) -> list[str]:
    """The variants analysed in a period: all with traffic, and any with results (a
    variant with weight 0 that still gets results is an SRM to report), control first."""
    names = [n for n in experiment.variant_names if weights.get(n, 0) > 0 or totals[n].results > 0]
    control = experiment.control_name
    return [control, *(n for n in names if n != control)]


def primary_decision(
    experiment: Experiment,
    totals: Mapping[str, VariantTotals],
    weights: Mapping[str, float],
    planned: Plan,
) -> dict[str, Any]:
    """The engine's decision on the primary metric, as JSON (see the module docstring)."""
    return _decision(experiment, experiment.primary_metric, totals, weights, planned, True)


def secondary_decisions(
    experiment: Experiment,
    totals: Mapping[str, VariantTotals],
    weights: Mapping[str, float],
    planned: Plan,
) -> dict[str, dict[str, Any]]:
    """Decisions on every other metric with data, by metric (reported, not acted on)."""
    custom = sorted({name for t in totals.values() for name in t.metrics})
    metrics = [m for m in (*BUILTIN_METRICS, *custom) if m != experiment.primary_metric]
    found = {}
    for metric in metrics:
        if metric == experiment.covariate:
            continue
        if all(arm_summary(experiment, metric, t).n == 0 for t in totals.values()):
            continue
        found[metric] = _decision(experiment, metric, totals, weights, planned, False)
    return found


def _decision(
    experiment: Experiment,
    metric: str,
    totals: Mapping[str, VariantTotals],
    weights: Mapping[str, float],
    planned: Plan,
    primary: bool,
) -> dict[str, Any]:
    names = analysed_arms(experiment, totals, weights)
    arms = {name: arm_summary(experiment, metric, totals[name]) for name in names}
    policy = DecisionPolicy(
        alpha=experiment.alpha, mode=experiment.mode, direction=experiment.direction_of(metric)
    )
    needed = 1 if isinstance(arms[names[0]], ProportionSummary) else 2
    if len(names) < 2 or min(a.n for a in arms.values()) < needed:
        return _early(experiment, metric, arms, weights, planned, policy, needed)
    minimum = planned.minimum_sample_size
    decision = decide(
        metric,
        arms,
        control=experiment.control_name,
        minimum_sample_size=minimum or (max(a.n for a in arms.values()) + 1 if primary else 1),
        weights={name: weights.get(name, 0.0) for name in names},
        policy=policy,
    )
    data = decision.to_dict()
    if primary and minimum is None:
        data["minimum_sample_size"] = None
        data["reason"] = _unplanned_reason(decision, names, planned)
    return data


def _unplanned_reason(decision: Decision, names: list[str], planned: Plan) -> str:
    """The reason of a decision taken before the sample size could be planned."""
    srm = srm_text(decision.srm, names)
    if decision.status is DecisionStatus.SAMPLE_RATIO_MISMATCH:
        return (
            f"no winner: {srm}; fix assignment or logging before trusting any comparison; "
            f"{planned.note}"
        )
    estimates = "; ".join(
        f"{o.name} {effect_text(o.comparison, o.adjusted_p_value, decision.mode)}"
        for o in decision.variants
    )
    return f"no winner yet: {planned.note}; {srm}; estimates so far (not final): {estimates}"


def _early(
    experiment: Experiment,
    metric: str,
    arms: Mapping[str, Summary],
    weights: Mapping[str, float],
    planned: Plan,
    policy: DecisionPolicy,
    needed: int,
) -> dict[str, Any]:
    """A decision before every variant has `needed` results: SRM still applies."""
    names = list(arms)
    sizes = {name: arm.n for name, arm in arms.items()}
    srm = None
    status = DecisionStatus.INSUFFICIENT_SAMPLE
    listed = "/".join(f"{sizes[n]:,}" for n in names)
    reason = (
        f"no winner yet: n={listed} ({'/'.join(names)}); every variant needs at least "
        f"{needed} result{'s' if needed > 1 else ''} with {metric}"
    )
    if len(names) < 2:
        reason = f"no winner: {experiment.control_name} is the only variant with traffic"
    elif sum(sizes.values()) > 0:
        srm = sample_ratio_mismatch(
            [sizes[n] for n in names],
            [weights.get(n, 0.0) for n in names],
            threshold=policy.srm_threshold,
        )
        if srm.mismatch:
            status = DecisionStatus.SAMPLE_RATIO_MISMATCH
            reason = (
                f"no winner: {srm_text(srm, names)}; fix assignment or logging before "
                "trusting any comparison"
            )
        else:
            reason += f"; {srm_text(srm, names)}"
    return {
        "metric": metric,
        "status": status.value,
        "winner": None,
        "reason": reason,
        "control": experiment.control_name,
        "mode": policy.mode.value,
        "direction": policy.direction.value,
        "alpha": policy.alpha,
        "minimum_sample_size": planned.minimum_sample_size,
        "sample_sizes": sizes,
        "srm": None if srm is None else srm.to_dict(),
        "variants": [],
        "cuped": None,
        "sequential_tuning_n": None,
    }


def bayesian(experiment: Experiment, totals: Mapping[str, VariantTotals]) -> dict[str, Any]:
    """Chance to beat the control and expected losses per treatment on the primary metric
    (seeded Monte Carlo for rates, closed form for means); a variant without enough data
    is left out."""
    metric = experiment.primary_metric
    direction = experiment.direction_of(metric)
    arms = _cuped_where_named(
        experiment, {name: arm_summary(experiment, metric, totals[name]) for name in totals}
    )
    control = arms[experiment.control_name]
    found: dict[str, Any] = {}
    for name in experiment.variant_names:
        if name == experiment.control_name:
            continue
        arm = arms[name]
        if isinstance(control, ProportionSummary) and isinstance(arm, ProportionSummary):
            found[name] = bayesian_proportions(
                control, arm, direction=direction, draws=BAYES_DRAWS
            ).to_dict()
        elif (
            isinstance(control, MeanSummary)
            and isinstance(arm, MeanSummary)
            and min(control.n, arm.n) >= 2
        ):
            found[name] = bayesian_means(control, arm, direction=direction).to_dict()
    return found


def _cuped_where_named(experiment: Experiment, arms: dict[str, Summary]) -> dict[str, Summary]:
    """The arms with enough data CUPED-adjusted, as the decision sees them, when the
    experiment names a covariate (else `arms` as given)."""
    if experiment.covariate is None:
        return arms
    usable = {
        name: arm
        for name, arm in arms.items()
        if isinstance(arm, MeanSummary) and arm.n >= 2 and arm.has_covariate
    }
    if experiment.control_name not in usable or len(usable) < 2:
        return arms
    return {**arms, **cuped_adjust(usable).adjusted}


def bandit(experiment: Experiment, totals: Mapping[str, VariantTotals]) -> dict[str, Any]:
    """The Thompson-sampling allocation over success_rate (with its note that
    fixed-horizon p-values do not apply)."""
    arms = {name: totals[name].proportion() for name in experiment.variant_names}
    allocation = thompson_weights(
        arms, direction=experiment.direction_of(SUCCESS_RATE), floor=experiment.bandit_floor
    )
    return allocation.to_dict()
