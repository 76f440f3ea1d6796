"""GuardChain on its own: order, decisions, refusals, exactly one record, settling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.core.guards import GuardChain, PassThroughGuard, PlannedCall, RecordSlot
from ai.core.records import GuardAction, Operation, Outcome, RequestRecord
from ai.errors import CallRefusedError, ConfigurationError, ErrorType, describe_failure


def planned(**overrides: Any) -> PlannedCall:
    fields: dict[str, Any] = {
        "operation": Operation.CHAT,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "inputs": ({"role": "user", "content": "hi"},),
        "parameters": {"temperature": 0.7},
    }
    fields.update(overrides)
    return PlannedCall(**fields)


def record_for(call: PlannedCall, error: BaseException | None = None) -> RequestRecord:
    error_type, message = describe_failure(error) if error else (None, None)
    return RequestRecord(
        request_id=call.request_id,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        provider=call.provider,
        model_requested=call.model,
        model=call.model if error is None else None,
        usage=None,
        estimated_cost=None,
        latency_ms=1.0,
        time_to_first_token_ms=None,
        attempts=1,
        success=error is None,
        error_type=error_type,
        error_message=message,
    )


class SetParameter(PassThroughGuard):
    def __init__(self, name: str, key: str, value: Any) -> None:
        self.name, self.key, self.value = name, key, value

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        return call.with_parameters(**{self.key: self.value})


class Refuse(PassThroughGuard):
    name = "no"

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        raise CallRefusedError("not today")


class Collect(PassThroughGuard):
    def __init__(self, name: str = "collect") -> None:
        self.name = name
        self.after_calls: list[tuple[PlannedCall, RequestRecord]] = []

    async def after(self, call: PlannedCall, record: RequestRecord) -> None:
        self.after_calls.append((call, record))


async def test_no_guards_admit_the_call_unchanged() -> None:
    call = planned()
    admission = await GuardChain().admit(call)
    assert admission.call is call and admission.decisions == () and admission.refusal is None


async def test_each_guard_sees_the_previous_guards_rewrite() -> None:
    first, second = SetParameter("a", "temperature", 0.0), Collect()
    admission = await GuardChain([first, second, SetParameter("c", "seed", 3)]).admit(planned())
    assert admission.call.parameters == {"temperature": 0.0, "seed": 3}
    assert [(d.guard, d.action, dict(d.changes)) for d in admission.decisions] == [
        ("a", GuardAction.REWRITE, {"temperature": (0.7, 0.0)}),
        ("c", GuardAction.REWRITE, {"seed": (None, 3)}),
    ]
    # the call each guard let through is the one it is settled with
    assert [seen.parameters for _, seen in admission.admitted] == [
        {"temperature": 0.7},
        {"temperature": 0.0},
        {"temperature": 0.0},
    ]


async def test_a_guard_returning_an_equal_call_makes_no_decision() -> None:
    admission = await GuardChain([SetParameter("same", "temperature", 0.7)]).admit(planned())
    assert admission.decisions == ()


async def test_a_refusal_stops_the_chain_and_names_the_guard() -> None:
    later = Collect("later")
    admission = await GuardChain([Collect("earlier"), Refuse(), later]).admit(planned())
    assert admission.refusal is not None and admission.refusal.guard == "no"
    assert [g.name for g, _ in admission.admitted] == ["earlier"]
    assert admission.decisions[-1].action is GuardAction.REFUSE


async def test_run_records_a_refusal_once_and_settles_earlier_guards() -> None:
    earlier = Collect("earlier")
    sink: list[RequestRecord] = []

    async def work(call: PlannedCall, slot: RecordSlot) -> str:
        raise AssertionError("a refused call must not run")

    with pytest.raises(CallRefusedError):
        await GuardChain([earlier, Refuse()]).run(planned(), sink.append, work, record_for)
    [record] = sink
    assert record.outcome is Outcome.REFUSED and record.error_type is ErrorType.REFUSED
    assert [r for _, r in earlier.after_calls] == [record]


async def test_run_builds_the_record_of_a_cancelled_call() -> None:
    collect = Collect()
    sink: list[RequestRecord] = []
    started = asyncio.Event()

    async def work(call: PlannedCall, slot: RecordSlot) -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    task = asyncio.ensure_future(
        GuardChain([collect]).run(planned(), sink.append, work, record_for)
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [r.outcome for r in sink] == [Outcome.CANCELLED]
    assert [r for _, r in collect.after_calls] == sink


async def test_run_keeps_the_record_work_emitted_and_drops_a_second(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink: list[RequestRecord] = []

    async def work(call: PlannedCall, slot: RecordSlot) -> str:
        slot.emit(record_for(call))
        slot.emit(record_for(call))
        raise RuntimeError("after recording")

    with pytest.raises(RuntimeError):
        await GuardChain().run(planned(), sink.append, work, record_for)
    assert len(sink) == 1 and sink[0].success
    assert "second record" in caplog.text


async def test_an_unclassified_exception_is_recorded_as_unexpected() -> None:
    sink: list[RequestRecord] = []

    async def work(call: PlannedCall, slot: RecordSlot) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    with pytest.raises(RecursionError):
        await GuardChain().run(planned(), sink.append, work, record_for)
    assert sink[0].error_type is ErrorType.UNEXPECTED
    assert sink[0].error_message is not None and "RecursionError" in sink[0].error_message


async def test_records_carry_the_decisions() -> None:
    sink: list[RequestRecord] = []

    async def work(call: PlannedCall, slot: RecordSlot) -> str:
        slot.emit(record_for(call))
        return "ok"

    guard = SetParameter("cold", "temperature", 0.0)
    assert await GuardChain([guard]).run(planned(), sink.append, work, record_for) == "ok"
    assert [d.guard for d in sink[0].guard_decisions] == ["cold"]


def test_only_rewritable_fields_may_change() -> None:
    call = planned()
    with pytest.raises(ConfigurationError, match="request_id"):
        call.replace(request_id="other")
    assert call.replace(model="gpt-4.1").model == "gpt-4.1"
    assert call.with_parameters(temperature=None).parameters == {}


@given(
    st.dictionaries(st.sampled_from(["temperature", "seed", "top_p", "stop"]), st.integers()),
    st.dictionaries(st.sampled_from(["temperature", "seed", "top_p", "stop"]), st.integers()),
)
async def test_decisions_list_exactly_the_parameters_that_changed(
    before: dict[str, int], after: dict[str, int]
) -> None:
    class Replace(PassThroughGuard):
        name = "replace"

        async def before(self, call: PlannedCall) -> PlannedCall | None:
            return call.replace(parameters=after)

    admission = await GuardChain([Replace()]).admit(planned(parameters=before))
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    if not changed:
        assert admission.decisions == ()
    else:
        [decision] = admission.decisions
        assert set(decision.changes) == changed
        assert all(decision.changes[k] == (before.get(k), after.get(k)) for k in changed)


class Broken(PassThroughGuard):
    name = "broken"

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        raise RuntimeError("the guard's store is gone")


async def test_run_records_a_failing_guard_once_and_settles_earlier_guards() -> None:
    earlier, later = Collect("earlier"), Collect("later")
    sink: list[RequestRecord] = []

    async def work(call: PlannedCall, slot: RecordSlot) -> str:
        raise AssertionError("a call whose guard failed must not run")

    chain = GuardChain([earlier, Broken(), later])
    with pytest.raises(RuntimeError, match="store is gone"):
        await chain.run(planned(), sink.append, work, record_for)
    [record] = sink
    assert record.outcome is Outcome.ERROR
    assert [r for _, r in earlier.after_calls] == [record] and later.after_calls == []


async def test_run_records_a_call_cancelled_inside_a_guard() -> None:
    earlier = Collect("earlier")
    sink: list[RequestRecord] = []
    waiting = asyncio.Event()

    class Waits(PassThroughGuard):
        name = "waits"

        async def before(self, call: PlannedCall) -> PlannedCall | None:
            waiting.set()
            await asyncio.sleep(60)
            return None

    async def work(call: PlannedCall, slot: RecordSlot) -> str:
        raise AssertionError("never reached")

    task = asyncio.ensure_future(
        GuardChain([earlier, Waits()]).run(planned(), sink.append, work, record_for)
    )
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [r.outcome for r in sink] == [Outcome.CANCELLED]
    assert [r for _, r in earlier.after_calls] == sink
