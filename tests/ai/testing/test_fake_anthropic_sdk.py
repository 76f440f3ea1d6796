"""The official `anthropic` SDK (and raw httpx for the header rules) against the Anthropic
fake: messages, streams, tool use, errors, and prompt-cache accounting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from ai.testing import FakeProviderServer, Fault
from ai.testing.replies import default_text

MODEL = "claude-3-5-haiku-20241022"
HELLO: list[Any] = [{"role": "user", "content": "Hello Claude"}]
WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}


@pytest.fixture
def client(fake: FakeProviderServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=fake.anthropic_base_url, api_key=fake.api_key, max_retries=0
    ) as c:
        yield c


def test_messages_create(client: anthropic.Anthropic, fake: FakeProviderServer) -> None:
    message = client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)

    assert message.id.startswith("msg_")
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert message.content[0].type == "text"
    assert message.content[0].text == default_text(MODEL, "Hello Claude")
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0
    # the SDK authenticates with Bearer; the log masks it
    assert fake.requests[-1].headers["authorization"].startswith("Bearer sk-...")


async def test_async_messages_create(fake: FakeProviderServer) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=fake.anthropic_base_url, api_key=fake.api_key
    ) as client:
        message = await client.messages.create(
            model=MODEL, max_tokens=100, system="Be brief.", messages=HELLO
        )
    assert message.content[0].type == "text"


def test_stream_text_and_final_usage(client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == default_text(MODEL, "Hello Claude")
    assert final.content[0].type == "text"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens > 1


async def test_async_stream(fake: FakeProviderServer) -> None:
    async with (
        anthropic.AsyncAnthropic(base_url=fake.anthropic_base_url, api_key=fake.api_key) as client,
        client.messages.stream(model=MODEL, max_tokens=200, messages=HELLO) as stream,
    ):
        pieces = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 3
    assert final.usage.output_tokens > 0


def test_stream_event_order(http: httpx.Client, anthropic_headers: dict[str, str]) -> None:
    body = {"model": MODEL, "max_tokens": 50, "messages": HELLO, "stream": True}
    with http.stream("POST", "/v1/messages", json=body, headers=anthropic_headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        names = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_tool_use_then_tool_result(client: anthropic.Anthropic) -> None:
    first = client.messages.create(
        model=MODEL,
        max_tokens=200,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert first.stop_reason == "tool_use"
    block = first.content[0]
    assert block.type == "tool_use"
    assert block.id.startswith("toolu_")
    assert block.name == "get_weather"
    assert block.input == {"city": "example"}

    second = client.messages.create(
        model=MODEL,
        max_tokens=200,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [block.model_dump()]},  # type: ignore[list-item]
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": block.id, "content": "18C, cloudy"}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert "18C, cloudy" in second.content[0].text


def test_streamed_tool_use(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL,
        max_tokens=200,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == {"city": "example"}


def test_max_tokens_and_stop_sequences(client: anthropic.Anthropic) -> None:
    short = client.messages.create(model=MODEL, max_tokens=2, messages=HELLO)
    assert short.stop_reason == "max_tokens"
    assert short.usage.output_tokens == 2

    stopped = client.messages.create(
        model=MODEL, max_tokens=100, stop_sequences=["fake"], messages=HELLO
    )
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == "fake"
    assert stopped.content[0].type == "text"
    assert stopped.content[0].text == "Hello from the devora "


def test_overloaded_529(client: anthropic.Anthropic, fake: FakeProviderServer) -> None:
    fake.faults.push(Fault.overloaded())
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_rate_limit_429(client: anthropic.Anthropic, fake: FakeProviderServer) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=3))
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    headers = caught.value.response.headers
    assert headers["retry-after"] == "3"
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_error_event_mid_stream_raises(
    client: anthropic.Anthropic, fake: FakeProviderServer
) -> None:
    fake.faults.push(Fault.stream_error_event())
    pieces: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream,
    ):
        pieces.extend(stream.text_stream)
    assert len(pieces) == 2
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_unknown_model_and_wrong_key(fake: FakeProviderServer) -> None:
    with (
        anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key=fake.api_key) as client,
        pytest.raises(anthropic.NotFoundError) as missing,
    ):
        client.messages.create(model="claude-9", max_tokens=10, messages=HELLO)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with (
        anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="sk-ant-wrong-123456") as bad,
        pytest.raises(anthropic.AuthenticationError) as denied,
    ):
        bad.messages.create(model=MODEL, max_tokens=10, messages=HELLO)
    assert "sk-ant-wrong" not in denied.value.response.text


def test_x_api_key_and_bearer_both_accepted(http: httpx.Client, fake: FakeProviderServer) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": HELLO}
    version = {"anthropic-version": "2023-06-01"}
    by_key = http.post("/v1/messages", json=body, headers={"x-api-key": fake.api_key, **version})
    by_bearer = http.post(
        "/v1/messages", json=body, headers={"authorization": f"Bearer {fake.api_key}", **version}
    )
    assert by_key.status_code == by_bearer.status_code == 200
    wrong = http.post("/v1/messages", json=body, headers={"x-api-key": "nope-nope", **version})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert wrong.json()["type"] == "error"


def test_missing_anthropic_version_is_400(http: httpx.Client, fake: FakeProviderServer) -> None:
    response = http.post(
        "/v1/messages",
        json={"model": MODEL, "max_tokens": 10, "messages": HELLO},
        headers={"x-api-key": fake.api_key},
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "anthropic-version: header is required",
    }


def _cached_request(client: anthropic.Anthropic, question: str) -> anthropic.types.Usage:
    long_context = "The devora handbook. " * 300
    message = client.messages.create(
        model=MODEL,
        max_tokens=50,
        system=[
            {"type": "text", "text": "You answer questions about the handbook."},
            {"type": "text", "text": long_context, "cache_control": {"type": "ephemeral"}},
        ],
        messages=[{"role": "user", "content": question}],
    )
    return message.usage


def test_prompt_cache_write_then_read(client: anthropic.Anthropic) -> None:
    first = _cached_request(client, "What is chapter one about?")
    second = _cached_request(client, "And chapter two?")

    assert first.cache_creation_input_tokens is not None
    assert first.cache_creation_input_tokens > 1000
    assert first.cache_read_input_tokens == 0
    assert second.cache_creation_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    # cached tokens are reported beside input_tokens, not inside it
    assert first.input_tokens < 100
    assert second.input_tokens < 100


def test_prompt_cache_is_per_content_and_reset(
    client: anthropic.Anthropic, fake: FakeProviderServer
) -> None:
    _cached_request(client, "q")
    fake.reset()
    assert _cached_request(client, "q").cache_read_input_tokens == 0
    assert (
        client.messages.create(
            model=MODEL, max_tokens=5, messages=HELLO
        ).usage.cache_read_input_tokens
        == 0
    )


def test_count_tokens_and_models(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model=MODEL, messages=HELLO)
    created = client.messages.create(model=MODEL, max_tokens=5, messages=HELLO)
    assert counted.input_tokens == created.usage.input_tokens
    ids = [model.id for model in client.models.list()]
    assert MODEL in ids
    assert all(i.startswith("claude") for i in ids)
    assert client.models.retrieve(MODEL).id == MODEL
