"""Alert rules on the injected clock: fire, stay quiet while firing, resolve, cool down,
wait for enough samples; evaluation on arrival; persistence, history, acknowledgement;
handlers that fail are logged, never raised."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest

from ai.core.clock import FakeClock
from ai.errors import ConfigurationError
from ml_ops.monitoring import AlertRule, LogAlertHandler, MLMonitor
from ml_ops.store import AlertRecord, AlertStatus, MemoryEventStore

FIRING, RESOLVED = AlertStatus.FIRING, AlertStatus.RESOLVED


def error_rule(**overrides: object) -> AlertRule:
    settings: dict[str, object] = {"min_samples": 10, "cooldown": 600.0}
    settings.update(overrides)
    return AlertRule("errors", "error_rate", ">", 0.05, "5m", **settings)  # type: ignore[arg-type]


def traffic(monitor: MLMonitor, *, ok: int = 0, failed: int = 0) -> None:
    for _ in range(ok):
        monitor.track_request(success=True, latency_ms=100, model="gpt-4o")
    for _ in range(failed):
        monitor.track_request(success=False, latency_ms=100, model="gpt-4o",
                              error_type="rate_limit")  # fmt: skip


async def test_fire_then_quiet_then_resolve_then_cool_down_then_fire_again() -> None:
    clock = FakeClock()
    seen: list[AlertRecord] = []
    monitor = MLMonitor(clock=clock, rules=[error_rule()], handlers=[seen.append])

    traffic(monitor, ok=8, failed=2)
    (fired,) = await monitor.evaluate()
    await monitor.flush()
    assert fired.status is FIRING and fired.value == pytest.approx(0.2)
    assert fired.labels == {"window": "5m"} and fired.fired_at == clock.now()
    assert seen == [fired] and monitor.active_alerts() == [fired]

    clock.advance(60)
    assert await monitor.evaluate() == []  # still breaching: no second notification

    clock.advance(300)  # the failures left the 5 minute window
    traffic(monitor, ok=20)
    (resolved,) = await monitor.evaluate()
    assert resolved.alert_id == fired.alert_id and resolved.status is RESOLVED
    assert resolved.resolved_at == clock.now() and resolved.value == fired.value
    assert monitor.active_alerts() == []

    clock.advance(10)
    traffic(monitor, failed=20)  # breaching again, 370 s after firing: cooling down
    assert await monitor.evaluate() == []
    clock.advance(240)  # 610 s after the first alert: the cool-down is over
    (again,) = await monitor.evaluate()
    await monitor.flush()
    assert again.status is FIRING and again.alert_id != fired.alert_id
    assert [a.status for a in seen] == [FIRING, RESOLVED, FIRING]


async def test_too_few_samples_change_nothing_and_no_data_resolves() -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock, rules=[error_rule()])
    traffic(monitor, failed=9)
    assert await monitor.evaluate() == []  # 100% errors, but 9 < min_samples
    traffic(monitor, failed=1)
    assert [a.status for a in await monitor.evaluate()] == [FIRING]
    clock.advance(400)  # the window is empty: the rate is undefined
    (resolved,) = await monitor.evaluate()
    assert resolved.status is RESOLVED and "no data" in resolved.message


async def test_rules_on_latency_cost_and_cache_with_a_scope() -> None:
    clock = FakeClock()
    rules = [
        AlertRule("slow-gpt", "latency_ms.p95", ">", 3000, "5m", scope={"model": "gpt-4o"}),
        AlertRule("spend", "cost_per_hour", ">", 1.0, "1h", severity="critical"),
        AlertRule("cache", "cache_hit_rate", "<", 0.5, "1h", min_samples=3),
    ]
    monitor = MLMonitor(clock=clock, rules=rules)
    for latency in (100, 200, 4000, 5000):
        monitor.track_request(True, latency, cost=0.5, model="gpt-4o")
    monitor.track_request(True, 9000, cost=0.0, model="other", cached=True)
    fired = {alert.rule: alert for alert in await monitor.evaluate()}
    assert set(fired) == {"slow-gpt", "spend", "cache"}
    assert fired["slow-gpt"].labels == {"model": "gpt-4o", "window": "5m"}
    assert fired["slow-gpt"].value == pytest.approx(4000, rel=0.01)
    assert fired["spend"].severity == "critical"
    assert fired["cache"].value == pytest.approx(0.2)


async def test_rules_are_evaluated_when_records_arrive() -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock, rules=[error_rule(min_samples=1)], evaluation_interval=0)
    traffic(monitor, failed=1)
    await monitor.flush()  # the evaluation the record started
    assert [a.rule for a in monitor.active_alerts()] == ["errors"]


async def test_evaluation_on_arrival_waits_for_its_interval() -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock, rules=[error_rule(min_samples=1)], evaluation_interval=5)
    traffic(monitor, ok=1)
    await monitor.flush()
    traffic(monitor, failed=1)  # within 5 s of the last evaluation: not judged yet
    await monitor.flush()
    assert monitor.active_alerts() == []
    clock.advance(5)
    traffic(monitor, failed=1)
    await monitor.flush()
    assert len(monitor.active_alerts()) == 1


async def test_alerts_are_saved_listed_and_acknowledged() -> None:
    clock = FakeClock()
    store = MemoryEventStore()
    monitor = MLMonitor(store, clock=clock, rules=[error_rule(min_samples=1)])
    traffic(monitor, failed=1)
    (fired,) = await monitor.evaluate()
    assert await store.alerts() == [fired]
    clock.advance(30)
    acknowledged = await monitor.acknowledge(fired.alert_id)
    assert acknowledged.acknowledged_at == clock.now() and acknowledged.status is FIRING
    assert monitor.active_alerts() == [acknowledged]
    assert await monitor.alert_history() == [acknowledged]
    assert await monitor.alert_history(status=RESOLVED) == []
    with pytest.raises(LookupError, match="nope"):
        await monitor.acknowledge("nope")
    # A monitor of another process acknowledges an alert it only knows from the store.
    other = MLMonitor(store, clock=clock)
    assert (await other.acknowledge(fired.alert_id)).alert_id == fired.alert_id


async def test_history_without_a_store_is_this_monitors_own() -> None:
    clock = FakeClock()
    monitor = MLMonitor(clock=clock, rules=[error_rule(min_samples=1)])
    traffic(monitor, failed=1)
    await monitor.evaluate()
    clock.advance(400)
    await monitor.evaluate()
    (alert,) = await monitor.alert_history()
    assert alert.status is RESOLVED


async def test_a_failing_handler_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    delivered: list[str] = []

    def broken(alert: AlertRecord) -> None:
        raise RuntimeError("pager service down")

    async def async_callback(alert: AlertRecord) -> None:
        delivered.append(alert.rule)

    monitor = MLMonitor(
        clock=FakeClock(),
        rules=[error_rule(min_samples=1)],
        handlers=[broken, async_callback, LogAlertHandler()],
    )
    traffic(monitor, failed=1)
    with caplog.at_level(logging.WARNING):
        await monitor.evaluate()
        await monitor.flush()
    assert delivered == ["errors"]
    assert "pager service down" in caplog.text
    assert "alert firing [warning] errors:" in caplog.text


def test_rules_are_checked_when_made() -> None:
    with pytest.raises(ConfigurationError, match="unknown metric"):
        AlertRule("x", "latency_p95", ">", 1)
    with pytest.raises(ConfigurationError, match="'x'"):
        AlertRule("x", "error_rate", "=>", 1)
    with pytest.raises(ConfigurationError, match="scope"):
        AlertRule("x", "error_rate", ">", 1, scope={"team": "a"})
    with pytest.raises(ConfigurationError, match="not a valid Severity"):
        AlertRule("x", "error_rate", ">", 1, severity="meh")
    with pytest.raises(ConfigurationError, match="unknown window"):
        MLMonitor(rules=[AlertRule("x", "error_rate", ">", 1, window="7m")])
    monitor = MLMonitor(rules=[AlertRule("x", "error_rate", ">", 1)])
    with pytest.raises(ConfigurationError, match="exists"):
        monitor.add_rule(AlertRule("x", "error_rate", ">", 1))


@pytest.mark.parametrize("threshold", ["1000", None, True, math.nan, math.inf])
def test_a_threshold_must_be_a_finite_number(threshold: object) -> None:
    with pytest.raises(ConfigurationError, match="threshold must be"):
        AlertRule("volume", "total_requests", ">", threshold)  # type: ignore[arg-type]


def test_a_cooldown_must_be_a_finite_number() -> None:
    with pytest.raises(ConfigurationError, match="cooldown"):
        AlertRule("x", "error_rate", ">", 0.1, cooldown=math.nan)


async def test_a_rule_that_fails_to_judge_does_not_silence_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[AlertRecord] = []
    broken = AlertRule("volume", "total_requests", ">", 1000)
    object.__setattr__(broken, "threshold", "1000")  # corrupted after it was checked
    monitor = MLMonitor(clock=FakeClock(), rules=[error_rule(), broken], handlers=[seen.append])
    traffic(monitor, ok=8, failed=2)
    with caplog.at_level(logging.ERROR):
        (fired,) = await monitor.evaluate()
        await monitor.flush()
    assert fired.rule == "errors" and seen == [fired]
    assert "alert rule 'volume' could not be judged" in caplog.text


def test_without_an_event_loop_rules_wait_for_evaluate() -> None:
    monitor = MLMonitor(clock=FakeClock(), rules=[error_rule(min_samples=1)], evaluation_interval=0)
    traffic(monitor, failed=1)  # plain synchronous code: nothing to run an evaluation on
    assert monitor.active_alerts() == []
    (fired,) = asyncio.run(monitor.evaluate())
    assert monitor.active_alerts() == [fired]


async def test_an_alert_on_a_count_resolves_when_its_traffic_stops() -> None:
    clock = FakeClock()
    rule = AlertRule("busy", "total_requests", ">", 5, "1m", min_samples=3)
    monitor = MLMonitor(clock=clock, rules=[rule])
    traffic(monitor, ok=2)
    assert await monitor.evaluate() == []
    traffic(monitor, ok=6)
    assert [a.status for a in await monitor.evaluate()] == [FIRING]
    clock.advance(30)
    traffic(monitor, ok=1)
    assert await monitor.evaluate() == []  # still 9 requests in the last minute
    clock.advance(90)  # no request in the last minute: the count is 0, not undefined
    (resolved,) = await monitor.evaluate()
    assert resolved.status is RESOLVED and "no requests" in resolved.message
    assert monitor.active_alerts() == []
