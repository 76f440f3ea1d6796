"""The dashboard's view of an `ABTester`: each experiment's variants with their results and
intervals, the decision, significance and the sample-ratio-mismatch flag, as plain JSON.

Everything read from the A/B tester goes through here: the experiment names (from
`list_experiments()` or an `experiments` mapping or sequence) and
`get_experiment_summary(name)`, turned into plain data by `to_plain`. The decision follows
`ml_ops.ab_testing.statistics.Decision.to_dict()` (status, winner, reason, srm, and one
outcome per treatment with its comparison); it is looked for under `decision`, then
`decisions[primary_metric]`, then in the summary itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_ops.dashboard.plain import number, pick, to_plain


def experiment_names(tester: Any) -> list[str]:
    """The names of the tester's experiments."""
    lister = getattr(tester, "list_experiments", None)
    found = lister() if callable(lister) else getattr(tester, "experiments", None)
    if callable(found):
        found = found()
    if found is None:
        return []
    if isinstance(found, Mapping):
        return [str(name) for name in found]
    names = []
    for item in found:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, Mapping):
            names.append(str(item.get("name")))
        else:
            names.append(str(getattr(item, "name", item)))
    return names


def experiment_view(name: str, raw_summary: Any, *, full: bool = False) -> dict[str, Any]:
    """One experiment for the page: status, variants, decision, SRM and significance
    (`full`: with the tester's whole summary under `summary`)."""
    plain = to_plain(raw_summary)
    summary: dict[str, Any] = plain if isinstance(plain, dict) else {"summary": plain}
    metric = pick(summary, "primary_metric", "metric")
    decision = _decision_of(summary, metric)
    srm = decision.get("srm") or pick(summary, "srm", "sample_ratio_mismatch") or {}
    variants = _variant_rows(summary, decision, metric)
    view = {
        "name": name,
        "status": _text(pick(summary, "status", "state")),
        "description": _text(summary.get("description")),
        "primary_metric": _text(metric or decision.get("metric")),
        "control": _text(pick(decision, "control", default=summary.get("control"))),
        "allocation": _text(summary.get("allocation")),
        "variants": variants,
        "decision": {
            "status": decision.get("status"),
            "winner": pick(decision, "winner", default=summary.get("winner")),
            "reason": pick(decision, "reason", default=summary.get("note")),
            **{k: decision.get(k) for k in ("mode", "alpha", "minimum_sample_size")},
        },
        "srm": {
            "mismatch": bool(srm.get("mismatch")) if isinstance(srm, Mapping) else bool(srm),
            "p_value": number(srm.get("p_value")) if isinstance(srm, Mapping) else None,
        },
        "significant": any(v.get("significant") for v in variants),
    }
    if full:
        view["summary"] = summary
    return view


def _decision_of(summary: Mapping[str, Any], metric: Any) -> dict[str, Any]:
    decision = summary.get("decision")
    if isinstance(decision, Mapping):
        return dict(decision)
    decisions = summary.get("decisions")
    if isinstance(decisions, Mapping) and decisions:
        chosen = decisions.get(metric) if metric in decisions else next(iter(decisions.values()))
        if isinstance(chosen, Mapping):
            return dict(chosen)
    if "srm" in summary or "winner" in summary:
        return dict(summary)
    return {}


def _variant_stats(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    raw = pick(summary, "variants", "variant_stats", "results")
    if isinstance(raw, Mapping):
        return {str(k): dict(v) if isinstance(v, Mapping) else {"value": v} for k, v in raw.items()}
    stats: dict[str, dict[str, Any]] = {}
    for item in raw or []:
        if isinstance(item, Mapping) and "name" in item and "comparison" not in item:
            stats[str(item["name"])] = dict(item)
    return stats


def _variant_rows(
    summary: Mapping[str, Any], decision: Mapping[str, Any], metric: Any
) -> list[dict[str, Any]]:
    stats = _variant_stats(summary)
    outcomes = {
        str(o.get("name")): o for o in decision.get("variants") or [] if isinstance(o, Mapping)
    }
    sizes = decision.get("sample_sizes") or {}
    control = decision.get("control")
    names = list(dict.fromkeys([*([control] if control else []), *stats, *outcomes]))
    return [
        _variant_row(str(n), stats.get(str(n), {}), outcomes.get(str(n), {}), sizes, metric)
        | {"is_control": n == control or bool(stats.get(str(n), {}).get("is_control"))}
        for n in names
    ]


def _variant_row(
    name: str,
    stats: Mapping[str, Any],
    outcome: Mapping[str, Any],
    sizes: Mapping[str, Any],
    metric: Any,
) -> dict[str, Any]:
    comparison = outcome.get("comparison") or {}
    value = _metric_value(stats, metric)
    if value is None and comparison:
        value = number(comparison.get("treatment_mean"))
    units = pick(stats, "n", "units", "sample_size", "results", "exposures", "requests", "count")
    return {
        "name": name,
        "units": units if units is not None else sizes.get(name),
        "value": value,
        "interval": pick(stats, f"{metric}_ci", "interval", "ci", "confidence_interval"),
        "difference": number(comparison.get("difference")),
        "difference_ci": comparison.get("difference_ci"),
        "relative_lift": number(comparison.get("relative_lift")),
        "relative_lift_ci": comparison.get("relative_lift_ci"),
        "p_value": number(pick(outcome, "adjusted_p_value", default=comparison.get("p_value"))),
        "significant": bool(outcome.get("significant", False)),
        "favourable": outcome.get("favourable"),
    }


def _metric_value(stats: Mapping[str, Any], metric: Any) -> float | None:
    """The variant's value of `metric`: a number, or the mean of a summary (`latency_ms`,
    `cost`, or a custom metric under `metrics`)."""
    if not isinstance(metric, str):
        return number(pick(stats, "success_rate", "rate", "mean", "value"))
    found = stats.get(metric)
    if found is None:
        found = (stats.get("metrics") or {}).get(metric)
    if isinstance(found, Mapping):
        return number(found.get("mean"))
    return number(found)


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)
