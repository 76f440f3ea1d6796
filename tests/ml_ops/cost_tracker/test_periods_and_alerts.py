"""Budget periods really reset (day, week, month, across clock changes) on an injected
clock, and each alert fraction fires once per period through the alert handlers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.core.clock import FakeClock
from ai.core.guards import PlannedCall
from ai.core.records import Operation, RequestRecord
from ml_ops.cost_tracker import Budget, CostTracker, RedisSpendCounters
from ml_ops.monitoring import LogAlertHandler, MLMonitor
from ml_ops.store import AlertRecord, AlertStatus, MemoryEventStore
from tests.ml_ops.cost_tracker.records import call

GPT_4O_CALL = 0.00225  # 500 input and 100 output tokens of gpt-4o


def spend(tracker: CostTracker, clock: FakeClock, calls: int, **labels: object) -> None:
    for _ in range(calls):
        tracker.observe(call(at=clock.now(), **labels))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("period", "start", "step", "before", "after"),
    [
        # a day: the period ends at midnight
        ("daily", datetime(2026, 3, 2, 22, tzinfo=UTC), timedelta(hours=2),
         "daily:2026-03-02@UTC", "daily:2026-03-03@UTC"),
        # a week: Sunday night to Monday
        ("weekly", datetime(2026, 3, 8, 23, tzinfo=UTC), timedelta(hours=1),
         "weekly:2026-03-02@UTC", "weekly:2026-03-09@UTC"),
        # a month: the 31st to the 1st
        ("monthly", datetime(2026, 3, 31, 23, 30, tzinfo=UTC), timedelta(hours=1),
         "monthly:2026-03@UTC", "monthly:2026-04@UTC"),
    ],
)  # fmt: skip
def test_a_period_resets_at_its_end(
    period: str, start: datetime, step: timedelta, before: str, after: str
) -> None:
    clock = FakeClock(start)
    tracker = CostTracker(clock=clock)
    tracker.add_budget(Budget(name="b", limit=1.0, period=period))
    spend(tracker, clock, 4)
    status = tracker.get_budget_status("b")
    assert status.period_key == before
    assert status.spent == pytest.approx(4 * GPT_4O_CALL)
    clock.advance(step.total_seconds())
    fresh = tracker.get_budget_status("b")
    assert fresh.period_key == after and fresh.spent == 0.0
    assert fresh.period_start == status.period_end
    spend(tracker, clock, 1)
    assert tracker.get_budget_status("b").spent == pytest.approx(GPT_4O_CALL)


def paid(at: datetime, cost: float) -> RequestRecord:
    return dataclasses.replace(call(at=at), estimated_cost=cost)


async def test_the_first_record_of_a_new_period_counts_once() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
    received: list[AlertRecord] = []
    tracker = CostTracker(clock=clock, handlers=[received.append])
    tracker.add_budget(Budget(name="d", limit=1.0, period="daily"))
    tracker.observe(paid(clock.now(), 1.0))
    clock.advance(24 * 3600)  # nothing looks at the tracker before the next record
    tracker.observe(paid(clock.now(), 0.5))
    await tracker.flush()
    assert tracker.get_budget_status("d").spent == 0.5
    assert tracker.get_report(days=1)["totals"]["cost"] == 0.5
    firing = [a.labels["period_key"] for a in received if a.status is AlertStatus.FIRING]
    assert firing == ["daily:2026-03-02@UTC", "daily:2026-03-02@UTC"]  # none early on the 3rd


async def test_the_first_record_of_a_new_period_counts_once_in_redis(
    redis_url: str, redis_key_prefix: str
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
    counters = RedisSpendCounters(redis_url, prefix=redis_key_prefix)
    tracker = CostTracker(clock=clock, counters=counters)
    tracker.add_budget(Budget(name="m", limit=100.0, period="monthly"))
    tracker.observe(paid(clock.now(), 1.0))
    await tracker.flush()
    clock.advance(31 * 24 * 3600)  # 2 April
    tracker.observe(paid(clock.now(), 1.0))
    await tracker.flush()
    [status] = await tracker.refresh_budgets(project=False)
    assert status.period_key == "monthly:2026-04@UTC" and status.spent == 1.0
    await tracker.aclose()


steps = st.lists(
    st.tuples(
        st.integers(0, 9 * 24 * 3600),  # seconds the clock moves before the record
        st.integers(0, 2 * 24 * 3600),  # how late the record arrives
        st.integers(0, 500),  # its cost in cents
        st.booleans(),  # whether something reads the budgets before it arrives
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(steps=steps, tz=st.sampled_from(["UTC", "America/New_York", "Australia/Lord_Howe"]))
def test_each_budget_counts_exactly_the_records_of_its_current_period(
    steps: list[tuple[int, int, int, bool]], tz: str
) -> None:
    clock = FakeClock(datetime(2026, 1, 30, 12, tzinfo=UTC))
    tracker = CostTracker(clock=clock, tz=tz)
    for period in ("daily", "weekly", "monthly"):
        tracker.add_budget(Budget(name=period, limit=1000.0, period=period))
    seen: list[RequestRecord] = []
    for advance, late, cents, look in steps:
        clock.advance(advance)
        if look:
            tracker.budget_statuses(project=False)
        record = paid(clock.now() - timedelta(seconds=late), cents / 100)
        tracker.observe(record)
        seen.append(record)
        for status in tracker.budget_statuses(project=False):
            inside = [
                r.estimated_cost or 0.0
                for r in seen
                if status.period_start <= r.timestamp < status.period_end
            ]
            assert status.spent == pytest.approx(sum(inside), abs=1e-9), status.name


def test_a_daily_period_follows_the_clock_changes_of_its_time_zone() -> None:
    # 2026-03-08 in New York lasts 23 hours: 05:00 UTC to 04:00 UTC the next day.
    clock = FakeClock(datetime(2026, 3, 8, 6, tzinfo=UTC))
    tracker = CostTracker(clock=clock, tz="America/New_York")
    tracker.add_budget(Budget(name="b", limit=1.0, period="daily"))
    spend(tracker, clock, 2)
    status = tracker.get_budget_status("b")
    assert (status.period_start, status.period_end) == (
        datetime(2026, 3, 8, 5, tzinfo=UTC),
        datetime(2026, 3, 9, 4, tzinfo=UTC),
    )
    clock.advance(21.5 * 3600)  # 03:30 UTC on the 9th: 23:30 EDT, still the 8th
    assert tracker.get_budget_status("b").spent == pytest.approx(2 * GPT_4O_CALL)
    clock.advance(3600)  # 00:30 EDT on the 9th
    status = tracker.get_budget_status("b")
    assert status.period_key == "daily:2026-03-09@America/New_York" and status.spent == 0.0
    # ...and 2026-11-01 lasts 25 hours when the clocks go back.
    clock = FakeClock(datetime(2026, 11, 1, 12, tzinfo=UTC))
    tracker = CostTracker(clock=clock, tz="America/New_York")
    tracker.add_budget(Budget(name="b", limit=1.0, period="daily"))
    status = tracker.get_budget_status("b")
    assert status.period_end - status.period_start == timedelta(hours=25)


async def test_each_alert_fraction_fires_once_per_period() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    received: list[AlertRecord] = []
    store = MemoryEventStore()
    tracker = CostTracker(store, clock=clock, handlers=[received.append])
    tracker.add_budget(Budget(name="daily", limit=10 * GPT_4O_CALL, period="daily"))
    spend(tracker, clock, 7)
    await tracker.flush()
    assert received == []
    spend(tracker, clock, 1)  # 80%
    spend(tracker, clock, 1)  # 90%: nothing new
    await tracker.flush()
    assert [a.labels["fraction"] for a in received] == ["0.8"]
    spend(tracker, clock, 5)  # 100% and beyond: 1.0 fires once
    await tracker.flush()
    assert [a.labels["fraction"] for a in received] == ["0.8", "1"]
    first, second = received
    assert first.severity == "warning" and second.severity == "critical"
    assert first.status is AlertStatus.FIRING and first.rule == "budget:daily"
    assert "Budget 'daily' (global) has used 80% of its limit" in first.message
    assert "resets 2026-03-03T00:00:00+00:00" in first.message
    assert tracker.get_budget_status("daily").alerts_fired == (0.8, 1.0)
    stored = {a.alert_id: a for a in await store.alerts()}
    assert set(stored) == {"budget:daily:daily:2026-03-02@UTC:0.8",
                           "budget:daily:daily:2026-03-02@UTC:1"}  # fmt: skip

    clock.advance(24 * 3600)  # the next day: both resolve, and may fire again
    spend(tracker, clock, 8)
    await tracker.flush()
    resolved = [a for a in received if a.status is AlertStatus.RESOLVED]
    assert sorted(a.labels["fraction"] for a in resolved) == ["0.8", "1"]
    assert all(a.resolved_at == clock.now() for a in resolved)
    assert [a.labels["period_key"] for a in received if a.status is AlertStatus.FIRING] == [
        "daily:2026-03-02@UTC", "daily:2026-03-02@UTC", "daily:2026-03-03@UTC",
    ]  # fmt: skip
    assert (await store.alerts(status=AlertStatus.RESOLVED))[0].resolved_at == clock.now()


async def test_a_call_settled_after_midnight_alerts_for_the_day_it_was_admitted() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC))
    received: list[AlertRecord] = []
    store = MemoryEventStore()
    tracker = CostTracker(store, clock=clock, handlers=[received.append])
    tracker.add_budget(Budget(name="d", limit=1.0, period="daily"))
    tracker.observe(paid(clock.now(), 0.7))
    guard = tracker.guard()
    planned = PlannedCall(
        operation=Operation.CHAT, model="gpt-4o", provider="openai",
        inputs=[{"role": "user", "content": "hi"}], parameters={"max_tokens": 10},
    )  # fmt: skip
    await guard.before(planned)
    admitted = clock.now()
    clock.advance(2)  # 00:00:01 on 3 March
    settled = dataclasses.replace(paid(admitted, 0.2), request_id=planned.request_id)
    await guard.after(planned, settled)
    await tracker.flush()
    seen = [(a.status, a.labels["period_key"], a.value) for a in received]
    assert seen == [
        (AlertStatus.FIRING, "daily:2026-03-02@UTC", pytest.approx(0.9)),
        (AlertStatus.RESOLVED, "daily:2026-03-02@UTC", None),  # that day is over
    ]
    assert "resets 2026-03-03T00:00:00+00:00" in received[0].message
    status = tracker.get_budget_status("d")
    assert status.spent == 0.0 and status.alerts_fired == ()
    stored = {a.alert_id: a.status for a in await store.alerts()}
    assert stored == {"budget:d:daily:2026-03-02@UTC:0.8": AlertStatus.RESOLVED}

    received.clear()
    tracker.observe(paid(clock.now(), 0.85))  # 3 March's own crossing fires
    await tracker.flush()
    assert [(a.status, a.labels["period_key"]) for a in received] == [
        (AlertStatus.FIRING, "daily:2026-03-03@UTC")
    ]


async def test_alerts_go_to_a_given_monitors_handlers_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    monitor = MLMonitor(clock=clock)
    seen: list[AlertRecord] = []
    monitor.add_handler(seen.append)
    monitor.add_handler(LogAlertHandler())

    async def broken(alert: AlertRecord) -> None:
        raise RuntimeError("handler down")

    tracker = CostTracker(clock=clock, monitor=monitor, handlers=[broken])
    tracker.add_budget(Budget(name="b", limit=GPT_4O_CALL, alert_fractions=[1.0]))
    with caplog.at_level(logging.WARNING):
        spend(tracker, clock, 1)
        await tracker.flush()
    assert [a.rule for a in seen] == ["budget:b"]
    assert "handler down" in caplog.text  # logged; the others still ran
    assert any("alert firing [critical]" in r.getMessage() for r in caplog.records)


def test_without_an_event_loop_alerts_wait_for_flush() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    received: list[AlertRecord] = []
    tracker = CostTracker(clock=clock, handlers=[received.append])
    tracker.add_budget(Budget(name="b", limit=GPT_4O_CALL))
    spend(tracker, clock, 2)
    assert received == []
    asyncio.run(tracker.flush())
    assert [a.labels["fraction"] for a in received] == ["0.8", "1"]
    assert len(tracker.alerts_sent) == 2


def test_a_record_counts_once_and_only_in_budgets_covering_it() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    tracker = CostTracker(clock=clock)
    tracker.add_budget(Budget(name="alice", limit=1, scope="user", scope_value="alice"))
    tracker.add_budget(Budget(name="mini", limit=1, scope="model", scope_value="gpt-4o-mini"))
    tracker.add_budget(Budget(name="search", limit=1, tag="team=search"))
    record = call(at=clock.now(), user="alice", tags={"team": "search"})
    assert tracker.observe(record)
    assert not tracker.observe(record)  # the same request id again
    assert tracker.get_budget_status("alice").spent == pytest.approx(GPT_4O_CALL)
    assert tracker.get_budget_status("search").spent == pytest.approx(GPT_4O_CALL)
    assert tracker.get_budget_status("mini").spent == 0.0


def test_a_budget_added_mid_period_counts_the_spend_seen_so_far() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    tracker = CostTracker(clock=clock)
    spend(tracker, clock, 3, user="alice")
    spend(tracker, clock, 2, user="bob", tags={"team": "search"})
    tracker.add_budget(Budget(name="all", limit=1, period="daily"))
    tracker.add_budget(Budget(name="alice", limit=1, scope="user", scope_value="alice"))
    tracker.add_budget(Budget(name="search", limit=1, tag="team=search"))
    assert tracker.get_budget_status("all").spent == pytest.approx(5 * GPT_4O_CALL)
    assert tracker.get_budget_status("alice").spent == pytest.approx(3 * GPT_4O_CALL)
    assert tracker.get_budget_status("search").spent == pytest.approx(2 * GPT_4O_CALL)
    removed = tracker.remove_budget("alice")
    assert removed.name == "alice" and [b.name for b in tracker.budgets] == ["all", "search"]
