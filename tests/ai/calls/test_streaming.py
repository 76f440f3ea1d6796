"""Streaming through both wire formats: deltas, usage from the final events, broken streams."""

from __future__ import annotations

import asyncio

import pytest

from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.errors import ProviderTimeoutError, StreamInterruptedError
from ai.llm_service import LLMService
from ai.providers.base import ToolCallDelta
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import anthropic_config, openai_config, openrouter_config

STORY = [{"role": "user", "content": "Tell me a short story about a lighthouse."}]
CONFIGS = [openai_config, anthropic_config, openrouter_config]
REPLY = "Once upon a time, a lighthouse kept watch over a quiet, dark and stormy sea."


@pytest.mark.parametrize("make_config", CONFIGS)
async def test_stream_yields_deltas_and_ends_with_stats(
    fake: FakeProviderServer, make_config: object, records: list[RequestRecord]
) -> None:
    fake.replies.push(REPLY)
    fake.replies.push(REPLY)
    async with LLMService(make_config(fake)) as llm:  # type: ignore[operator]
        llm.subscribe(records.append)
        stream = llm.stream(messages=STORY)
        deltas = [delta async for delta in stream]
        _, plain = await llm.complete(messages=STORY)
    assert len(deltas) > 1 and "".join(deltas) == REPLY == stream.text
    stats = stream.stats
    assert stats is not None
    assert not stats.tokens_estimated  # usage came from the provider's final events
    assert stats.input_tokens == plain.input_tokens
    assert stats.output_tokens == plain.output_tokens
    assert stats.estimated_cost == pytest.approx(plain.estimated_cost)
    assert stats.time_to_first_token_ms is not None
    assert stats.time_to_first_token_ms <= stats.latency_ms
    assert stats.finish_reason == "stop"
    assert records[0].streamed and records[0].success
    assert records[0].time_to_first_token_ms == stats.time_to_first_token_ms


async def test_openai_stream_asks_for_usage(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake)) as llm:
        await llm.stream(messages=STORY).collect()
    body = fake.requests[-1].body
    assert body is not None
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("make_config", CONFIGS)
async def test_stream_cut_midway_raises_after_yielding_what_arrived(
    fake: FakeProviderServer, make_config: object, records: list[RequestRecord]
) -> None:
    fake.replies.push(REPLY)
    fake.faults.push(Fault.stream_cut(after_chunks=3))
    received: list[str] = []
    async with LLMService(make_config(fake)) as llm:  # type: ignore[operator]
        llm.subscribe(records.append)
        stream = llm.stream(messages=STORY)
        with pytest.raises(StreamInterruptedError) as caught:  # noqa: PT012 - deltas first
            async for delta in stream:
                received.append(delta)
    assert received, "the deltas before the cut reach the caller"
    assert caught.value.partial_text == "".join(received)
    assert REPLY.startswith(caught.value.partial_text) and caught.value.partial_text != REPLY
    assert fake.request_count() == 1  # not retried: part of the answer was delivered
    [record] = records
    assert not record.success and record.error_type == "stream_interrupted"
    assert record.streamed and record.output_tokens > 0  # the partial answer is accounted
    assert record.estimated_cost is not None and record.estimated_cost > 0


@pytest.mark.parametrize("make_config", CONFIGS)
async def test_error_event_midstream_is_a_typed_interruption(
    fake: FakeProviderServer, make_config: object, records: list[RequestRecord]
) -> None:
    fake.replies.push(REPLY)
    fake.faults.push(Fault.stream_error_event())
    async with LLMService(make_config(fake)) as llm:  # type: ignore[operator]
        llm.subscribe(records.append)
        stream = llm.stream(messages=STORY)
        with pytest.raises(StreamInterruptedError) as caught:
            async for _ in stream:
                pass
    assert "error" in str(caught.value).lower()
    assert records[0].error_type == "stream_interrupted"


async def test_malformed_stream_event_is_an_interruption(fake: FakeProviderServer) -> None:
    fake.replies.push(REPLY)
    fake.faults.push(Fault.malformed_json())
    async with LLMService(openai_config(fake)) as llm:
        stream = llm.stream(messages=STORY)
        with pytest.raises(StreamInterruptedError, match="documented format"):
            await stream.collect()


@pytest.mark.parametrize(
    "fault", [Fault.rate_limit(retry_after=2), Fault.server_error(502), Fault.disconnect()]
)
async def test_failures_before_the_first_token_are_retried(
    fake: FakeProviderServer, clock: FakeClock, fault: Fault
) -> None:
    fake.replies.push(REPLY)
    fake.faults.push(fault)
    async with LLMService(openai_config(fake), clock=clock) as llm:
        text, stats = await llm.stream(messages=STORY).collect()
    assert text == REPLY and stats.attempts == 2 and len(clock.sleeps) == 1


