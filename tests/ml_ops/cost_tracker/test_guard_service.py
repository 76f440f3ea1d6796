"""`BudgetGuard` end to end through `LLMService` against the loopback fake: refusals
before any provider request, downgrades the fake sees, alert-only budgets, and every
reservation settled once (success, failure, cancellation)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ai.accounting.model_price import ModelPrice
from ai.accounting.pricing import PricingTable
from ai.core.clock import FakeClock
from ai.core.guards import PlannedCall
from ai.core.records import GuardAction, Operation, Outcome, RequestRecord
from ai.errors import BudgetExceededError, ProviderError
from ai.llm_service import LLMService
from ai.rag import EmbeddingService
from ai.testing import FakeProviderServer, Fault
from ml_ops.cost_tracker import Budget, CostTracker, RedisSpendCounters, worst_case_cost
from ml_ops.store import MemoryEventStore
from tests.ai.provider_configs import TEST_KEY, anthropic_config, openai_config

HELLO = [{"role": "user", "content": "Hello!"}]
START = datetime(2026, 3, 2, 18, tzinfo=UTC)  # six hours before the daily reset
PRICING = PricingTable.default()


def worst(model: str = "gpt-4o", max_tokens: int = 50) -> float:
    call = PlannedCall(
        operation=Operation.CHAT, model=model, provider="openai", inputs=HELLO,
        parameters={"max_tokens": max_tokens},
    )  # fmt: skip
    cost = worst_case_cost(call, PRICING).cost
    assert cost is not None
    return cost


def service(fake: FakeProviderServer, tracker: CostTracker, **config: object) -> LLMService:
    settings: dict[str, object] = {"model": "gpt-4o", "max_tokens": 50, "max_retries": 0}
    settings.update(config)
    return LLMService(
        openai_config(fake, **settings), guards=[tracker.guard()], clock=tracker.clock
    )


async def test_a_refusal_comes_before_any_provider_request(fake: FakeProviderServer) -> None:
    tracker = CostTracker(clock=FakeClock(START))
    tracker.add_budget(Budget(name="daily", limit=worst() * 0.5, period="daily", action="refuse"))
    records: list[RequestRecord] = []
    async with service(fake, tracker) as llm:
        llm.subscribe(records.append)
        with pytest.raises(BudgetExceededError) as caught:
            await llm.complete(HELLO)
    assert fake.requests == []
    [record] = records
    assert record.outcome is Outcome.REFUSED
    assert record.guard_decisions[0].guard == "budget"
    assert record.guard_decisions[0].action is GuardAction.REFUSE
    error = caught.value
    assert error.guard == "budget" and error.retry_after == 6 * 3600
    text = str(error)
    assert "Budget 'daily' (global, daily) refuses this call" in text
    assert "$0.0000 spent" in text and "resets at 2026-03-03T00:00:00+00:00" in text
    assert tracker.get_budget_status("daily").reserved == 0.0


async def test_calls_are_admitted_until_the_next_could_pass_the_limit(
    fake: FakeProviderServer,
) -> None:
    tracker = CostTracker(clock=FakeClock(START))
    limit = worst() * 4.5
    tracker.add_budget(Budget(name="daily", limit=limit, period="daily", action="refuse"))
    answered: list[float] = []
    async with service(fake, tracker) as llm:
        tracker.attach(llm.bus)
        refused = None
        while refused is None and len(answered) < 100:
            try:
                _, stats = await llm.complete(HELLO)
            except BudgetExceededError as error:
                refused = error
            else:
                answered.append(stats.estimated_cost or 0.0)
    assert refused is not None
    status = tracker.get_budget_status("daily")
    assert status.spent == pytest.approx(sum(answered), abs=1e-9)
    assert status.spent <= limit and status.spent + worst() > limit
    assert status.reserved == 0.0 and status.in_effect is False
    assert len(fake.requests) == len(answered) >= 5  # actual costs sit below the worst case


async def test_downgrade_sends_the_cheaper_model_and_the_record_says_so(
    fake: FakeProviderServer,
) -> None:
    clock = FakeClock(START)
    tracker = CostTracker(clock=clock)
    tracker.add_budget(
        Budget(name="team", limit=0.01, period="daily", action="downgrade", downgrade_from=0.6)
    )
    records: list[RequestRecord] = []
    async with service(fake, tracker) as llm:
        llm.subscribe(records.append)
        await llm.complete(HELLO)
        for _ in range(3):  # 0.0066 of 0.01: past 60%
            tracker.observe(_paid_record(clock, 0.0022))
        await llm.complete(HELLO)
    assert [r.model for r in fake.requests] == ["gpt-4o", "gpt-4o-mini"]
    first, second = records
    assert first.guard_decisions == ()
    assert second.model_requested == "gpt-4o" and second.model == "gpt-4o-mini"
    [decision] = second.guard_decisions
    assert decision.action is GuardAction.REWRITE
    assert decision.changes == {"model": ("gpt-4o", "gpt-4o-mini")}
    assert tracker.get_budget_status("team").in_effect


async def test_a_named_downgrade_target_is_used(fake: FakeProviderServer) -> None:
    clock = FakeClock(START)
    tracker = CostTracker(clock=clock)
    tracker.add_budget(
        Budget(name="b", limit=0.01, action="downgrade", downgrade_to="gpt-4.1-nano")
    )
    tracker.observe(_paid_record(clock, 0.0095))
    async with service(fake, tracker) as llm:
        _, stats = await llm.complete(HELLO)
    assert stats.model == "gpt-4.1-nano" and fake.requests[0].model == "gpt-4.1-nano"


async def test_alert_budgets_never_refuse(fake: FakeProviderServer) -> None:
    tracker = CostTracker(clock=FakeClock(START))
    tracker.add_budget(Budget(name="watch", limit=1e-6, period="daily"))
    async with service(fake, tracker) as llm:
        for _ in range(3):
            await llm.complete(HELLO)
        await tracker.flush()
    status = tracker.get_budget_status("watch")
    assert status.spent > status.limit and status.in_effect
    assert [a.labels["fraction"] for a in tracker.alerts_sent] == ["0.8", "1"]


async def test_failed_and_cancelled_calls_release_their_reservation(
    fake: FakeProviderServer,
) -> None:
    tracker = CostTracker(clock=FakeClock(START))
    tracker.add_budget(Budget(name="b", limit=1.0, action="refuse"))
    fake.faults.push(Fault.server_error(500))
    async with service(fake, tracker) as llm:
        with pytest.raises(ProviderError):
            await llm.complete(HELLO)
        assert tracker.get_budget_status("b", project=False).reserved == 0.0
        fake.faults.push(Fault.slow_first_byte(5.0))
        task = asyncio.ensure_future(llm.complete(HELLO))
        await _until(lambda: len(fake.requests) == 2)
        assert tracker.get_budget_status("b", project=False).reserved == pytest.approx(worst())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    status = tracker.get_budget_status("b", project=False)
    assert status.reserved == 0.0 and status.spent == 0.0
    assert tracker.accounts.open == {}


async def test_a_call_cancelled_while_redis_does_not_answer_leaves_one_record(
    fake: FakeProviderServer,
) -> None:
    # A Redis that accepts connections and never answers (hung, not dead): the caller's
    # deadline ends the call while the guard still waits for its reservation.
    with socket.create_server(("127.0.0.1", 0)) as hung:
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        tracker = CostTracker(counters=RedisSpendCounters(url, socket_timeout=30.0))
        tracker.add_budget(Budget(name="b", limit=1.0, action="refuse"))
        records: list[RequestRecord] = []
        async with service(fake, tracker) as llm:
            llm.subscribe(records.append)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(llm.complete(HELLO), 0.2)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(llm.stream(HELLO).collect(), 0.2)
        await tracker.aclose()
    assert [r.outcome for r in records] == [Outcome.CANCELLED, Outcome.CANCELLED]
    assert [r.streamed for r in records] == [False, True]
    assert fake.requests == []


async def test_a_call_on_an_unpriced_model_reserves_nothing_and_warns_once(
    fake: FakeProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    only_4o = PricingTable({"gpt-4o": ModelPrice(input=2.5, output=10.0)})
    tracker = CostTracker(clock=FakeClock(START), pricing=only_4o)
    tracker.add_budget(Budget(name="b", limit=1e-9, action="refuse"))
    with caplog.at_level(logging.WARNING, logger="ml_ops.cost_tracker"):
        async with service(fake, tracker, model="gpt-4o-mini") as llm:
            tracker.attach(llm.bus)
            await llm.complete(HELLO)  # reserves 0 <= limit: admitted, and costs more
            with pytest.raises(BudgetExceededError):
                await llm.complete(HELLO)  # spent > limit now: nothing fits
    warnings = [r for r in caplog.records if "no price for model 'gpt-4o-mini'" in r.message]
    assert len(warnings) == 1
    assert tracker.get_budget_status("b").spent > 1e-9


async def test_the_guard_alone_feeds_the_report(fake: FakeProviderServer) -> None:
    tracker = CostTracker(clock=FakeClock(START))
    tracker.add_budget(Budget(name="b", limit=1.0))
    async with service(fake, tracker) as llm:
        _, stats = await llm.complete(HELLO, user="alice")
    report = tracker.get_report()
    assert report["totals"]["requests"] == 1
    assert report["by_user"][0]["name"] == "alice"
    assert report["totals"]["cost"] == pytest.approx(stats.estimated_cost)
    assert tracker.guard() is tracker.guard()


async def test_scoped_budgets_cover_only_their_calls(fake: FakeProviderServer) -> None:
    tracker = CostTracker(clock=FakeClock(START))
    tracker.add_budget(
        Budget(name="bob", limit=1e-9, scope="user", scope_value="bob", action="refuse")
    )
    async with service(fake, tracker) as llm:
        await llm.complete(HELLO, user="alice")
        with pytest.raises(BudgetExceededError, match="Budget 'bob' \\(user:bob, monthly\\)"):
            await llm.complete(HELLO, user="bob")
    assert len(fake.requests) == 1


async def test_streams_and_embeddings_are_settled_too(fake: FakeProviderServer) -> None:
    clock = FakeClock(START)
    tracker = CostTracker(clock=clock)
    tracker.add_budget(Budget(name="b", limit=1.0, action="downgrade", downgrade_from=0.5))
    tracker.observe(_paid_record(clock, 0.6))  # past 50%: chat calls are downgraded
    async with service(fake, tracker) as llm:
        stream = llm.stream(HELLO)
        text = "".join([delta async for delta in stream])
    assert text and stream.stats is not None and stream.stats.model == "gpt-4o-mini"
    async with EmbeddingService(
        api_key=TEST_KEY,
        base_url=fake.openai_base_url,
        guards=[tracker.guard()],
        cache=False,
        clock=clock,
    ) as embeddings:
        await embeddings.embed(["alpha", "beta"])  # never redirected
    assert [r.model for r in fake.requests] == ["gpt-4o-mini", "text-embedding-3-small"]
    status = tracker.get_budget_status("b", project=False)
    assert status.reserved == 0.0 and status.spent > 0.6
    assert tracker.get_report()["totals"]["requests"] == 3


async def test_a_fallback_call_counts_against_the_model_that_answered(
    fake: FakeProviderServer,
) -> None:
    store = MemoryEventStore()
    tracker = CostTracker(store, clock=FakeClock(START))
    tracker.add_budget(Budget(name="all", limit=1.0, action="refuse"))
    tracker.add_budget(
        Budget(name="4o", limit=1.0, scope="model", scope_value="gpt-4o", action="refuse")
    )
    mini_limit = worst("gpt-4o-mini") * 1.2  # room for one call's worst case, not two
    tracker.add_budget(
        Budget(name="mini", limit=mini_limit, scope="model", scope_value="gpt-4o-mini",
               action="refuse")
    )  # fmt: skip
    fake.faults.add(Fault.server_error(500), model="gpt-4o")
    records: list[RequestRecord] = []
    async with service(fake, tracker, fallback_models=["gpt-4o-mini"]) as llm:
        llm.subscribe(records.append)
        _, stats = await llm.complete(HELLO)
        assert stats.model == "gpt-4o-mini" and stats.estimated_cost
        cost = stats.estimated_cost
        statuses = tracker.budget_statuses(project=False)
        assert {s.name: s.spent for s in statuses} == pytest.approx(
            {"all": cost, "4o": 0.0, "mini": cost}
        )
        assert [s.reserved for s in statuses] == [0.0, 0.0, 0.0]
        # The fallback was admitted on gpt-4o's reservation; its spend now counts in
        # mini's refuse budget, which refuses a call whose worst case no longer fits.
        with pytest.raises(BudgetExceededError, match="Budget 'mini'"):
            await llm.complete(HELLO, model="gpt-4o-mini")
    await store.append(records)
    restarted = CostTracker(store, clock=FakeClock(START))
    for budget in tracker.budgets:
        restarted.add_budget(budget)
    await restarted.restore()
    after_restart = {s.name: s.spent for s in restarted.budget_statuses(project=False)}
    assert after_restart == pytest.approx({"all": cost, "4o": 0.0, "mini": cost})


async def test_a_thinking_call_reserves_the_output_limit_it_is_sent_with(
    fake: FakeProviderServer,
) -> None:
    # A thinking budget raises the default limit (4,096) above it: 8,000 + 4,096 are sent.
    sonnet = "claude-sonnet-4-20250514"
    sent = worst(sonnet, max_tokens=8000 + 4096)
    tracker = CostTracker(clock=FakeClock(START))
    tracker.add_budget(Budget(name="daily", limit=sent * 0.99, period="daily", action="refuse"))
    config = anthropic_config(fake, model=sonnet, max_retries=0)
    async with LLMService(config, guards=[tracker.guard()], clock=tracker.clock) as llm:
        with pytest.raises(BudgetExceededError, match="could cost up to"):
            await llm.complete(HELLO, thinking_budget=8000)  # fitted 4,096 would: 3x less
        assert fake.requests == []
        tracker.remove_budget("daily")
        tracker.add_budget(Budget(name="daily", limit=sent, period="daily", action="refuse"))
        await llm.complete(HELLO, thinking_budget=8000)
    assert fake.requests[0].body["max_tokens"] == 8000 + 4096


@pytest.mark.parametrize("counters", ["local", "redis"])
async def test_a_fallback_settle_moves_the_spend_in_every_kind_of_counters(
    counters: str, request: pytest.FixtureRequest
) -> None:
    shared = None
    if counters == "redis":
        url, prefix = (request.getfixturevalue(f) for f in ("redis_url", "redis_key_prefix"))
        shared = RedisSpendCounters(url, prefix=prefix)
    clock = FakeClock(START)
    tracker = CostTracker(clock=clock, counters=shared)
    tracker.add_budget(Budget(name="all", limit=1.0, action="refuse"))
    for model in ("gpt-4o", "gpt-4o-mini"):
        tracker.add_budget(Budget(name=model, limit=1.0, scope="model", scope_value=model))
    guard = tracker.guard()
    call = PlannedCall(
        operation=Operation.CHAT, model="gpt-4o", provider="openai", inputs=HELLO,
        parameters={"max_tokens": 50},
    )  # fmt: skip
    await guard.before(call)
    answered = dataclasses.replace(
        _paid_record(clock, 0.25, "gpt-4o-mini"),
        request_id=call.request_id, model_requested="gpt-4o", fallback_used=True,
    )  # fmt: skip
    await guard.after(call, answered)
    statuses = await tracker.refresh_budgets(project=False)
    assert [(s.name, s.spent, s.reserved) for s in statuses] == [
        ("all", 0.25, 0.0), ("gpt-4o", 0.0, 0.0), ("gpt-4o-mini", 0.25, 0.0),
    ]  # fmt: skip
    await tracker.aclose()


def test_the_worst_case_counts_prompt_and_max_tokens_at_the_dearest_prices() -> None:
    call = PlannedCall(
        operation=Operation.CHAT, model="gpt-4o", provider="openai", inputs=HELLO,
        parameters={"max_tokens": 100},
    )  # fmt: skip
    case = worst_case_cost(call, PRICING)
    price = PRICING.get("gpt-4o")
    assert price is not None and case.output_tokens == 100 and not case.estimated
    assert case.cost == pytest.approx((case.input_tokens * price.input + 100 * price.output) / 1e6)
    with_tools = worst_case_cost(
        call.with_parameters(tools=[{"type": "function", "function": {"name": "lookup"}}]),
        PRICING,
    )
    assert with_tools.input_tokens > case.input_tokens and with_tools.estimated
    default = worst_case_cost(call.with_parameters(max_tokens=None), PRICING, default_max_tokens=7)
    assert default.output_tokens == 7
    claude = worst_case_cost(call.replace(model="claude-3-5-haiku-20241022"), PRICING)
    assert claude.estimated and claude.input_tokens > case.input_tokens  # a margin on estimates
    texts = PlannedCall(
        operation=Operation.EMBEDDING, model="text-embedding-3-small", provider="openai",
        inputs=["one text", "another text"],
    )  # fmt: skip
    embedding = worst_case_cost(texts, PRICING)
    assert embedding.output_tokens == 0 and embedding.cost and embedding.cost > 0
    assert worst_case_cost(call.replace(model="no-such-model"), PRICING).cost is None


def _paid_record(clock: FakeClock, cost: float, model: str = "gpt-4o") -> RequestRecord:
    from tests.ml_ops.cost_tracker.records import call

    record = call(model, at=clock.now())
    return dataclasses.replace(record, estimated_cost=cost)


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the fake runs in another thread
            await asyncio.sleep(0.005)
