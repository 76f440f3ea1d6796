"""Health rules: each component is judged on its own, and the system is as healthy as its
worst judged component.

Statuses mean:

- `healthy`: nothing needs attention;
- `degraded`: calls are served, but something is impaired (a fallback is in use, a
  shared service is down, errors or latency are high);
- `unhealthy`: calls are failing or refused;
- `unknown`: too little to judge (too few requests, never checked); left out of the
  overall status.

The rules, with the defaults of `HealthThresholds` (docs/dashboard.md has them as a table):

- errors: unhealthy when provider errors are >= 25% of >= 10 requests in the last 5m,
  degraded from 5%;
- latency: unhealthy when the P95 is >= 30 s over >= 10 requests in 5m, degraded from 10 s;
- budgets: unhealthy when a global budget that refuses calls is spent (every call is
  refused), degraded when any other budget is spent or one is downgrading calls;
- circuit_breakers: unhealthy when every model of a service has an open circuit,
  degraded when some circuit is open or half-open;
- providers: unhealthy when every configured provider with traffic failed all its recent
  calls (at least 3), degraded when one did or its error rate is >= 5%;
- store, redis: degraded when not reachable at the last check (unknown when that check
  is older than 2 minutes);
- cache: degraded while the response cache's backend is down;
- alerts: degraded while a critical alert is firing.

"Provider errors" are requests that ended in an error: refusals (a budget said no) and
cancellations (the caller gave up) are not the providers' fault and are judged elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from ai.calls.circuit import CircuitState
from ai.errors import ConfigurationError
from ml_ops.dashboard.plain import number
from ml_ops.store.base import AlertRecord, AlertStatus


class HealthStatus(StrEnum):
    """A component's (or the system's) health; see the module docstring."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Badness: unknown 0 (ignored), healthy 1, degraded 2, unhealthy 3."""
        return _RANKS[self]


