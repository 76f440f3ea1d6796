"""DashboardManager's views over seeded, real sources: the numbers add up to the records,
sections fail alone, and everything is plain JSON."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from ai.accounting.pricing import PricingTable
from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.errors import ConfigurationError
from ml_ops.cost_tracker import CostTracker
from ml_ops.dashboard import DashboardManager
from ml_ops.monitoring import MLMonitor
from ml_ops.store import MemoryEventStore
from tests.ml_ops.dashboard.seeding import MODELS, USERS, Seeded, traffic

BUDGETS = {"daily_limit", "alice_monthly", "gpt4o_weekly"}


def strict_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


async def test_overview_totals_match_the_records(seeded_state: Seeded) -> None:
    overview = seeded_state.manager.get_overview()  # all time
    numbers = overview["overview"]
    records = seeded_state.records
    assert numbers["total_requests"] == len(records)
    assert numbers["total_cost"] == pytest.approx(sum(r.estimated_cost or 0 for r in records))
    assert numbers["failed_requests"] == sum(not r.success for r in records)
    assert numbers["cached_requests"] == sum(r.cached for r in records)
    assert numbers["tokens"]["output"] == sum(r.output_tokens for r in records)
    latency = numbers["latency_ms"]
    assert latency["p50"] <= latency["p95"] <= latency["p99"]
    assert numbers["time_to_first_token_ms"]["count"] == sum(
        r.time_to_first_token_ms is not None for r in records
    )
    costs = [row["cost"] for row in overview["top"]["models"]]
    assert costs == sorted(costs, reverse=True)
    assert {row["name"] for row in overview["top"]["models"]} == {m for _, m, _ in MODELS}
    assert sum(row["share"] for row in overview["top"]["models"]) == pytest.approx(1.0)
    assert {b["name"] for b in overview["budgets"]} == BUDGETS
    strict_json(overview)


async def test_windows_narrow_the_overview(seeded_state: Seeded) -> None:
    manager = seeded_state.manager
    assert manager.windows == ("1m", "5m", "1h", "24h", "all")
    hour = manager.get_overview("1h")["overview"]["total_requests"]
    day = manager.get_overview("24h")["overview"]["total_requests"]
    assert 0 < hour < day < len(seeded_state.records)
    with pytest.raises(ConfigurationError, match="unknown window"):
        manager.get_overview("3h")


async def test_time_series_from_the_store(seeded_state: Seeded) -> None:
    manager = seeded_state.manager
    hour = await manager.get_timeseries("1h")
    day = await manager.get_timeseries("24h")
    assert hour["source"] == "store" and hour["bucket_seconds"] == 60
    assert day["bucket_seconds"] == 1800 and len(day["t"]) >= 48
    newest = max(r.timestamp for r in seeded_state.records)
    in_hour = [r for r in seeded_state.records if r.timestamp > newest - timedelta(minutes=59)]
    assert sum(hour["series"]["requests"]) >= len(in_hour)
    assert sum(hour["series"]["errors"]) == sum(
        not r.success for r in seeded_state.records
        if r.timestamp.timestamp() >= hour["t"][0]
    )  # fmt: skip
    for name in ("latency_p50", "latency_p95", "latency_p99", "ttft_p95", "cost", "cache_hit_rate"):
        assert any(v is not None and v > 0 for v in hour["series"][name]), name
    assert set(hour["tokens_by_model"]) <= {m for _, m, _ in MODELS}
    assert all(len(column) == len(hour["t"]) for column in hour["series"].values())
    everything = await manager.get_timeseries("all")
    assert sum(everything["series"]["requests"]) == len(seeded_state.records)
    strict_json(everything)


async def test_monitor_only_series(clock: FakeClock) -> None:
    monitor = MLMonitor(clock=clock)
    records = traffic(clock.now(), hours=1)
    for record in records:
        monitor.observe(record)
    series = await DashboardManager(monitor=monitor, clock=clock).get_timeseries("1h")
    assert series["source"] == "monitor"
    assert sum(series["series"]["requests"]) == monitor.get_real_time_stats("1h")["total_requests"]
    assert all(v is None for v in series["series"]["latency_p95"])


async def test_cost_history_and_forecast(seeded_state: Seeded) -> None:
    history = await seeded_state.manager.get_cost_history(7)
    assert history["source"] == "cost_tracker"
    assert len(history["days"]) == len(history["cost"]) == 7
    assert sum(history["cost"]) == pytest.approx(
        sum(r.estimated_cost or 0 for r in seeded_state.records), rel=1e-9
    )
    band = history["forecast"]
    assert len(band["day"]) == seeded_state.manager.forecast_days
    assert set(band["levels"]) == {"0.8", "0.95"}
    for lower, point, upper in zip(band["levels"]["0.95"]["lower"], band["point"],
                                   band["levels"]["0.95"]["upper"], strict=True):  # fmt: skip
        assert lower <= point <= upper


async def test_cost_history_from_the_store_without_a_cost_tracker(seeded_state: Seeded) -> None:
    manager = DashboardManager(store=seeded_state.store)
    history = await manager.get_cost_history(5)
    assert history["source"] == "store" and history["forecast"] is None
    assert len(history["days"]) == 5
    assert sum(history["cost"]) == pytest.approx(
        sum(r.estimated_cost or 0 for r in seeded_state.records), rel=1e-9
    )


async def test_cost_analysis(seeded_state: Seeded) -> None:
    analysis = seeded_state.manager.get_cost_analysis("24h")
    assert analysis["report"]["totals"]["cost"] == pytest.approx(
        sum(r.estimated_cost or 0 for r in seeded_state.records)
    )
    alice = next(b for b in analysis["budgets"] if b["name"] == "alice_monthly")
    assert alice["exceeded"] and alice["in_effect"] and alice["scope"] == "user:alice"
    assert alice["used"] == pytest.approx(alice["spent"] / alice["limit"])
    assert analysis["forecast"]["method"] and analysis["forecast"]["band"]["point"]
    assert analysis["recommendations"] and all("title" in r for r in analysis["recommendations"])
    assert {row["name"] for row in analysis["breakdown"]["users"]} <= set(USERS)
    strict_json(analysis)


async def test_experiments_overview(seeded_state: Seeded) -> None:
    overview = seeded_state.manager.get_experiments()
    found = {x["name"]: x for x in overview["experiments"]}
    assert overview["total"] == 2 and overview["srm_flags"] == 1 and overview["significant"] == 1
    prompt = found["prompt_test"]
    assert prompt["decision"]["status"] == "winner" and prompt["decision"]["winner"] == "detailed"
    detailed = next(v for v in prompt["variants"] if v["name"] == "detailed")
    assert detailed["significant"] and detailed["relative_lift"] > 0
    assert detailed["interval"]["lower"] < detailed["value"] < detailed["interval"]["upper"]
    assert prompt["variants"][0]["is_control"] and prompt["variants"][0]["name"] == "concise"
    model = found["model_test"]
    assert model["srm"]["mismatch"] and model["decision"]["status"] == "sample_ratio_mismatch"
    assert model["decision"]["winner"] is None
    full = seeded_state.manager.get_experiment("prompt_test")
    assert full["summary"]["variants"]["detailed"]["results"] == 600
    with pytest.raises(LookupError):
        seeded_state.manager.get_experiment("nope")
    strict_json(overview)


async def test_alerts_active_recent_and_acknowledge(seeded_state: Seeded) -> None:
    manager = seeded_state.manager
    alerts = await manager.get_alerts()
    assert {a["rule"] for a in alerts["active"]} == {"error rate", "slow p95"}
    assert {a["rule"] for a in alerts["recent"]} >= {"error rate", "slow p95"}
    target = next(a for a in alerts["active"] if a["rule"] == "error rate")
    acknowledged = await manager.acknowledge_alert(target["alert_id"])
    assert acknowledged["acknowledged_at"] is not None and acknowledged["status"] == "firing"
    again = await manager.get_alerts()
    same = next(a for a in again["active"] if a["alert_id"] == target["alert_id"])
    assert same["acknowledged_at"]
    with pytest.raises(LookupError):
        await manager.acknowledge_alert("no-such-alert")
    strict_json(again)


async def test_dashboard_has_every_section(seeded_state: Seeded) -> None:
    everything = await seeded_state.manager.get_dashboard("1h")
    assert set(everything) == {
        "window", "windows", "generated_at", "overview", "timeseries", "costs",
        "cost_history", "routing", "experiments", "alerts", "health",
    }  # fmt: skip
    assert not any(isinstance(v, dict) and "error" in v for v in everything.values())
    assert everything["health"]["components"]["store"]["status"] == "healthy"
    strict_json(everything)


def _routed(records: list[RequestRecord]) -> tuple[list[RequestRecord], list[RequestRecord]]:
    decided = [r for r in records if "route" in r.tags]
    return decided, [r for r in decided if "routed_from" in r.tags]


async def test_routing_decisions_and_saving_from_the_store(seeded_state: Seeded) -> None:
    manager = seeded_state.manager
    view = await manager.get_routing("all")
    decided, routed = _routed(seeded_state.records)
    assert (view["source"], view["records"]) == ("store", len(seeded_state.records))
    assert (view["decisions"], view["routed_calls"]) == (len(decided), len(routed))
    assert view["routed_share"] == pytest.approx(len(routed) / len(decided))
    reasons = {row["route"]: row["calls"] for row in view["by_reason"]}
    assert reasons == Counter(r.tags["route"] for r in decided)
    assert set(reasons) == {"simple:rule:short_prompt", "simple:hint", "complex:rule:tools"}
    assert [row["calls"] for row in view["by_reason"]] == sorted(reasons.values(), reverse=True)
    hint = next(row for row in view["by_reason"] if row["route"] == "simple:hint")
    assert (hint["complexity"], hint["reason"]) == ("simple", "hint")
    models = {row["model"]: row for row in view["by_model"]}
    assert set(models) == {"gpt-4o-mini", "gpt-4o"}
    assert models["gpt-4o-mini"]["routed_calls"] == len(routed)
    assert models["gpt-4o"]["routed_calls"] == 0
    assert models["gpt-4o"]["calls"] == sum(1 for r in decided if r.model_requested == "gpt-4o")

    priced = [r for r in routed if r.success and not r.cached and r.usage is not None]
    pricing = PricingTable.default()
    paid = sum(r.estimated_cost or 0.0 for r in priced)
    capable = sum(pricing.cost("gpt-4o", r.usage) or 0.0 for r in priced if r.usage)
    savings = view["savings"]
    assert savings["routed_calls"] == len(priced) and savings["unpriced_calls"] == 0
    assert savings["cost"] == pytest.approx(paid)
    assert savings["cost_if_capable"] == pytest.approx(capable)
    assert savings["saving"] == pytest.approx(capable - paid) and savings["saving"] > 0
    assert savings["saving_share"] == pytest.approx((capable - paid) / capable)

    hour, day = await manager.get_routing("1h"), await manager.get_routing("24h")
    assert 0 < hour["decisions"] < day["decisions"] < view["decisions"]
    with pytest.raises(ConfigurationError, match="unknown window"):
        await manager.get_routing("3h")
    strict_json(view)


async def test_routing_without_a_store_reads_the_cost_trackers_records(
    seeded_state: Seeded,
) -> None:
    tracker = CostTracker()
    for record in seeded_state.records:
        tracker.observe(record)
    view = await DashboardManager(cost_tracker=tracker).get_routing("all")
    decided, routed = _routed(seeded_state.records)
    assert view["source"] == "cost_tracker"
    assert (view["decisions"], view["routed_calls"]) == (len(decided), len(routed))
    nothing = await DashboardManager().get_routing("all")
    assert (nothing["source"], nothing["decisions"], nothing["routed_share"]) == (None, 0, None)
    assert nothing["by_reason"] == [] and nothing["savings"]["saving"] == 0


class BrokenTracker:
    """A cost tracker whose every call fails, and one that answers with coroutines."""

    budgets = ()

    def get_report(self) -> dict[str, Any]:
        raise RuntimeError("ledger unavailable: sk-live-abcdefghijklmnopqrstuvwxyz")

    def forecast(self, days: int) -> Any:
        async def later() -> None:
            return None

        return later()

    def recommendations(self) -> list[Any]:
        raise RuntimeError("no records")


async def test_a_failing_source_breaks_only_its_section(clock: FakeClock) -> None:
    monitor = MLMonitor(clock=clock)
    monitor.track_request(success=True, latency_ms=100, cost=0.5, model="gpt-4o")
    manager = DashboardManager(monitor=monitor, cost_tracker=BrokenTracker(), clock=clock,
                               store=MemoryEventStore())  # fmt: skip
    everything = await manager.get_dashboard("1h")
    costs = everything["costs"]
    assert "RuntimeError: ledger unavailable" in costs["report"]["error"]
    assert "abcdefghijklmnop" not in costs["report"]["error"]  # shaped like a key: masked
    assert "awaitable" in costs["forecast"]["error"]
    assert "error" in costs["recommendations"]
    assert everything["overview"]["overview"]["total_cost"] == 0.5
    assert everything["health"]["overall_status"] == "healthy"
    strict_json(everything)


def test_nothing_configured_still_answers() -> None:
    manager = DashboardManager()
    assert manager.get_overview()["overview"]["total_requests"] == 0
    health = manager.get_health_check()
    assert health["overall_status"] == "healthy" and health["components"] == {}
    assert manager.get_experiments()["experiments"] == []
    assert manager.get_cost_analysis()["budgets"] == []