async def test_anthropic_overload_before_the_stream_falls_back(
    fake: FakeProviderServer, clock: FakeClock
) -> None:
    fake.faults.add(Fault.overloaded(), times=None, model="claude-3-5-haiku-20241022")
    config = anthropic_config(fake, max_retries=0, fallback_models=["claude-3-haiku-20240307"])
    async with LLMService(config, clock=clock) as llm:
        _, stats = await llm.stream(messages=STORY).collect()
    assert stats.model == "claude-3-haiku-20240307" and stats.fallback_used


async def test_leaving_a_stream_early_records_a_cancelled_call(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    fake.replies.push(REPLY)
    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        async with llm.stream(messages=STORY) as stream:
            async for _ in stream:
                break
    [record] = records
    assert not record.success and record.error_type == "cancelled"
    assert stream.stats is None


async def test_a_stream_left_with_break_is_recorded_once_when_the_service_closes(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    fake.replies.push(REPLY)
    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        stream = llm.stream(messages=STORY)
        async for _ in stream:
            break  # neither aclose() nor `async with`: the call is still open
        await asyncio.sleep(0.05)
        assert records == []
    [record] = records
    assert record.error_type == "cancelled" and record.streamed
    assert record.usage is not None and record.usage.output_tokens > 0
    assert record.time_to_first_token_ms is not None


async def test_a_stream_whose_reader_was_cancelled_is_recorded_when_dropped(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    fake.replies.push(REPLY)
    started = asyncio.Event()

    async def read() -> None:
        async for _ in llm.stream(messages=STORY):
            started.set()
            await asyncio.Event().wait()  # the reader is busy elsewhere when cancelled

    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        reader = asyncio.create_task(read())
        await started.wait()
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        del reader  # the stream is unreachable now: freed, closed, recorded
        for _ in range(20):
            if records:
                break
            await asyncio.sleep(0.01)
        assert [r.error_type for r in records] == ["cancelled"]
        [record] = records
        assert record.usage is not None and record.time_to_first_token_ms is not None
    assert len(records) == 1  # closing the service did not record it again


@pytest.mark.parametrize("make_config", [openai_config, anthropic_config])
async def test_streamed_tool_calls_are_assembled(
    fake: FakeProviderServer, make_config: object
) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    }
    async with LLMService(make_config(fake)) as llm:  # type: ignore[operator]
        _, stats = await llm.stream(messages=STORY, tools=[tool]).collect()
    [call] = stats.tool_calls
    assert call["function"]["name"] == "lookup" and '"query"' in call["function"]["arguments"]
    assert call["id"]


@pytest.mark.parametrize("make_config", [openai_config, anthropic_config])
async def test_tool_calls_stream_out_as_they_arrive(
    fake: FakeProviderServer, make_config: object
) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
    async with LLMService(make_config(fake)) as llm:  # type: ignore[operator]
        stream = llm.stream(messages=STORY, tools=[tool])
        events = [event async for event in stream.events()]
    pieces = [e for e in events if isinstance(e, ToolCallDelta)]
    assert stream.stats is not None
    [call] = stream.stats.tool_calls
    assert len(pieces) >= 2  # the name first, then the arguments in fragments
    assert (pieces[0].id, pieces[0].name) == (call["id"], "lookup")
    assert "".join(p.arguments for p in pieces) == call["function"]["arguments"]
    assert stream.text == "".join(e for e in events if isinstance(e, str))


async def test_enable_streaming_makes_complete_stream(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake, enable_streaming=True)) as llm:
        text, stats = await llm.complete(messages=STORY)
    assert text and stats.time_to_first_token_ms is not None
    body = fake.requests[-1].body
    assert body is not None and body["stream"] is True


async def test_enable_streaming_complete_is_cut_at_the_whole_call_deadline(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    """complete() keeps its deadline when it streams inside: text that keeps trickling in
    after the first token is cut at `timeout` like a plain call's answer, not left to the
    idle timeout; recorded once, as a timeout, with what arrived."""
    fake.replies.push(" ".join(["word"] * 300))
    fake.faults.push(Fault.trickle(0.1, chunk_bytes=400))  # the first text at once
    config = openai_config(fake, enable_streaming=True, timeout=1.0, stream_idle_timeout=30.0)
    async with LLMService(config) as llm:
        llm.subscribe(records.append)
        with pytest.raises(ProviderTimeoutError, match="deadline of 1s passed before the answer"):
            await llm.complete(messages=STORY)
    [record] = records
    assert record.error_type == "timeout" and record.streamed and record.attempts == 1
    assert record.time_to_first_token_ms is not None and record.usage is not None
    assert record.usage.output_tokens > 0  # what arrived is accounted for


async def test_a_plain_stream_keeps_only_the_idle_timeout_after_its_first_text(
    fake: FakeProviderServer,
) -> None:
    """stream()'s deadline is to the first text; a long answer that keeps coming is read
    to its end even past `timeout` (complete() alone promises a whole-call deadline)."""
    fake.replies.push(" ".join(["word"] * 40))
    fake.faults.push(Fault.trickle(0.05, chunk_bytes=400))
    async with LLMService(openai_config(fake, timeout=0.3)) as llm:
        text, stats = await llm.stream(messages=STORY).collect()
    assert text.split() == ["word"] * 40 and stats.finish_reason == "stop"
