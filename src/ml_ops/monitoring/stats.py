"""The stats dict: pure functions from a window's merged groups to JSON-ready numbers.

Every group summary (the whole window, one model, one user...) has the same keys, so an
alert rule's metric (`error_rate`, `latency_ms.p95`, `cost_per_hour`) reads the same path
whatever its scope. The full layout is in docs/monitoring.md ("The stats dict").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ai.core.records import Outcome
from ml_ops.monitoring.groups import GroupStats, KeyLimits, SeriesKey, Slot
from ml_ops.monitoring.sketch import QUANTILES
from ml_ops.monitoring.windows import Bucket

MIN_COVERED_SECONDS = 1.0
"""Rates per second divide by at least this, so a monitor a moment old reports sanely."""

SCOPES = ("model", "provider", "operation", "agent", "user")
"""What an alert rule (or a breakdown) can be restricted to."""

ALERT_METRICS: frozenset[str] = frozenset(
    {
        "total_requests", "successful_requests", "failed_requests", "cached_requests",
        "requests_per_second", "success_rate", "error_rate", "cache_hit_rate",
        "total_cost", "cost_per_request", "cost_per_hour", "saved_cost",
        *(f"tokens.{kind}" for kind in ("input", "output", "total", "cached_input",
                                        "cache_creation", "reasoning")),
        *(f"{sketch}.{name}" for sketch in ("latency_ms", "time_to_first_token_ms")
          for name in ("avg", *(n for n, _ in QUANTILES))),
    }
)  # fmt: skip
"""The metrics an `AlertRule` may watch: paths into a group summary."""


def combine(groups: Iterable[GroupStats], limits: KeyLimits) -> GroupStats:
    """One group holding the requests of all `groups`."""
    total = GroupStats()
    for group in groups:
        total.merge(group, limits)
    return total


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def group_summary(group: GroupStats, covered_seconds: float) -> dict[str, Any]:
    """Counts, rates, latency percentiles, cost and tokens of one group (see the docs)."""
    n = group.requests
    covered = max(covered_seconds, MIN_COVERED_SECONDS)
    return {
        "total_requests": n,
        "successful_requests": group.successes,
        "failed_requests": group.failures,
        "cached_requests": group.cached,
        "outcomes": {o.value: group.outcomes.get(o.value, 0) for o in Outcome},
        "requests_per_second": n / covered,
        "success_rate": _ratio(group.successes, n),
        "error_rate": _ratio(group.failures, n),
        "cache_hit_rate": _ratio(group.cached, n),
        "latency_ms": group.latency.summary(),
        "time_to_first_token_ms": group.ttft.summary(),
        "total_cost": group.cost,
        "cost_per_request": _ratio(group.cost, n),
        "cost_per_hour": group.cost / covered * 3600.0,
        "saved_cost": group.saved_cost,
        "tokens": {
            "input": group.input_tokens,
            "output": group.output_tokens,
            "total": group.input_tokens + group.output_tokens,
            "cached_input": group.cached_input_tokens,
            "cache_creation": group.cache_creation_tokens,
            "reasoning": group.reasoning_tokens,
        },
        "error_types": _sorted_counts(group.error_types),
    }


def _sorted_counts(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _series_by(
    series: Mapping[SeriesKey, GroupStats], part: Callable[[SeriesKey], str], limits: KeyLimits
) -> dict[str, GroupStats]:
    grouped: dict[str, GroupStats] = {}
    for key, group in series.items():
        name = part(key)
        target = grouped.get(name)
        if target is None:
            target = grouped[name] = GroupStats()
        target.merge(group, limits)
    return grouped


def breakdowns(view: Slot) -> dict[str, dict[str, GroupStats]]:
    """The window's groups per scope: model, provider, operation, agent, user."""
    limits = view.limits
    return {
        "model": _series_by(view.series, lambda key: key[1], limits),
        "provider": _series_by(view.series, lambda key: key[0], limits),
        "operation": _series_by(view.series, lambda key: key[2], limits),
        "agent": dict(view.agents),
        "user": dict(view.users),
    }


def scoped_group(view: Slot, scope: Mapping[str, str]) -> GroupStats:
    """The group a rule's scope selects (`{}`: everything; `{"model": "x"}`: one model)."""
    if not scope:
        return combine(view.series.values(), view.limits)
    ((dimension, key),) = scope.items()
    if dimension == "agent":
        return view.agents.get(key) or GroupStats()
    if dimension == "user":
        return view.users.get(key) or GroupStats()
    position = {"provider": 0, "model": 1, "operation": 2}[dimension]
    chosen = (group for series, group in view.series.items() if series[position] == key)
    return combine(chosen, view.limits)


def metric_value(summary: Mapping[str, Any], metric: str) -> float | None:
    """The value of `metric` (a dotted path from `ALERT_METRICS`) in a group summary."""
    value: Any = summary
    for part in metric.split("."):
        value = value[part]
    return None if value is None else float(value)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).isoformat()


def _ordered(groups: Mapping[str, GroupStats]) -> list[tuple[str, GroupStats]]:
    return sorted(groups.items(), key=lambda item: (-item[1].requests, item[0]))


def build_stats(
    view: Slot,
    *,
    window: str,
    window_seconds: int | None,
    start: float,
    now: float,
    buckets: Iterable[Bucket],
) -> dict[str, Any]:
    """The whole stats dict of one window: the overall summary at the top level, then the
    per-scope costs, the error trend and a summary per model, provider, operation, agent
    and user."""
    covered = max(now - start, MIN_COVERED_SECONDS)
    stats: dict[str, Any] = {
        "window": window,
        "window_seconds": window_seconds,
        "covered_seconds": covered,
        "as_of": _iso(now),
    }
    stats.update(group_summary(combine(view.series.values(), view.limits), covered))
    scopes = breakdowns(view)
    for scope in SCOPES:
        stats[f"cost_by_{scope}"] = {name: g.cost for name, g in _ordered(scopes[scope])}
    stats["error_trends"] = [
        {
            "start": _iso(bucket.start),
            "seconds": bucket.seconds,
            "requests": bucket.requests,
            "errors": bucket.errors,
            "error_rate": _ratio(bucket.errors, bucket.requests),
            "error_types": _sorted_counts(bucket.error_types),
        }
        for bucket in buckets
    ]
    for scope in SCOPES:
        stats[f"by_{scope}"] = {
            name: group_summary(group, covered) for name, group in _ordered(scopes[scope])
        }
    return stats
