"""When Redis stops answering, the guard enforces budgets on local counters seeded from
the event store (one warning per outage, never unlimited), and goes back to Redis as
soon as it answers, bringing the spend made meanwhile with it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ai.core.clock import FakeClock
from ai.core.guards import PlannedCall
from ai.core.records import Operation, RequestRecord
from ai.errors import BudgetExceededError
from ml_ops.cost_tracker import Budget, CostTracker, RedisSpendCounters
from ml_ops.store import MemoryEventStore
from tests.ml_ops.cost_tracker.records import call
from tests.services.redis_server import RedisServer

HELLO = [{"role": "user", "content": "Hello!"}]


def planned() -> PlannedCall:
    return PlannedCall(
        operation=Operation.CHAT, model="gpt-4o", provider="openai", inputs=HELLO,
        parameters={"max_tokens": 100},
    )  # fmt: skip


def answered(request: PlannedCall, cost: float, at: datetime) -> RequestRecord:
    return replace(call(at=at), request_id=request.request_id, estimated_cost=cost)


async def test_an_outage_falls_back_to_local_counters_and_recovers(
    redis_server: RedisServer, redis_key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = redis_server
    now = datetime.now(UTC).replace(hour=12)
    clock = FakeClock(now)
    store = MemoryEventStore()  # what this process spent before it started, per the store
    await store.append([replace(call(at=now - timedelta(minutes=5)), estimated_cost=0.006)])
    counters = RedisSpendCounters(server.url, prefix=redis_key_prefix, socket_timeout=0.3)
    tracker = CostTracker(store, counters=counters, clock=clock, retry_interval=5.0)
    tracker.add_budget(Budget(name="b", limit=0.01, period="daily", action="refuse"))
    await tracker.restore()
    guard = tracker.guard()

    first = planned()
    await guard.before(first)
    assert tracker.get_budget_status("b", project=False).counters.startswith("redis://")
    await guard.after(first, answered(first, 0.001, clock.now()))
    assert tracker.get_budget_status("b", project=False).spent == pytest.approx(0.007)

    server.stop()
    with caplog.at_level(logging.WARNING, logger="ml_ops.cost_tracker"):
        second, third, fourth = planned(), planned(), planned()
        await guard.before(second)  # 0.007 + 0.00102 <= 0.01
        clock.advance(5)  # Redis is tried again, and still fails: no second warning
        await guard.before(third)  # 0.007 + 2 x 0.00102 <= 0.01
        with pytest.raises(BudgetExceededError, match=r"\$0\.0070 spent and \$0\.0020"):
            await guard.before(fourth)  # never unlimited
        status = tracker.get_budget_status("b", project=False)
        assert "unavailable" in status.counters
        for request in (second, third):
            await guard.after(request, answered(request, 0.001, clock.now()))
    outage_warnings = [r for r in caplog.records if "budgets are enforced on" in r.message]
    assert len(outage_warnings) == 1
    assert tracker.get_budget_status("b", project=False).spent == pytest.approx(0.009)

    server.start()  # an empty Redis: it keeps nothing over a restart
    clock.advance(5)
    with pytest.raises(BudgetExceededError, match=r"\$0\.0090 spent"):
        await guard.before(planned())  # the spend made during the outage reached Redis
    status = tracker.get_budget_status("b", project=False)
    assert status.counters.startswith("redis://") and status.spent == pytest.approx(0.009)
    assert tracker.accounts.open == {}
    await tracker.aclose()


async def test_settles_queued_in_an_outage_reach_redis_once_under_concurrent_calls(
    redis_server: RedisServer, redis_key_prefix: str
) -> None:
    """Many calls arriving together after an outage all flush the queue of settles it
    left: each settle reaches Redis exactly once and no call fails."""
    server = redis_server
    clock = FakeClock(datetime.now(UTC).replace(hour=12))
    counters = RedisSpendCounters(server.url, prefix=redis_key_prefix, socket_timeout=0.3)
    tracker = CostTracker(MemoryEventStore(), counters=counters, clock=clock, retry_interval=5.0)
    tracker.add_budget(Budget(name="b", limit=100.0, period="daily", action="refuse"))
    await tracker.restore()
    guard = tracker.guard()

    server.stop()
    during = [planned() for _ in range(20)]
    for request in during:
        await guard.before(request)
    for request in during:
        await guard.after(request, answered(request, 0.01, clock.now()))

    server.start()
    clock.advance(5)
    after = [planned() for _ in range(30)]
    await asyncio.gather(*(guard.before(request) for request in after))
    await asyncio.gather(
        *(guard.after(request, answered(request, 0.01, clock.now())) for request in after)
    )
    last = planned()  # one more call reads the counter as Redis holds it
    await guard.before(last)
    await guard.after(last, answered(last, 0.01, clock.now()))
    status = tracker.get_budget_status("b", project=False)
    assert status.counters.startswith("redis://")
    assert status.spent == pytest.approx(0.51)  # 51 calls of $0.01, none counted twice
    assert tracker.accounts.open == {}
    await tracker.aclose()
