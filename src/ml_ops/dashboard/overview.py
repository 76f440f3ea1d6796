"""The overview: the numbers on the dashboard's cards, from the monitor's stats of one
window, the response cache's counters and the budgets.

`overview["overview"]` holds the spec's `total_requests` and `total_cost` with success and
error rates, latency and TTFT percentiles, throughput, cost per request, cache hit rate and
savings, and tokens. `top` ranks models, providers, agents and users by cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TOP_N = 10
_LATENCY_KEYS = ("count", "avg", "p50", "p75", "p90", "p95", "p99")
_ZERO_TOKENS = {
    "input": 0, "output": 0, "total": 0, "cached_input": 0, "cache_creation": 0, "reasoning": 0,
}  # fmt: skip


def _latency(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    summary = summary or {}
    return {key: summary.get(key) for key in _LATENCY_KEYS}


def headline(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The card numbers of one window's stats (the monitor's `get_real_time_stats`)."""
    return {
        "total_requests": int(stats.get("total_requests") or 0),
        "total_cost": float(stats.get("total_cost") or 0.0),
        "successful_requests": int(stats.get("successful_requests") or 0),
        "failed_requests": int(stats.get("failed_requests") or 0),
        "cached_requests": int(stats.get("cached_requests") or 0),
        "success_rate": stats.get("success_rate"),
        "error_rate": stats.get("error_rate"),
        "requests_per_second": stats.get("requests_per_second"),
        "cost_per_request": stats.get("cost_per_request"),
        "cost_per_hour": stats.get("cost_per_hour"),
        "cache_hit_rate": stats.get("cache_hit_rate"),
        "saved_cost": float(stats.get("saved_cost") or 0.0),
        "latency_ms": _latency(stats.get("latency_ms")),
        "time_to_first_token_ms": _latency(stats.get("time_to_first_token_ms")),
        "tokens": {**_ZERO_TOKENS, **(stats.get("tokens") or {})},
        "error_types": dict(stats.get("error_types") or {}),
    }


def ranked(groups: Mapping[str, Mapping[str, Any]], limit: int = TOP_N) -> list[dict[str, Any]]:
    """Groups of a breakdown (`by_model`...) by cost, largest first, with their share."""
    total = sum(float(g.get("total_cost") or 0.0) for g in groups.values())
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "cost": float(group.get("total_cost") or 0.0),
            "share": (float(group.get("total_cost") or 0.0) / total) if total else None,
            "requests": int(group.get("total_requests") or 0),
            "error_rate": group.get("error_rate"),
            "cost_per_request": group.get("cost_per_request"),
            "tokens": int((group.get("tokens") or {}).get("total") or 0),
            "latency_p95_ms": (group.get("latency_ms") or {}).get("p95"),
        }
        for name, group in groups.items()
    ]
    rows.sort(key=lambda row: (-row["cost"], -row["requests"], row["name"]))
    return rows[:limit]


def top_by_cost(stats: Mapping[str, Any], limit: int = TOP_N) -> dict[str, list[dict[str, Any]]]:
    """Models, providers, agents and users ranked by cost in the window."""
    return {
        plural: ranked(stats.get(f"by_{scope}") or {}, limit)
        for plural, scope in (
            ("models", "model"),
            ("providers", "provider"),
            ("agents", "agent"),
            ("users", "user"),
        )
    }


def build_overview(
    stats: Mapping[str, Any] | None,
    *,
    window: str,
    cache_metrics: Mapping[str, Any] | None,
    budgets: Sequence[Mapping[str, Any]],
    report_total: float | None,
    sources: Mapping[str, bool],
) -> dict[str, Any]:
    """The whole overview (see the module docstring). Without a monitor the requests are
    unknown (0) and the total cost is the cost tracker's report total, when it has one."""
    numbers = headline(stats or {})
    if stats is None and report_total is not None:
        numbers["total_cost"] = report_total
    cache: dict[str, Any] = {
        "hit_rate": numbers["cache_hit_rate"],
        "saved_cost": numbers["saved_cost"],
        "cached_requests": numbers["cached_requests"],
        "response_cache": dict(cache_metrics) if cache_metrics is not None else None,
    }
    if cache_metrics is not None:
        cache["lookup_hit_rate"] = cache_metrics.get("hit_rate")
        cache["cache_saved_cost"] = cache_metrics.get("cost_saved")
    return {
        "window": window,
        "as_of": (stats or {}).get("as_of"),
        "covered_seconds": (stats or {}).get("covered_seconds"),
        "overview": numbers,
        "top": top_by_cost(stats or {}),
        "cache": cache,
        "budgets": [dict(b) for b in budgets],
        "sources": dict(sources),
    }
