"""The health rules, one component at a time, then through the manager with real sources:
a monitor fed by hand, a cost tracker's budgets, LLM services whose circuits open against
the loopback fake, an event store that stops answering, Redis up and down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ai.cache import ResponseCache
from ai.cache.redis_backend import RedisBackend
from ai.core.clock import FakeClock
from ai.errors import ConfigurationError
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer, Fault
from ml_ops.cost_tracker import Budget, CostTracker
from ml_ops.dashboard import DashboardManager, HealthStatus, HealthThresholds
from ml_ops.dashboard.health import (
    ComponentHealth,
    ProbeResult,
    judge_budgets,
    judge_errors,
    judge_latency,
    judge_probe,
    judge_providers,
    overall_status,
)
from ml_ops.monitoring import AlertRule, MLMonitor
from ml_ops.store import SQLiteEventStore
from tests.ai.provider_configs import openai_config

HELLO = [{"role": "user", "content": "hi"}]
T = HealthThresholds()


def stats(
    requests: int, errors: int = 0, p95: float | None = 500.0, **outcomes: int
) -> dict[str, Any]:
    return {
        "total_requests": requests,
        "failed_requests": errors + sum(outcomes.values()),
        "outcomes": {
            "success": requests - errors - sum(outcomes.values()),
            "error": errors,
            **outcomes,
        },
        "latency_ms": {"p95": p95},
    }


@pytest.mark.parametrize(
    ("requests", "errors", "expected"),
    [
        (9, 9, HealthStatus.UNKNOWN),  # below min_requests: not judged
        (100, 4, HealthStatus.HEALTHY),
        (100, 5, HealthStatus.DEGRADED),
        (100, 24, HealthStatus.DEGRADED),
        (100, 25, HealthStatus.UNHEALTHY),
    ],
)
def test_error_rate_rule(requests: int, errors: int, expected: HealthStatus) -> None:
    assert judge_errors(stats(requests, errors), T).status is expected


def test_refusals_and_cancellations_are_not_provider_errors() -> None:
    judged = judge_errors(stats(100, 0, refused=40, cancelled=10), T)
    assert judged.status is HealthStatus.HEALTHY and judged.details["errors"] == 0


@pytest.mark.parametrize(
    ("p95", "expected"),
    [(9_999.0, HealthStatus.HEALTHY), (10_000.0, HealthStatus.DEGRADED),
     (30_000.0, HealthStatus.UNHEALTHY), (None, HealthStatus.UNKNOWN)],
)  # fmt: skip
def test_latency_rule(p95: float | None, expected: HealthStatus) -> None:
    assert judge_latency(stats(50, p95=p95), T).status is expected


def budget(name: str, used: float, scope: str = "global", action: str = "refuse",
           in_effect: bool = False) -> dict[str, Any]:  # fmt: skip
    return {"name": name, "used": used, "scope": scope, "action": action,
            "exceeded": used >= 1.0, "in_effect": in_effect}  # fmt: skip


def test_budget_rules() -> None:
    assert judge_budgets([budget("a", 0.5)]).status is HealthStatus.HEALTHY
    near = judge_budgets([budget("a", 0.85)])
    assert near.status is HealthStatus.HEALTHY and "80%" in near.reason
    assert judge_budgets([budget("a", 1.0)]).status is HealthStatus.UNHEALTHY
    assert judge_budgets([budget("a", 1.0, action="alert")]).status is HealthStatus.DEGRADED
    assert judge_budgets([budget("u", 1.2, scope="user:alice")]).status is HealthStatus.DEGRADED
    downgrading = judge_budgets([budget("d", 0.95, action="downgrade", in_effect=True)])
    assert downgrading.status is HealthStatus.DEGRADED and "downgrading" in downgrading.reason


def test_provider_rules() -> None:
    up = {"total_requests": 20, "outcomes": {"success": 20, "error": 0}}
    down = {"total_requests": 4, "outcomes": {"success": 0, "error": 4}}
    one_failure = {"total_requests": 1, "outcomes": {"success": 0, "error": 1}}
    judged = judge_providers({"openai": up, "anthropic": down}, {"openai", "anthropic"}, T)
    assert judged.status is HealthStatus.DEGRADED and "anthropic" in judged.reason
    assert judge_providers({"anthropic": down}, {"anthropic"}, T).status is HealthStatus.UNHEALTHY
    assert judge_providers({"x": one_failure}, set(), T).status is HealthStatus.HEALTHY
    silent = judge_providers({}, {"openai"}, T)
    assert silent.status is HealthStatus.UNKNOWN and silent.details["providers"][0]["requests"] == 0


def test_probe_rules() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert judge_probe("store", None, now, T).status is HealthStatus.UNKNOWN
    fresh = ProbeResult(True, now - timedelta(seconds=5), 1.0)
    assert judge_probe("store", fresh, now, T).status is HealthStatus.HEALTHY
    stale = ProbeResult(True, now - timedelta(seconds=T.probe_max_age + 1), 1.0)
    assert judge_probe("store", stale, now, T).status is HealthStatus.UNKNOWN
    failed = ProbeResult(False, now, 2000.0, "no answer within 2 s")
    judged = judge_probe("redis", failed, now, T)
    assert judged.status is HealthStatus.DEGRADED and "no answer within 2 s" in judged.reason


def test_overall_is_the_worst_judged_component_and_unknown_is_left_out() -> None:
    def c(status: HealthStatus) -> ComponentHealth:
        return ComponentHealth(status.value, status, "")

    assert overall_status([]) is HealthStatus.HEALTHY
    assert overall_status([c(HealthStatus.UNKNOWN)]) is HealthStatus.HEALTHY
    mixed = [c(HealthStatus.HEALTHY), c(HealthStatus.DEGRADED)]
    assert overall_status(mixed) is HealthStatus.DEGRADED
    worst = [c(HealthStatus.DEGRADED), c(HealthStatus.UNHEALTHY), c(HealthStatus.UNKNOWN)]
    assert overall_status(worst) is HealthStatus.UNHEALTHY


def test_thresholds_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="error_rate_degraded"):
        HealthThresholds(error_rate_degraded=0.5, error_rate_unhealthy=0.2)
    with pytest.raises(ConfigurationError, match="min_requests"):
        HealthThresholds(min_requests=0)


# --- through the manager, with real sources ---------------------------------------------


def test_error_rate_from_a_monitor_makes_the_system_unhealthy(clock: FakeClock) -> None:
    monitor = MLMonitor(clock=clock)
    for number in range(20):
        monitor.track_request(success=number % 3 != 0, latency_ms=300, model="gpt-4o-mini",
                              provider="openai",
                              error_type=None if number % 3 else "timeout")  # fmt: skip
    health = DashboardManager(monitor=monitor, clock=clock).get_health_check()
    assert health["overall_status"] == "unhealthy"
    assert health["components"]["errors"]["status"] == "unhealthy"
    assert "35.0% of 20 requests" in health["components"]["errors"]["reason"]


async def test_a_critical_alert_degrades(clock: FakeClock) -> None:
    rule = AlertRule("errors", "error_rate", ">", 0.01, severity="critical")
    monitor = MLMonitor(clock=clock, rules=[rule])
    monitor.track_request(success=False, latency_ms=10, error_type="timeout")
    await monitor.evaluate()
    health = DashboardManager(monitor=monitor, clock=clock).get_health_check()
    assert health["components"]["alerts"]["status"] == "degraded"
    assert health["overall_status"] == "degraded"  # one request: the error rule is not judged


def test_a_spent_global_budget_that_refuses_is_unhealthy(clock: FakeClock) -> None:
    tracker = CostTracker(clock=clock)
    tracker.add_budget(Budget(name="cap", limit=1.0, period="daily", action="refuse"))
    monitor = MLMonitor(clock=clock)
    tracker.observe(monitor.track_request(success=True, latency_ms=5, cost=1.5, model="gpt-4o"))
    health = DashboardManager(monitor=monitor, cost_tracker=tracker, clock=clock).get_health_check()
    assert health["components"]["budgets"]["status"] == "unhealthy"
    assert health["overall_status"] == "unhealthy"


async def test_open_circuits_degrade_then_stop_a_service(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.add(Fault.server_error(500), times=None, model="gpt-4o-mini")
    with_fallback = openai_config(fake, max_retries=0, fallback_models=["gpt-4o"],
                                  circuit_failure_threshold=2)  # fmt: skip
    alone = openai_config(fake, max_retries=0, circuit_failure_threshold=2)
    async with (
        LLMService(with_fallback, clock=clock) as main,
        LLMService(alone, clock=clock) as solo,
    ):
        manager = DashboardManager(services={"main": main}, clock=clock)
        assert manager.get_health_check()["components"]["circuit_breakers"]["status"] == "healthy"
        for _ in range(2):
            await main.complete(messages=HELLO)
        judged = manager.get_health_check()["components"]["circuit_breakers"]
        assert judged["status"] == "degraded" and "gpt-4o-mini" in judged["reason"]
        for _ in range(2):
            with pytest.raises(Exception):  # noqa: B017, PT011 - the provider's 500
                await solo.complete(messages=HELLO)
        both = DashboardManager(services=[main, solo], clock=clock).get_health_check()
        assert both["components"]["circuit_breakers"]["status"] == "unhealthy"
        assert both["overall_status"] == "unhealthy"


async def test_store_reachability_is_checked_by_refresh_health(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    manager = DashboardManager(store=store)
    assert manager.get_health_check()["components"]["store"]["status"] == "unknown"
    assert (await manager.refresh_health())["components"]["store"]["status"] == "healthy"
    assert await manager.readiness() == {"store": True}
    await store.aclose()  # a closed store refuses work, like one that is down
    health = await manager.refresh_health()
    assert health["components"]["store"]["status"] == "degraded"
    assert "closed" in health["components"]["store"]["reason"]
    assert await manager.readiness() == {"store": False}


async def test_redis_reachability(redis_url: str) -> None:
    up = await DashboardManager(redis_url=redis_url).refresh_health()
    assert up["components"]["redis"]["status"] == "healthy"
    down = await DashboardManager(redis_url="redis://127.0.0.1:1/0").refresh_health()
    assert down["components"]["redis"]["status"] == "degraded"
    assert down["overall_status"] == "degraded"


async def test_a_cache_whose_backend_is_down_degrades() -> None:
    cache = ResponseCache(RedisBackend("redis://:hunter2-secret@127.0.0.1:1/0"), ttl=60)
    await cache.get("some-key")  # fails over to a miss and notes the outage
    health = DashboardManager(cache=cache).get_health_check()
    assert health["components"]["cache"]["status"] == "degraded"
    assert "hunter2" not in str(health)
    await cache.aclose()
