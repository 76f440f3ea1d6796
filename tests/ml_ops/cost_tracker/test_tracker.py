"""`CostTracker`: the spec's Quick Start lines, the report, forecasts, recommendations,
and spend that survives a restart through the event store."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ai.core.clock import FakeClock
from ai.core.records import RecordBus
from ai.errors import ConfigurationError
from ml_ops.cost_tracker import (
    Budget,
    CostTracker,
    ForecastMethod,
    LocalSpendCounters,
    RecommendationKind,
)
from ml_ops.store import AlertRecord, MemoryEventStore, SQLiteEventStore
from tests.ml_ops.cost_tracker.records import call

GPT_4O_CALL = 0.00225
MINI_CALL = 0.000135  # 500 input and 100 output tokens of gpt-4o-mini
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)

QUICK_START_3_COST_LINES = """
from ml_ops.cost_tracker import CostTracker, Budget

cost_tracker = CostTracker()

# Add budget
cost_tracker.add_budget(Budget(
    name="daily_limit",
    limit=10.0,
    period="daily",
    scope="global",
))

report = cost_tracker.get_report()
"""


def test_quick_start_3_cost_lines_run_as_written() -> None:
    namespace: dict[str, object] = {}
    exec(QUICK_START_3_COST_LINES, namespace)  # noqa: S102 - the spec's own snippet
    report = namespace["report"]
    assert isinstance(report, dict)
    assert report["totals"]["cost"] == 0.0
    assert [b["name"] for b in report["budgets"]] == ["daily_limit"]
    json.dumps(report)


def test_the_report_breaks_spend_down_and_is_plain_json() -> None:
    clock = FakeClock(NOW)
    tracker = CostTracker(clock=clock)
    tracker.add_budget(Budget(name="daily", limit=1.0, period="daily"))
    bus = RecordBus()
    tracker.attach(bus)
    for day in range(3):
        at = NOW - timedelta(days=day)
        bus.emit(call(at=at, user="alice", agent="support"))
        bus.emit(call("gpt-4o-mini", at=at, user="bob", agent="support"))
    cached = dataclasses.replace(call(at=NOW, user="alice", cached=True), saved_cost=GPT_4O_CALL)
    bus.emit(cached)
    bus.emit(dataclasses.replace(call(at=NOW, success=False, user="bob"), estimated_cost=None))
    report = tracker.get_report()
    json.dumps(report)
    totals = report["totals"]
    assert totals["requests"] == 8 and totals["cached"] == 1 and totals["failed"] == 1
    assert totals["cost"] == pytest.approx(3 * (GPT_4O_CALL + MINI_CALL))
    assert totals["cost_per_request"] == pytest.approx(totals["cost"] / 8)
    assert totals["saved_cost"] == pytest.approx(GPT_4O_CALL)
    assert totals["cache_hit_rate"] == pytest.approx(1 / 8)
    assert [row["name"] for row in report["by_model"]] == ["gpt-4o", "gpt-4o-mini"]
    assert report["by_model"][0]["share"] == pytest.approx(GPT_4O_CALL / (GPT_4O_CALL + MINI_CALL))
    assert [row["name"] for row in report["by_user"]] == ["alice", "bob"]
    assert report["by_agent"][0]["name"] == "support"
    assert report["by_provider"][0]["name"] == "openai"
    assert [row["day"] for row in report["by_day"]] == ["2026-03-18", "2026-03-19", "2026-03-20"]
    assert report["top_spenders"]["users"][0] == {
        "name": "alice",
        "cost": pytest.approx(3 * GPT_4O_CALL),
        "share": pytest.approx(GPT_4O_CALL / (GPT_4O_CALL + MINI_CALL)),
        "requests": 4,
    }
    assert report["budgets"][0]["spent"] == pytest.approx(GPT_4O_CALL + MINI_CALL)
    today = tracker.get_report(days=1)
    assert today["window"] == {"first_day": "2026-03-20", "last_day": "2026-03-20", "days": 1}
    assert today["totals"]["requests"] == 4
    with pytest.raises(ConfigurationError, match="days"):
        tracker.get_report(days=0)


def test_forecasts_use_the_days_before_today() -> None:
    clock = FakeClock(NOW)
    tracker = CostTracker(clock=clock)
    empty = tracker.forecast(7)
    assert empty.total == 0.0 and "no spend recorded" in empty.notes[-1]
    for day in range(1, 21):
        for _ in range(4 + day % 7):
            tracker.observe(call(at=NOW - timedelta(days=day)))
    forecast = tracker.forecast(days=7)
    assert forecast.method is ForecastMethod.LINEAR_TREND and forecast.history_days == 20
    assert forecast.days[0].day == NOW.date() and len(forecast.days) == 7
    assert forecast.total > 0
    tracker.add_budget(Budget(name="monthly", limit=1.0, period="monthly"))
    status = tracker.get_budget_status("monthly")
    assert status.projection is not None and status.projection_method == "linear_trend"
    assert status.projected_spend is not None and status.projected_spend > status.spent


def test_recommendations_skip_users_that_have_a_budget() -> None:
    clock = FakeClock(NOW)
    tracker = CostTracker(clock=clock)
    for minute in range(200):
        user = "alice" if minute % 2 else "bob"
        tracker.observe(call(at=NOW - timedelta(minutes=minute), user=user))
    found = tracker.recommendations()
    kinds = {r.kind for r in found}
    assert RecommendationKind.CHEAPER_MODEL in kinds
    assert {r.evidence["scope"] for r in found if r.kind is RecommendationKind.MISSING_BUDGET} == {
        "user:alice",
        "user:bob",
    }
    tracker.add_budget(Budget(name="alice", limit=5, scope="user", scope_value="alice"))
    budgets = [r for r in tracker.recommendations() if r.kind is RecommendationKind.MISSING_BUDGET]
    assert [r.evidence["scope"] for r in budgets] == ["user:bob"]
    assert CostTracker(clock=clock).recommendations() == []


async def test_spend_and_fired_alerts_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    clock = FakeClock(NOW)
    budget = Budget(name="daily", limit=10 * GPT_4O_CALL, period="daily")
    first: list[AlertRecord] = []
    async with SQLiteEventStore(path) as store:
        tracker = CostTracker(store, clock=clock, handlers=[first.append])
        tracker.add_budget(budget)
        records = [call(at=NOW - timedelta(minutes=i)) for i in range(9)]
        records.append(call(at=NOW - timedelta(days=1)))  # yesterday: another period
        await store.append(records)
        for record in records:
            tracker.observe(record)
        await tracker.flush()
    assert [a.labels["fraction"] for a in first] == ["0.8"]

    second: list[AlertRecord] = []
    async with SQLiteEventStore(path) as store:
        restarted = CostTracker(store, clock=clock, handlers=[second.append])
        restarted.add_budget(budget)
        assert await restarted.restore() == 10
        status = restarted.get_budget_status("daily")
        assert status.spent == pytest.approx(9 * GPT_4O_CALL)
        assert status.alerts_fired == (0.8,)
        restarted.observe(call(at=NOW))
        await restarted.flush()
        assert [a.labels["fraction"] for a in second] == ["1"]  # 0.8 is not repeated
        assert restarted.get_report()["totals"]["requests"] == 11
        # A budget added after the restore counts the period's spend so far.
        restarted.add_budget(Budget(name="late", limit=1.0, period="weekly"))
        assert restarted.get_budget_status("late").spent == pytest.approx(11 * GPT_4O_CALL)


async def test_a_budget_added_mid_period_reads_the_store_when_first_needed() -> None:
    clock = FakeClock(NOW)
    store = MemoryEventStore()
    await store.append([call(at=NOW - timedelta(hours=h), user="alice") for h in range(5)])
    tracker = CostTracker(store, clock=clock)  # never restored
    tracker.add_budget(Budget(name="alice", limit=1, period="daily", scope="user",
                              scope_value="alice", tag=None))  # fmt: skip
    assert tracker.get_budget_status("alice").spent == 0.0
    [status] = await tracker.refresh_budgets()
    assert status.spent == pytest.approx(5 * GPT_4O_CALL)


async def test_records_pruned_into_rollups_still_count(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    async with SQLiteEventStore(tmp_path / "events.db") as store:
        await store.append([call(at=NOW - timedelta(days=2, minutes=i)) for i in range(4)])
        await store.append([call(at=NOW - timedelta(minutes=i)) for i in range(2)])
        await store.apply_retention(keep_raw_until=NOW - timedelta(days=1))
        tracker = CostTracker(store, clock=clock)
        tracker.add_budget(Budget(name="weekly", limit=1.0, period="weekly"))
        assert await tracker.restore() == 2
    report = tracker.get_report()
    assert report["totals"]["requests"] == 6
    assert report["totals"]["cost"] == pytest.approx(6 * GPT_4O_CALL)
    assert tracker.get_budget_status("weekly").spent == pytest.approx(6 * GPT_4O_CALL)


async def test_a_tagged_budget_warns_when_retention_rolled_up_part_of_its_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Roll-ups keep no tags: a tagged budget cannot count the spend retention rolled up.
    async with SQLiteEventStore(tmp_path / "events.db") as store:
        await store.append(
            [call(at=NOW - timedelta(days=d), tags={"team": "x"}) for d in range(10)]
        )
        await store.apply_retention(keep_raw_until=NOW - timedelta(days=3, hours=1))  # 6 of 10
        budgets = [
            Budget(name="team", limit=1.0, tag="team=x", action="refuse"),  # monthly
            Budget(name="all", limit=1.0),  # counts roll-ups: no warning
            Budget(name="team-today", limit=1.0, period="daily", tag="team=x"),  # all raw
        ]
        with caplog.at_level(logging.WARNING, logger="ml_ops.cost_tracker"):
            tracker = CostTracker(store, clock=FakeClock(NOW))
            for budget in budgets:
                tracker.add_budget(budget)
            await tracker.restore()
            assert tracker.get_budget_status("team").spent == pytest.approx(4 * GPT_4O_CALL)
            assert tracker.get_budget_status("all").spent == pytest.approx(10 * GPT_4O_CALL)
            restored = [r.getMessage() for r in caplog.records]
            caplog.clear()
            late = CostTracker(store, clock=FakeClock(NOW))  # added after start: read lazily
            late.add_budget(budgets[0])
            await late.refresh_budgets()
            added = [r.getMessage() for r in caplog.records]
    for warnings in (restored, added):
        [warning] = warnings
        assert "budget 'team' (tag team=x) may under-count its monthly period" in warning
        assert f"rolled up ${6 * GPT_4O_CALL:.4f} of its scope's spend" in warning
        assert "RetentionPolicy.raw_days" in warning


def test_construction_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        CostTracker(tz="Mars/Olympus")
    with pytest.raises(ConfigurationError, match="history_days"):
        CostTracker(history_days=0)
    tracker = CostTracker(counters=LocalSpendCounters())
    tracker.add_budget(Budget(name="b", limit=1))
    with pytest.raises(ConfigurationError, match="exists"):
        tracker.add_budget(Budget(name="b", limit=2))
    with pytest.raises(ConfigurationError, match="no budget named 'x'"):
        tracker.get_budget_status("x")
    restoring = tracker.restore()
    with pytest.raises(ConfigurationError, match="no event store"):
        asyncio.run(restoring)
    assert "1 budgets, counters=local" in repr(tracker)
