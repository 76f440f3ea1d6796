"""Guards around LLMService calls, against the loopback fakes: refuse, rewrite, settle after
success, failure and cancellation; exactly one record per call; one bus for many services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from ai.core.guards import PassThroughGuard, PlannedCall
from ai.core.records import (
    GuardAction,
    Operation,
    Outcome,
    RecordBus,
    RequestRecord,
)
from ai.errors import (
    BudgetExceededError,
    CallRefusedError,
    ConfigurationError,
    ErrorType,
    ProviderError,
)
from ai.llm_service import LLMService, ModelRoute
from ai.rag import EmbeddingService
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import TEST_KEY, anthropic_config, openai_config

HELLO = [{"role": "user", "content": "Hello!"}]


class Refuser(PassThroughGuard):
    """Refuses every call, as a spent budget would."""

    name = "budget"

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        raise BudgetExceededError("the daily budget of $10.00 is spent", retry_after=60.0)


class Rewriter(PassThroughGuard):
    """Sends every call to another model (and says so in a tag)."""

    name = "router"

    def __init__(self, model: str, provider: str | None = None) -> None:
        self.model, self.provider = model, provider

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        return call.replace(
            model=self.model,
            provider=self.provider or call.provider,
            tags={**call.tags, "routed": "yes"},
        )


class Ledger(PassThroughGuard):
    """Reserves on the way in and settles on the way out, like a budget guard."""

    name = "ledger"

    def __init__(self) -> None:
        self.reserved: list[str] = []
        self.settled: list[RequestRecord] = []
        self.seen_calls: list[PlannedCall] = []

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        self.reserved.append(call.request_id)
        return None

    async def after(self, call: PlannedCall, record: RequestRecord) -> None:
        self.seen_calls.append(call)
        self.settled.append(record)

    @property
    def open_reservations(self) -> set[str]:
        return set(self.reserved) - {r.request_id for r in self.settled}


async def test_a_refusing_guard_stops_the_call_before_any_request(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    ledger = Ledger()
    async with LLMService(openai_config(fake), guards=[ledger, Refuser()]) as llm:
        llm.subscribe(records.append)
        with pytest.raises(BudgetExceededError, match="daily budget") as caught:
            await llm.complete(messages=HELLO, user="alice")
    assert caught.value.guard == "budget"
    assert fake.requests == []
    [record] = records
    assert record.outcome is Outcome.REFUSED and record.error_type is ErrorType.REFUSED
    assert record.user == "alice" and record.provider == "openai" and record.attempts == 0
    [decision] = record.guard_decisions
    assert (decision.guard, decision.action) == ("budget", GuardAction.REFUSE)
    assert decision.reason is not None and "daily budget" in decision.reason
    assert ledger.settled == [record]  # the guard before the refuser settles its reservation


async def test_a_rewriting_guard_changes_the_model_and_the_record_says_so(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    async with LLMService(openai_config(fake), guards=[Rewriter("gpt-4.1-mini")]) as llm:
        llm.subscribe(records.append)
        _, stats = await llm.complete(messages=HELLO, tags={"team": "search"})
    assert [r.model for r in fake.requests] == ["gpt-4.1-mini"]
    assert stats.model.startswith("gpt-4.1-mini") and stats.model_requested == "gpt-4o-mini"
    [record] = records
    assert record.model_requested == "gpt-4o-mini" and record.model is not None
    assert record.model.startswith("gpt-4.1-mini")
    assert dict(record.tags) == {"team": "search", "routed": "yes"}
    [decision] = record.guard_decisions
    assert decision.action is GuardAction.REWRITE
    assert decision.changes["model"] == ("gpt-4o-mini", "gpt-4.1-mini")
    assert decision.changes["tags"] == ({"team": "search"}, {"team": "search", "routed": "yes"})


async def test_a_guard_can_move_a_call_to_another_provider(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    config = openai_config(
        fake,
        fallback_models=[
            ModelRoute("anthropic", "claude-3-5-haiku-20241022", TEST_KEY, fake.anthropic_base_url)
        ],
    )
    guard = Rewriter("claude-3-5-haiku-20241022", provider="anthropic")
    async with LLMService(config, guards=[guard]) as llm:
        llm.subscribe(records.append)
        _, stats = await llm.complete(messages=HELLO)
    assert stats.provider == "anthropic"
    assert [r.path for r in fake.requests] == ["/v1/messages"]
    assert records[0].guard_decisions[0].changes["provider"] == ("openai", "anthropic")


async def test_guards_rewrite_parameters_by_name(fake: FakeProviderServer) -> None:
    class Cold(PassThroughGuard):
        name = "cold"

        async def before(self, call: PlannedCall) -> PlannedCall | None:
            return call.with_parameters(temperature=0.0, seed=7)

    async with LLMService(openai_config(fake), guards=[Cold()]) as llm:
        await llm.complete(messages=HELLO, temperature=0.9)
    [sent] = fake.requests
    assert sent.body["temperature"] == 0.0 and sent.body["seed"] == 7


async def test_guards_see_the_limit_a_thinking_call_is_sent_with(
    fake: FakeProviderServer,
) -> None:
    # A thinking budget raises the default limit above it; guards (a budget's worst
    # case) see that limit, and a model chosen by a later guard gets its own fitting.
    ledger = Ledger()
    config = anthropic_config(fake, model="claude-sonnet-4-5")
    async with LLMService(config, guards=[ledger]) as llm:
        await llm.complete(messages=HELLO, thinking_budget=8000)
    async with LLMService(config, guards=[ledger, Rewriter("claude-3-5-haiku-20241022")]) as llm:
        await llm.complete(messages=HELLO, thinking_budget=8000)  # haiku 3.5 cannot think
    assert [c.parameters["max_tokens"] for c in ledger.seen_calls] == [8000 + 4096] * 2
    first, second = (r.body for r in fake.requests)
    assert first["max_tokens"] == 8000 + 4096 and first["thinking"]["budget_tokens"] == 8000
    assert second["max_tokens"] == 4096 and "thinking" not in second


async def test_guards_run_in_order_and_settle_in_reverse(fake: FakeProviderServer) -> None:
    order: list[str] = []

    class Named(PassThroughGuard):
        def __init__(self, name: str) -> None:
            self.name = name

        async def before(self, call: PlannedCall) -> PlannedCall | None:
            order.append(f"before {self.name}")
            return None

        async def after(self, call: PlannedCall, record: RequestRecord) -> None:
            order.append(f"after {self.name}")

    async with LLMService(openai_config(fake), guards=[Named("a"), Named("b")]) as llm:
        await llm.complete(messages=HELLO)
    assert order == ["before a", "before b", "after b", "after a"]


async def test_a_guard_settles_after_a_failed_call(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    ledger = Ledger()
    fake.faults.push(Fault.auth_error())
    async with LLMService(openai_config(fake), guards=[ledger]) as llm:
        llm.subscribe(records.append)
        with pytest.raises(ProviderError):
            await llm.complete(messages=HELLO)
    [record] = records
    assert record.outcome is Outcome.ERROR and record.error_type is ErrorType.AUTHENTICATION
    assert ledger.settled == [record] and not ledger.open_reservations


@pytest.mark.parametrize("guarded", [True, False])
async def test_a_cancelled_call_leaves_one_record_and_is_settled(
    fake: FakeProviderServer, records: list[RequestRecord], guarded: bool
) -> None:
    """Without guards the call as guards would see it is built only when a failure needs it
    for its record: the record must be the same as under guards."""
    ledger = Ledger()
    fake.faults.push(Fault.slow_first_byte(5.0))
    async with LLMService(openai_config(fake), guards=[ledger] if guarded else []) as llm:
        llm.subscribe(records.append)
        task = asyncio.ensure_future(llm.complete(messages=HELLO, user="bob"))
        await _until(lambda: len(fake.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [record] = records
    assert record.outcome is Outcome.CANCELLED and record.error_type is ErrorType.CANCELLED
    assert record.user == "bob" and record.attempts == 1 and record.model is not None
    if guarded:
        assert ledger.settled == [record] and not ledger.open_reservations
    else:
        assert record.provider == "openai" and record.guard_decisions == ()


async def test_a_stream_closed_early_is_settled_with_its_partial_cost(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    ledger = Ledger()
    fake.replies.push("one two three four five six seven eight nine ten " * 20)
    async with LLMService(openai_config(fake), guards=[ledger]) as llm:
        llm.subscribe(records.append)
        stream = llm.stream(messages=HELLO)
        async for _ in stream:
            break
        await stream.aclose()
    [record] = records
    assert record.outcome is Outcome.CANCELLED and record.streamed
    assert record.estimated_cost is not None and record.estimated_cost > 0
    assert ledger.settled == [record]


async def test_a_refused_stream_raises_on_first_read_and_records_once(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    async with LLMService(openai_config(fake), guards=[Refuser()]) as llm:
        llm.subscribe(records.append)
        stream = llm.stream(messages=HELLO)
        with pytest.raises(CallRefusedError):
            async for _ in stream:
                pass
    [record] = records
    assert record.outcome is Outcome.REFUSED and record.streamed
    assert fake.requests == []


async def test_a_rewritten_stream_goes_to_the_new_model(fake: FakeProviderServer) -> None:
    async with LLMService(anthropic_config(fake), guards=[Rewriter("claude-sonnet-4-5")]) as llm:
        _, stats = await llm.stream(messages=HELLO).collect()
    assert stats.model.startswith("claude-sonnet-4-5")
    assert [r.model for r in fake.requests] == ["claude-sonnet-4-5"]


async def test_a_guard_may_not_rewrite_the_inputs(fake: FakeProviderServer) -> None:
    class Sneaky(PassThroughGuard):
        name = "sneaky"

        async def before(self, call: PlannedCall) -> PlannedCall | None:
            return call.replace(inputs=[{"role": "user", "content": "something else"}])

    async with LLMService(openai_config(fake), guards=[Sneaky()]) as llm:
        with pytest.raises(ConfigurationError, match="inputs"):
            await llm.complete(messages=HELLO)
    assert fake.requests == []


def test_an_object_without_the_guard_methods_is_refused(fake: FakeProviderServer) -> None:
    with pytest.raises(ConfigurationError, match="not a CallGuard"):
        LLMService(openai_config(fake), guards=[object()])  # type: ignore[list-item]


async def test_a_failing_after_hook_never_fails_the_call(
    fake: FakeProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(PassThroughGuard):
        name = "broken"

        async def after(self, call: PlannedCall, record: RequestRecord) -> None:
            raise RuntimeError("settlement store is down")

    async with LLMService(openai_config(fake), guards=[Broken()]) as llm:
        text, _ = await llm.complete(messages=HELLO)
    assert text
    assert "broken" in caplog.text


async def test_one_bus_sees_chat_and_embedding_records_of_several_services(
    fake: FakeProviderServer,
) -> None:
    bus = RecordBus()
    seen: list[RequestRecord] = []
    bus.subscribe(seen.append)
    ledger = Ledger()
    async with (
        LLMService(openai_config(fake), bus=bus) as first,
        LLMService(anthropic_config(fake), bus=bus) as second,
        EmbeddingService(
            api_key=TEST_KEY, base_url=fake.openai_base_url, bus=bus, guards=[ledger]
        ) as embeddings,
    ):
        await first.complete(messages=HELLO)
        await second.complete(messages=HELLO)
        vectors = await embeddings.embed(["alpha", "beta"], user="carol", tags={"job": "ingest"})
    assert vectors.shape[0] == 2
    assert [r.operation for r in seen] == [Operation.CHAT, Operation.CHAT, Operation.EMBEDDING]
    assert [r.provider for r in seen] == ["openai", "anthropic", "openai"]
    embedding = seen[2]
    assert embedding.user == "carol" and embedding.tags["job"] == "ingest"
    assert ledger.settled == [embedding]
    assert ledger.seen_calls[0].inputs == ["alpha", "beta"]
    # each service's own totals count only its own calls
    assert first.get_metrics()["total_requests"] == 1
    assert second.get_metrics()["total_requests"] == 1


async def test_an_embedding_guard_may_refuse_but_not_redirect(fake: FakeProviderServer) -> None:
    seen: list[RequestRecord] = []
    async with EmbeddingService(
        api_key=TEST_KEY, base_url=fake.openai_base_url, guards=[Refuser()], cache=False
    ) as refused:
        refused.subscribe(seen.append)
        with pytest.raises(BudgetExceededError):
            await refused.embed(["alpha"])
    assert [r.outcome for r in seen] == [Outcome.REFUSED]
    assert seen[0].operation is Operation.EMBEDDING
    async with EmbeddingService(
        api_key=TEST_KEY,
        base_url=fake.openai_base_url,
        guards=[Rewriter("text-embedding-3-large")],
        cache=False,
    ) as redirected:
        with pytest.raises(ConfigurationError, match="not comparable"):
            await redirected.embed(["alpha"])
    assert fake.requests == []


async def test_without_guards_records_carry_no_decisions(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        await llm.complete(messages=HELLO)
    assert records[0].guard_decisions == () and records[0].outcome is Outcome.SUCCESS


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the fake runs in another thread
            await asyncio.sleep(0.005)