_RANKS = {
    HealthStatus.UNKNOWN: 0,
    HealthStatus.HEALTHY: 1,
    HealthStatus.DEGRADED: 2,
    HealthStatus.UNHEALTHY: 3,
}


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """The numbers behind the rules (see the module docstring). Rates are fractions,
    latencies milliseconds, times seconds; `window` is one of the monitor's windows."""

    window: str = "5m"
    min_requests: int = 10
    error_rate_degraded: float = 0.05
    error_rate_unhealthy: float = 0.25
    latency_p95_degraded_ms: float = 10_000.0
    latency_p95_unhealthy_ms: float = 30_000.0
    provider_min_failures: int = 3
    probe_timeout: float = 2.0
    probe_max_age: float = 120.0

    def __post_init__(self) -> None:
        if self.min_requests < 1 or self.provider_min_failures < 1:
            raise ConfigurationError("min_requests and provider_min_failures must be >= 1")
        if not 0 < self.error_rate_degraded <= self.error_rate_unhealthy <= 1:
            raise ConfigurationError(
                "error rates must satisfy 0 < error_rate_degraded <= error_rate_unhealthy <= 1"
            )
        if not 0 < self.latency_p95_degraded_ms <= self.latency_p95_unhealthy_ms:
            raise ConfigurationError(
                "latencies must satisfy 0 < latency_p95_degraded_ms <= latency_p95_unhealthy_ms"
            )
        if self.probe_timeout <= 0 or self.probe_max_age <= 0:
            raise ConfigurationError("probe_timeout and probe_max_age must be > 0 seconds")


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """One component's status, why, and the numbers it was judged on."""

    name: str
    status: HealthStatus
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one reachability check (`error` is safe to show: no password)."""

    ok: bool
    checked_at: datetime
    latency_ms: float
    error: str | None = None


class RouteLike(Protocol):
    """What the health check reads of a route: its model and provider."""

    @property
    def model(self) -> str: ...

    @property
    def provider(self) -> str: ...


class CircuitSource(Protocol):
    """What the health check reads of a service (`ai.LLMService` is one)."""

    @property
    def routes(self) -> Sequence[RouteLike]: ...

    def circuit_state(self, model: str) -> CircuitState: ...


def overall_status(components: Iterable[ComponentHealth]) -> HealthStatus:
    """The worst judged status (unknown is left out); healthy when nothing was judged."""
    worst = HealthStatus.HEALTHY
    for component in components:
        if component.status.rank > worst.rank:
            worst = component.status
    return worst


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def provider_errors(summary: Mapping[str, Any]) -> int:
    """Requests that ended in an error (not refused, not cancelled)."""
    outcomes = summary.get("outcomes") or {}
    return int(outcomes.get("error", summary.get("failed_requests", 0)) or 0)


def judge_errors(stats: Mapping[str, Any], t: HealthThresholds) -> ComponentHealth:
    """The share of requests that failed with an error over the health window."""
    requests = int(stats.get("total_requests") or 0)
    errors = provider_errors(stats)
    details = {"window": t.window, "requests": requests, "errors": errors}
    if requests < t.min_requests:
        return ComponentHealth(
            "errors",
            HealthStatus.UNKNOWN,
            f"{requests} requests in {t.window}: too few to judge (at least {t.min_requests})",
            details,
        )
    rate = errors / requests
    details["error_rate"] = rate
    said = f"{_percent(rate)} of {requests} requests failed in {t.window}"
    if rate >= t.error_rate_unhealthy:
        return ComponentHealth("errors", HealthStatus.UNHEALTHY, said, details)
    if rate >= t.error_rate_degraded:
        return ComponentHealth("errors", HealthStatus.DEGRADED, said, details)
    return ComponentHealth("errors", HealthStatus.HEALTHY, said, details)


def judge_latency(stats: Mapping[str, Any], t: HealthThresholds) -> ComponentHealth:
    """The P95 latency over the health window."""
    requests = int(stats.get("total_requests") or 0)
    p95 = number((stats.get("latency_ms") or {}).get("p95"))
    details: dict[str, Any] = {"window": t.window, "requests": requests, "p95_ms": p95}
    if requests < t.min_requests or p95 is None:
        return ComponentHealth(
            "latency",
            HealthStatus.UNKNOWN,
            f"{requests} requests in {t.window}: too few to judge (at least {t.min_requests})",
            details,
        )
    said = f"P95 latency {p95 / 1000:.2f} s over {requests} requests in {t.window}"
    if p95 >= t.latency_p95_unhealthy_ms:
        return ComponentHealth("latency", HealthStatus.UNHEALTHY, said, details)
    if p95 >= t.latency_p95_degraded_ms:
        return ComponentHealth("latency", HealthStatus.DEGRADED, said, details)
    return ComponentHealth("latency", HealthStatus.HEALTHY, said, details)


def _refusing_everything(budget: Mapping[str, Any]) -> bool:
    scope = str(budget.get("scope") or "global").lower()
    return scope == "global" and budget.get("action") in (None, "refuse")


def judge_budgets(budgets: Sequence[Mapping[str, Any]]) -> ComponentHealth:
    """Spent budgets: a global budget that refuses calls stops every call (unhealthy);
    any other spent budget, or one downgrading calls, is degraded."""
    spent = [b for b in budgets if b.get("exceeded")]
    downgrading = [
        b for b in budgets
        if b.get("action") == "downgrade" and b.get("in_effect") and not b.get("exceeded")
    ]  # fmt: skip
    details = {
        "budgets": len(budgets),
        "exceeded": [b.get("name") for b in spent],
        "downgrading": [b.get("name") for b in downgrading],
    }
    if any(_refusing_everything(b) for b in spent):
        names = ", ".join(str(b.get("name")) for b in spent if _refusing_everything(b))
        reason = f"global budget spent, calls refused: {names}"
        return ComponentHealth("budgets", HealthStatus.UNHEALTHY, reason, details)
    if spent or downgrading:
        parts = [f"spent: {', '.join(str(b.get('name')) for b in spent)}"] if spent else []
        if downgrading:
            names = ", ".join(str(b.get("name")) for b in downgrading)
            parts.append(f"downgrading calls: {names}")
        return ComponentHealth("budgets", HealthStatus.DEGRADED, "; ".join(parts), details)
    near = [str(b.get("name")) for b in budgets if (number(b.get("used")) or 0.0) >= 0.8]
    reason = f"{len(budgets)} budgets, none spent"
    if near:
        reason += f" ({', '.join(near)} at 80% or more)"
    return ComponentHealth("budgets", HealthStatus.HEALTHY, reason, details)


def judge_circuits(services: Mapping[str, CircuitSource]) -> ComponentHealth:
    """Circuit breakers of each service's models (primary and fallbacks)."""
    rows: list[dict[str, str]] = []
    worst = HealthStatus.HEALTHY
    notes: list[str] = []
    for name, service in services.items():
        states = _circuit_states(service)
        rows.extend({"service": name, **state} for state in states)
        shut = [s["model"] for s in states if s["state"] != CircuitState.CLOSED.value]
        if states and all(s["state"] == CircuitState.OPEN.value for s in states):
            worst = HealthStatus.UNHEALTHY
            notes.append(f"{name}: every model's circuit is open ({', '.join(shut)})")
        elif shut:
            worst = max(worst, HealthStatus.DEGRADED, key=lambda s: s.rank)
            notes.append(f"{name}: circuit not closed for {', '.join(shut)}")
    reason = "; ".join(notes) or f"all circuits closed ({len(rows)} models)"
    return ComponentHealth("circuit_breakers", worst, reason, {"circuits": rows})


