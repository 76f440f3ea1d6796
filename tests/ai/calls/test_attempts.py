"""One attempt's reading of stream answers the loopback fakes do not send: an error event
before any text, classified by the HTTP code it embeds as the same object is in a 200."""

from __future__ import annotations

import json

import httpx
import pytest

from ai.calls.circuit import CircuitState
from ai.core.records import RequestRecord
from ai.errors import (
    AuthenticationError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
)
from ai.llm_service import LLMConfig, LLMService

HELLO = [{"role": "user", "content": "Hello!"}]
KEY = "sk-or-test-0123456789abcdef"


def answering(body: str, *, stream: bool, seen: list[httpx.Request]) -> httpx.AsyncClient:
    """A client whose every request gets `body` (an event stream or JSON) with a 200."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        kind = "text/event-stream" if stream else "application/json"
        return httpx.Response(200, content=body.encode(), headers={"content-type": kind})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def ask(llm: LLMService, *, stream: bool) -> str:
    """One call, streamed or not."""
    if stream:
        text, _ = await llm.stream(messages=HELLO).collect()
    else:
        text, _ = await llm.complete(messages=HELLO)
    return text


@pytest.mark.parametrize(
    ("code", "error_type", "retryable"),
    [
        (400, ProviderError, False),
        (401, AuthenticationError, False),
        (402, ProviderError, False),
        (404, ModelNotFoundError, False),
        (429, RateLimitError, True),
        (502, ProviderError, True),
    ],
)
async def test_a_stream_error_event_is_classified_by_its_embedded_code_like_a_200(
    code: int, error_type: type[ProviderError], retryable: bool
) -> None:
    error = {"error": {"message": "Provider returned error", "code": code}}
    outcomes: dict[bool, tuple[ProviderError, int, list[RequestRecord]]] = {}
    for stream in (False, True):
        seen: list[httpx.Request] = []
        records: list[RequestRecord] = []
        body = f"data: {json.dumps(error)}\n\n" if stream else json.dumps(error)
        config = LLMConfig(
            provider="openrouter",
            api_key=KEY,
            base_url="http://openrouter.test/api/v1",
            max_retries=2,
            retry_delay=0.0,
            circuit_failure_threshold=3,
        )
        client = answering(body, stream=stream, seen=seen)
        async with LLMService(config, http_client=client) as llm:
            llm.subscribe(records.append)
            with pytest.raises(ProviderError) as caught:
                await ask(llm, stream=stream)
            state = llm.circuit_state("openai/gpt-4o-mini")
        await client.aclose()
        assert (state is CircuitState.CLOSED) is not retryable  # only outages count
        outcomes[stream] = (caught.value, len(seen), records)
    (plain, plain_sent, _), (streamed, stream_sent, records) = outcomes[False], outcomes[True]
    assert type(streamed) is type(plain) is error_type
    assert streamed.status == plain.status == code
    assert streamed.retryable is plain.retryable is retryable
    assert stream_sent == plain_sent == (3 if retryable else 1)
    [record] = records
    assert record.streamed and record.attempts == stream_sent


async def test_an_error_event_without_a_code_is_still_classified_by_its_type() -> None:
    seen: list[httpx.Request] = []
    body = 'data: {"error": {"message": "slow down", "type": "rate_limit_exceeded"}}\n\n'
    config = LLMConfig(
        provider="openai", api_key=KEY, base_url="http://openai.test/v1", max_retries=0
    )
    client = answering(body, stream=True, seen=seen)
    async with LLMService(config, http_client=client) as llm:
        with pytest.raises(RateLimitError) as caught:
            await llm.stream(messages=HELLO).collect()
    await client.aclose()
    assert caught.value.status is None and len(seen) == 1


async def test_a_null_error_in_stream_chunks_is_no_error() -> None:
    """`"error": null` beside the text is ignored, as in a non-streamed answer."""
    chunks = [
        {
            "id": "c1",
            "model": "gpt-4o-mini",
            "error": None,
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
        },
        {
            "id": "c1",
            "model": "gpt-4o-mini",
            "error": None,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        },
    ]
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
    seen: list[httpx.Request] = []
    config = LLMConfig(provider="openai", api_key=KEY, base_url="http://openai.test/v1")
    client = answering(body, stream=True, seen=seen)
    async with LLMService(config, http_client=client) as llm:
        text, stats = await llm.stream(messages=HELLO).collect()
    await client.aclose()
    assert (text, stats.finish_reason, len(seen)) == ("Hi", "stop", 1)


async def test_a_byte_order_mark_opening_the_stream_does_not_hide_the_first_event() -> None:
    chunk = {
        "id": "c1",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}],
    }
    body = f"\ufeffdata: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
    seen: list[httpx.Request] = []
    config = LLMConfig(provider="openai", api_key=KEY, base_url="http://openai.test/v1")
    client = answering(body, stream=True, seen=seen)
    async with LLMService(config, http_client=client) as llm:
        text, stats = await llm.stream(messages=HELLO).collect()
    await client.aclose()
    assert (text, stats.finish_reason) == ("Hi", "stop")
