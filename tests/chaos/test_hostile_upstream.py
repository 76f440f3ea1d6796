"""LLMService against an upstream that misbehaves on the wire: every call ends in a typed
error or an answer, within its deadline, with exactly one record and no key in sight."""

from __future__ import annotations

import asyncio
import traceback

import pytest

from ai.core.records import Outcome, RequestRecord
from ai.errors import (
    AuthenticationError,
    ErrorType,
    InvalidResponseError,
    ProviderError,
    ProviderTimeoutError,
    StreamInterruptedError,
)
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import anthropic_config, openai_config, openrouter_config

HELLO = [{"role": "user", "content": "Hello!"}]


async def one_call(
    llm: LLMService, *, stream: bool = False
) -> tuple[str | BaseException, list[RequestRecord]]:
    """The text or the exception of one call, and the records it left."""
    records: list[RequestRecord] = []
    unsubscribe = llm.subscribe(records.append)
    try:
        if stream:
            text, _ = await llm.stream(messages=HELLO).collect()
        else:
            text, _ = await llm.complete(messages=HELLO)
        return text, records
    except ProviderError as error:
        return error, records
    finally:
        unsubscribe()


@pytest.mark.parametrize("stream", [False, True])
async def test_a_trickled_answer_is_cut_at_the_deadline(
    upstream: FakeProviderServer, stream: bool
) -> None:
    upstream.faults.add(Fault.trickle(0.05, chunk_bytes=1), times=None)  # ~a minute a body
    async with LLMService(openai_config(upstream, timeout=1.0, max_retries=0)) as llm:
        outcome, records = await one_call(llm, stream=stream)
    assert isinstance(outcome, ProviderTimeoutError) and "deadline" in str(outcome)
    assert [r.error_type for r in records] == [ErrorType.TIMEOUT]


async def test_keepalive_comments_without_a_token_hit_the_deadline(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.add(Fault.keepalive(0.05), times=None)
    async with LLMService(openrouter_like(upstream, timeout=1.0)) as llm:
        outcome, records = await one_call(llm, stream=True)
    assert isinstance(outcome, ProviderTimeoutError)
    assert [r.error_type for r in records] == [ErrorType.TIMEOUT]


async def test_keepalive_comments_after_a_token_hit_the_idle_timeout(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.push(Fault.keepalive(0.05, after_chunks=1))
    config = openrouter_like(upstream, timeout=30.0, stream_idle_timeout=0.5)
    async with LLMService(config) as llm:
        outcome, records = await one_call(llm, stream=True)
    assert isinstance(outcome, StreamInterruptedError)
    assert "stream_idle_timeout" in str(outcome) and outcome.partial_text
    [record] = records
    assert record.error_type is ErrorType.STREAM_INTERRUPTED and record.streamed


@pytest.mark.parametrize(("status", "stream"), [(200, False), (200, True), (500, False)])
async def test_deeply_nested_json_is_a_typed_error_with_a_record(
    upstream: FakeProviderServer, status: int, stream: bool
) -> None:
    upstream.faults.push(Fault.deep_json(100_000, status=status))
    async with LLMService(anthropic_config(upstream, max_retries=0)) as llm:
        outcome, records = await one_call(llm, stream=stream)
    assert isinstance(outcome, ProviderError)
    expected = InvalidResponseError if status == 200 else ProviderError
    assert isinstance(outcome, expected) and outcome.status in (None, status)
    assert len(records) == 1 and not records[0].success


async def test_a_key_of_any_shape_echoed_back_is_masked_everywhere() -> None:
    key = "tok_live_9f8e7d6c5b4a3210"  # a self-hosted token: not shaped like sk-...
    with FakeProviderServer(api_key=key) as server:
        server.faults.push(Fault.echo_key())
        config = LLMConfig(
            provider=LLMProvider.OPENAI_COMPATIBLE,
            api_key=key,
            model="gpt-4o-mini",
            base_url=server.openai_base_url,
        )
        async with LLMService(config) as llm:
            outcome, records = await one_call(llm)
    assert isinstance(outcome, AuthenticationError)
    shown = [
        str(outcome),
        repr(outcome),
        outcome.provider_message or "",
        "".join(traceback.format_exception(outcome)),
        records[0].error_message or "",
    ]
    assert "Incorrect API key provided" in str(outcome)
    assert all(key not in text for text in shown)


async def test_a_giant_stream_line_past_the_cap_is_a_typed_error(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.push(Fault.giant_line(20_000_000))
    config = openai_config(upstream, max_stream_event_chars=1_000_000, max_retries=0)
    async with LLMService(config) as llm:
        outcome, records = await one_call(llm, stream=True)
    assert isinstance(outcome, InvalidResponseError) and "longer than" in str(outcome)
    assert len(records) == 1


async def test_a_giant_stream_line_under_the_cap_arrives_whole(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.push(Fault.giant_line(5_000_000))
    async with LLMService(openai_config(upstream)) as llm:
        outcome, _ = await one_call(llm, stream=True)
    assert isinstance(outcome, str) and outcome.startswith("x" * 5_000_000)


async def test_a_huge_error_body_is_read_and_kept_only_in_part(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.push(Fault.huge_error(50_000_000))
    async with LLMService(openai_config(upstream, max_retries=0)) as llm:
        outcome, records = await one_call(llm)
    assert isinstance(outcome, ProviderError) and outcome.status == 500
    assert len(str(outcome)) < 2_000 and len(records[0].error_message or "") <= 500


async def test_an_error_object_in_a_200_is_retried_by_its_code(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.push(Fault.error_in_200(502))
    async with LLMService(openrouter_like(upstream, retry_delay=0.0)) as llm:
        outcome, records = await one_call(llm)
    assert isinstance(outcome, str) and outcome
    assert records[0].success and records[0].attempts == 2


async def test_a_json_answer_to_a_stream_request_is_used(upstream: FakeProviderServer) -> None:
    upstream.faults.push(Fault.json_for_stream())
    async with LLMService(openai_config(upstream)) as llm:
        outcome, records = await one_call(llm, stream=True)
    assert isinstance(outcome, str) and outcome.startswith("Hello from")
    assert records[0].success and records[0].usage is not None


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unreadable_usage_keeps_the_answer_with_tokens_estimated(
    upstream: FakeProviderServer, stream: bool
) -> None:
    upstream.faults.push(Fault.bad_usage())
    async with LLMService(anthropic_config(upstream)) as llm:
        outcome, records = await one_call(llm, stream=stream)
    assert isinstance(outcome, str) and outcome
    [record] = records
    assert record.success and record.usage is not None and record.usage.estimated


async def test_a_stream_cancelled_before_its_first_token_leaves_a_record(
    upstream: FakeProviderServer,
) -> None:
    upstream.faults.add(Fault.keepalive(0.05), times=None)
    records: list[RequestRecord] = []
    async with LLMService(openrouter_like(upstream)) as llm:
        llm.subscribe(records.append)
        task = asyncio.ensure_future(llm.stream(messages=HELLO, user="dana").collect())
        async with asyncio.timeout(5):
            while not upstream.requests:  # noqa: ASYNC110 - the fake runs in another thread
                await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    [record] = records
    assert record.outcome is Outcome.CANCELLED and record.streamed and record.user == "dana"


def openrouter_like(upstream: FakeProviderServer, **overrides: object) -> LLMConfig:
    """OpenRouter's wire (the keep-alive comments and the error object in a 200 are its)."""
    return openrouter_config(upstream, **overrides)
