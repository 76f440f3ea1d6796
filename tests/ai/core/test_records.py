"""RecordBus: fan-out to sync and async subscribers, isolation of failures, flush."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from ai.core.records import RecordBus, RequestRecord
from ai.core.usage import Usage


def record(request_id: str = "r1", **overrides: Any) -> RequestRecord:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "provider": "openai",
        "model_requested": "gpt-4o-mini",
        "model": "gpt-4o-mini-2024-07-18",
        "usage": Usage(input_tokens=12, output_tokens=5),
        "estimated_cost": 0.0001,
        "latency_ms": 250.0,
        "time_to_first_token_ms": None,
        "attempts": 1,
        "success": True,
    }
    fields.update(overrides)
    return RequestRecord(**fields)


async def yield_to_loop(times: int) -> None:
    """Let other tasks run a few steps (no wall-clock wait)."""
    for _ in range(times):
        await asyncio.sleep(0)


def test_record_token_properties() -> None:
    assert (record().input_tokens, record().output_tokens, record().total_tokens) == (12, 5, 17)
    empty = record(usage=None, success=False)
    assert (empty.input_tokens, empty.output_tokens, empty.total_tokens) == (0, 0, 0)


def test_record_defaults() -> None:
    r = record()
    assert (r.error_type, r.cached, r.streamed, r.fallback_used, r.user, r.agent) == (
        None,
        False,
        False,
        False,
        None,
        None,
    )
    assert dict(r.tags) == {}


async def test_sync_and_async_subscribers_both_receive() -> None:
    bus = RecordBus()
    sync_got: list[RequestRecord] = []
    async_got: list[RequestRecord] = []

    async def deliver(r: RequestRecord) -> None:
        await yield_to_loop(3)
        async_got.append(r)

    bus.subscribe(sync_got.append)
    bus.subscribe(deliver)
    first, second = record("a"), record("b")
    bus.emit(first)
    bus.emit(second)
    assert sync_got == [first, second]  # in-line, in order
    await bus.flush()
    assert sorted(r.request_id for r in async_got) == ["a", "b"]


async def test_flush_waits_for_slow_async_deliveries() -> None:
    bus = RecordBus()
    gate = asyncio.Event()
    got: list[str] = []

    async def slow(r: RequestRecord) -> None:
        await gate.wait()
        got.append(r.request_id)

    bus.subscribe(slow)
    bus.emit(record("slow"))
    flushing = asyncio.ensure_future(bus.flush())
    await yield_to_loop(5)
    assert not flushing.done()
    assert got == []
    gate.set()
    await flushing
    assert got == ["slow"]


async def test_flush_waits_for_deliveries_started_during_the_flush() -> None:
    bus = RecordBus()
    got: list[str] = []

    async def chain(r: RequestRecord) -> None:
        await yield_to_loop(2)
        got.append(r.request_id)
        if r.request_id == "first":
            bus.emit(record("second"))

    bus.subscribe(chain)
    bus.emit(record("first"))
    await bus.flush()
    assert got == ["first", "second"]


async def test_flush_without_pending_returns() -> None:
    await RecordBus().flush()


async def test_raising_sync_subscriber_is_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = RecordBus()
    before: list[RequestRecord] = []
    after: list[RequestRecord] = []

    def broken(r: RequestRecord) -> None:
        raise RuntimeError("dashboard down")

    bus.subscribe(before.append)
    bus.subscribe(broken)
    bus.subscribe(after.append)
    with caplog.at_level(logging.ERROR, logger="ai.core.records"):
        bus.emit(record())
    assert len(before) == len(after) == 1
    assert "dashboard down" in caplog.text


async def test_raising_async_subscriber_is_logged_and_flush_does_not_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = RecordBus()
    got: list[RequestRecord] = []

    async def broken(r: RequestRecord) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("event store down")

    async def fine(r: RequestRecord) -> None:
        await asyncio.sleep(0)
        got.append(r)

    bus.subscribe(broken)
    bus.subscribe(fine)
    with caplog.at_level(logging.ERROR, logger="ai.core.records"):
        bus.emit(record())
        await bus.flush()
    assert len(got) == 1
    assert "event store down" in caplog.text


async def test_unsubscribe_stops_delivery_and_is_idempotent() -> None:
    bus = RecordBus()
    first: list[RequestRecord] = []
    second: list[RequestRecord] = []
    stop_first = bus.subscribe(first.append)
    bus.subscribe(second.append)
    bus.emit(record("1"))
    stop_first()
    stop_first()
    bus.emit(record("2"))
    assert [r.request_id for r in first] == ["1"]
    assert [r.request_id for r in second] == ["1", "2"]


async def test_unsubscribe_async_subscriber() -> None:
    bus = RecordBus()
    got: list[RequestRecord] = []

    async def deliver(r: RequestRecord) -> None:
        got.append(r)

    stop = bus.subscribe(deliver)
    stop()
    bus.emit(record())
    await bus.flush()
    assert got == []


async def test_subscriber_unsubscribing_itself_during_emit_does_not_skip_others() -> None:
    bus = RecordBus()
    got: list[str] = []
    stop_once: list[Any] = []

    def once(r: RequestRecord) -> None:
        got.append("once")
        stop_once[0]()

    stop_once.append(bus.subscribe(once))
    bus.subscribe(lambda r: got.append("always"))
    bus.emit(record())
    bus.emit(record())
    assert got == ["once", "always", "always"]


def test_schema_version_and_operation_defaults() -> None:
    from ai.core.records import SCHEMA_VERSION, Operation

    r = record()
    assert r.schema_version == SCHEMA_VERSION == 2
    assert r.operation is Operation.CHAT


def test_outcome_follows_success_error_type_and_guard_decisions() -> None:
    from ai.core.records import GuardAction, GuardDecision, Outcome
    from ai.errors import ErrorType

    assert record().outcome is Outcome.SUCCESS
    assert record(success=False, error_type=ErrorType.TIMEOUT).outcome is Outcome.ERROR
    assert record(success=False, error_type=ErrorType.CANCELLED).outcome is Outcome.CANCELLED
    refused = record(
        success=False,
        error_type=ErrorType.REFUSED,
        guard_decisions=(GuardDecision("budget", GuardAction.REFUSE, reason="spent"),),
    )
    assert refused.outcome is Outcome.REFUSED


def test_schema_1_names_still_read_with_a_deprecation_warning() -> None:
    r = record()
    with pytest.warns(DeprecationWarning, match="estimated_cost"):
        assert r.cost == r.estimated_cost
    with pytest.warns(DeprecationWarning, match="RequestRecord.model"):
        assert r.model_used == r.model


def test_tag_keys_are_the_ones_rendered_prompts_use() -> None:
    from ai.core.records import TagKey
    from ai.prompts import RenderedPrompt

    rendered = RenderedPrompt(name="greet", text="hi", version=2, experiment="e", variant="b")
    assert rendered.call_tags() == {
        TagKey.PROMPT: "greet",
        TagKey.PROMPT_VERSION: "2",
        TagKey.EXPERIMENT: "e",
        TagKey.VARIANT: "b",
    }