def _circuit_states(service: CircuitSource) -> list[dict[str, str]]:
    seen: set[str] = set()
    states = []
    for route in service.routes:
        if route.model in seen:
            continue
        seen.add(route.model)
        states.append(
            {
                "model": route.model,
                "provider": route.provider,
                "state": CircuitState(service.circuit_state(route.model)).value,
            }
        )
    return states


def judge_providers(
    by_provider: Mapping[str, Mapping[str, Any]],
    configured: Iterable[str],
    t: HealthThresholds,
) -> ComponentHealth:
    """Each configured provider's recent outcomes (every provider seen when none is
    configured): all of its recent calls failing makes it unhealthy."""
    names = sorted(set(configured)) or sorted(by_provider)
    rows = [_provider_row(name, by_provider.get(name) or {}, t) for name in names]
    judged = [row for row in rows if row["status"] != HealthStatus.UNKNOWN.value]
    down = [row["provider"] for row in judged if row["status"] == HealthStatus.UNHEALTHY.value]
    weak = [row["provider"] for row in judged if row["status"] == HealthStatus.DEGRADED.value]
    details = {"window": t.window, "providers": rows}
    if not judged:
        return ComponentHealth(
            "providers", HealthStatus.UNKNOWN, f"no provider calls in {t.window}", details
        )
    if len(down) == len(judged):
        return ComponentHealth(
            "providers", HealthStatus.UNHEALTHY, f"every call failed: {', '.join(down)}", details
        )
    if down or weak:
        parts = [f"failing: {', '.join(down)}"] if down else []
        parts += [f"error rate high: {', '.join(weak)}"] if weak else []
        return ComponentHealth("providers", HealthStatus.DEGRADED, "; ".join(parts), details)
    return ComponentHealth(
        "providers", HealthStatus.HEALTHY, f"{len(judged)} providers answering", details
    )


def _provider_row(name: str, summary: Mapping[str, Any], t: HealthThresholds) -> dict[str, Any]:
    requests = int(summary.get("total_requests") or 0)
    errors = provider_errors(summary)
    row: dict[str, Any] = {"provider": name, "requests": requests, "errors": errors}
    if requests == 0:
        status = HealthStatus.UNKNOWN
    elif errors == requests and errors >= t.provider_min_failures:
        status = HealthStatus.UNHEALTHY
    elif requests >= t.min_requests and errors / requests >= t.error_rate_degraded:
        status = HealthStatus.DEGRADED
    else:
        status = HealthStatus.HEALTHY
    row["status"] = status.value
    return row


_PROBE_IMPACT = {
    "store": "records wait in the writer's buffer and spill file; history is stale",
    "redis": "the response cache and shared counters fall back or are skipped",
}


def judge_probe(
    name: str, probe: ProbeResult | None, now: datetime, t: HealthThresholds
) -> ComponentHealth:
    """A reachability check of the store or Redis, as of its last run."""
    if probe is None:
        return ComponentHealth(name, HealthStatus.UNKNOWN, "not checked yet")
    age = (now - probe.checked_at).total_seconds()
    details = {
        "checked_at": probe.checked_at.isoformat(),
        "age_seconds": age,
        "latency_ms": probe.latency_ms,
    }
    if age > t.probe_max_age:
        return ComponentHealth(name, HealthStatus.UNKNOWN, f"last checked {age:.0f} s ago", details)
    if probe.ok:
        return ComponentHealth(
            name, HealthStatus.HEALTHY, f"reachable ({probe.latency_ms:.0f} ms)", details
        )
    impact = _PROBE_IMPACT.get(name, "unreachable")
    reason = f"not reachable: {probe.error or 'no answer'}; {impact}"
    return ComponentHealth(name, HealthStatus.DEGRADED, reason, details)


def judge_cache(metrics: Mapping[str, Any]) -> ComponentHealth:
    """The response cache: degraded while its backend is down."""
    details = {
        "backend": metrics.get("backend"),
        "hit_rate": metrics.get("hit_rate"),
        "outages": metrics.get("outages"),
    }
    if metrics.get("available") is False:
        return ComponentHealth(
            "cache",
            HealthStatus.DEGRADED,
            f"{metrics.get('backend')} backend down: calls skip the cache",
            details,
        )
    return ComponentHealth("cache", HealthStatus.HEALTHY, f"{metrics.get('backend')} up", details)


def judge_alerts(active: Sequence[AlertRecord]) -> ComponentHealth:
    """Firing alerts: a critical one makes the system degraded."""
    firing = [a for a in active if a.status is AlertStatus.FIRING]
    critical = [a.rule for a in firing if a.severity == "critical"]
    details = {"firing": len(firing), "critical": critical}
    if critical:
        reason = f"critical alert firing: {', '.join(critical)}"
        return ComponentHealth("alerts", HealthStatus.DEGRADED, reason, details)
    reason = f"{len(firing)} alerts firing, none critical" if firing else "no alerts firing"
    return ComponentHealth("alerts", HealthStatus.HEALTHY, reason, details)
