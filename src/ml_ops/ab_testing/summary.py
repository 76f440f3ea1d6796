"""`get_experiment_summary`'s document: one JSON-serialisable dict per experiment.

Per variant (all periods together): exposures, results, successes, the success rate with
its Wilson interval, latency mean / P50 / P95 (DDSketch, within 1%), cost mean and total,
and the count, mean and standard deviation of each custom metric. Per weight period: the
weights, exposures and results per variant and the sample ratio check of that period.
Then the analysis of the current period (`ml_ops.ab_testing.analysis`): the plan, the
primary decision with its reason, the secondary metrics, the Bayesian view and, for a
bandit, its allocation instead of any p-value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scipy.special import ndtri

from ml_ops.ab_testing import analysis
from ml_ops.ab_testing.experiment import Allocation, Experiment
from ml_ops.ab_testing.state import ExperimentState, ExperimentStatus, Period
from ml_ops.ab_testing.statistics import DecisionStatus, sample_ratio_mismatch
from ml_ops.ab_testing.statistics.bandit import BANDIT_NOTE
from ml_ops.ab_testing.totals import VariantTotals

TotalsByKey = Mapping[tuple[str, int], VariantTotals]


def per_variant(
    experiment: Experiment, totals: TotalsByKey, period: int | None = None
) -> dict[str, VariantTotals]:
    """Totals by variant, over every period or only `period`."""
    merged = {name: VariantTotals() for name in experiment.variant_names}
    for (variant, index), found in totals.items():
        if variant in merged and (period is None or index == period):
            merged[variant].merge(found)
    return merged


def summarise(state: ExperimentState, totals: TotalsByKey) -> dict[str, Any]:
    """The whole summary of `state` with its stored `totals` (see the module docstring)."""
    experiment = state.experiment
    overall = per_variant(experiment, totals)
    current = per_variant(experiment, totals, state.analysis_period.index)
    document: dict[str, Any] = {
        "name": experiment.name,
        "description": experiment.description,
        "status": state.status.value,
        "allocation": experiment.allocation.value,
        "mode": experiment.mode.value,
        "primary_metric": experiment.primary_metric,
        "direction": experiment.direction_of(experiment.primary_metric).value,
        "control": experiment.control_name,
        "created_at": state.created_at.isoformat(),
        "transitions": [t.to_dict() for t in state.transitions],
        "weights": state.weights,
        "period": state.period.index,
        "periods": [_period(experiment, p, totals) for p in state.periods],
        "exposures": sum(t.exposures for t in overall.values()),
        "results": sum(t.results for t in overall.values()),
        "variants": {
            v.name: _variant(experiment, v.name, overall[v.name], state.weights)
            for v in experiment.variants
        },
        "definition": experiment.to_dict(),
    }
    document.update(analyse(state, current))
    document["last_decision"] = None if state.decision is None else dict(state.decision)
    document["promotion"] = None if state.promotion is None else dict(state.promotion)
    return document


def analyse(state: ExperimentState, current: Mapping[str, VariantTotals]) -> dict[str, Any]:
    """The statistics of the analysis period (`ExperimentState.analysis_period`): plan,
    decisions, Bayesian view, bandit."""
    experiment = state.experiment
    planned = analysis.plan(experiment, current[experiment.control_name])
    weights = dict(state.analysis_period.weights)
    found: dict[str, Any] = {
        "analysis_period": state.analysis_period.index,
        "minimum_sample_size": planned.minimum_sample_size,
        "planning": planned.to_dict(),
        "bayesian": analysis.bayesian(experiment, current),
    }
    if experiment.allocation is Allocation.BANDIT:
        found.update(
            decision=None,
            secondary={},
            bandit=analysis.bandit(experiment, current),
            note=BANDIT_NOTE,
            winner=state.winner,
        )
        return found
    decision = analysis.primary_decision(experiment, current, weights, planned)
    found.update(
        decision=decision,
        secondary=analysis.secondary_decisions(experiment, current, weights, planned),
        bandit=None,
        note=None,
        winner=state.winner if state.status is ExperimentStatus.COMPLETED else decision["winner"],
    )
    return found


def decided_winner(decision: Mapping[str, Any] | None) -> str | None:
    """The variant a decision picks (the control when the control wins), or None."""
    if decision is None:
        return None
    if decision["status"] in (DecisionStatus.WINNER.value, DecisionStatus.CONTROL_WINS.value):
        return str(decision["winner"])
    return None


def _period(experiment: Experiment, period: Period, totals: TotalsByKey) -> dict[str, Any]:
    counts = per_variant(experiment, totals, period.index)
    names = experiment.variant_names
    results = [counts[n].results for n in names]
    srm = None  # a bandit's weights follow the data: the check does not apply
    if sum(results) > 0 and experiment.allocation is Allocation.FIXED:
        srm = sample_ratio_mismatch(results, [period.weights.get(n, 0.0) for n in names]).to_dict()
    return {
        **period.to_dict(),
        "exposures": {n: counts[n].exposures for n in names},
        "results": {n: counts[n].results for n in names},
        "srm": srm,
    }


def _variant(
    experiment: Experiment, name: str, totals: VariantTotals, weights: Mapping[str, float]
) -> dict[str, Any]:
    variant = experiment.variant(name)
    rate = totals.proportion()
    latency = totals.sketch()
    p50, p95 = latency.quantiles([0.5, 0.95])
    return {
        "weight": weights.get(name, 0.0),
        "model": variant.model,
        "template_ref": variant.template_ref,
        "exposures": totals.exposures,
        "results": totals.results,
        "successes": totals.successes,
        "success_rate": rate.rate if rate.n else None,
        "success_rate_ci": wilson_interval(rate.successes, rate.n, experiment.alpha),
        "latency_ms": {
            "count": totals.latency.n,
            "mean": _mean(totals.latency.total, totals.latency.n),
            "p50": p50,
            "p95": p95,
        },
        "cost": {
            "count": totals.cost.n,
            "mean": _mean(totals.cost.total, totals.cost.n),
            "total": totals.cost.total,
        },
        "metrics": {
            metric: {
                "count": sums.n,
                "mean": _mean(sums.total, sums.n),
                "std": _std(sums.summary().variance, sums.n),
            }
            for metric, sums in sorted(totals.metrics.items())
        },
    }


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> dict[str, float] | None:
    """The Wilson score interval of a rate at level 1 - alpha (None without data): unlike
    the Wald interval it stays inside [0, 1] and behaves at rates near 0 or 1."""
    if n <= 0:
        return None
    z = float(ndtri(1 - alpha / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"lower": max(centre - half, 0.0), "upper": min(centre + half, 1.0)}


def _mean(total: float, n: int) -> float | None:
    return total / n if n else None


def _std(variance: float, n: int) -> float | None:
    return math.sqrt(variance) if n >= 2 else None
