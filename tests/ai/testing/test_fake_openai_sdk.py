"""The official `openai` SDK, sync and async, against the OpenAI and OpenRouter fakes.

The SDK is the judge of wire fidelity: if it parses our JSON and SSE, raises the right
exception classes and retries on its own, real clients will too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import openai
import pytest
from pydantic import BaseModel

from ai.testing import FakeProviderServer, Fault
from ai.testing.replies import default_text

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "metric": {"type": "boolean"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "note": {"type": "string"},
            },
            "required": ["city", "days", "metric", "unit"],
        },
    },
}
HELLO = [{"role": "user", "content": "Hello there"}]


@dataclass(frozen=True)
class Target:
    """One OpenAI-format host: where it lives and a model it serves."""

    name: str
    base_url: str
    model: str
    api_key: str


@pytest.fixture(params=["openai", "openrouter"])
def target(request: pytest.FixtureRequest, fake: FakeProviderServer) -> Target:
    if request.param == "openai":
        return Target("openai", fake.openai_base_url, "gpt-4o-mini", fake.api_key)
    return Target("openrouter", fake.openrouter_base_url, "openai/gpt-4o-mini", fake.api_key)


@pytest.fixture
def client(target: Target) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=0) as c:
        yield c


@pytest.fixture
def async_client(target: Target) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=0)


def test_chat_completion_object(client: openai.OpenAI, target: Target) -> None:
    completion = client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]

    choice = completion.choices[0]
    assert choice.message.content == default_text(target.model, "Hello there")
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    assert completion.model == target.model
    usage = completion.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    if target.name == "openai":
        assert completion.id.startswith("chatcmpl-")
        assert completion.system_fingerprint
    else:
        assert completion.id.startswith("gen-")
        extra = completion.model_extra or {}
        assert extra["provider"] == "OpenAI"
        assert isinstance((usage.model_extra or {})["cost"], float)


async def test_async_chat_completion(async_client: openai.AsyncOpenAI, target: Target) -> None:
    async with async_client:
        completion = await async_client.chat.completions.create(
            model=target.model,
            messages=HELLO,  # type: ignore[arg-type]
        )
    assert completion.choices[0].message.content == default_text(target.model, "Hello there")


def test_pushed_reply_is_answered_verbatim(
    client: openai.OpenAI, target: Target, fake: FakeProviderServer
) -> None:
    fake.replies.push("exact text")
    first = client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]
    second = client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]
    assert first.choices[0].message.content == "exact text"
    assert second.choices[0].message.content == default_text(target.model, "Hello there")


def test_stream_with_include_usage(client: openai.OpenAI, target: Target) -> None:
    stream = client.chat.completions.create(
        model=target.model,
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == default_text(target.model, "Hello there")
    assert all(c.usage is None for c in chunks[:-1])
    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None
    assert final.usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    if target.name == "openrouter":
        assert isinstance((final.usage.model_extra or {})["cost"], float)


async def test_async_stream_with_include_usage(
    async_client: openai.AsyncOpenAI, target: Target
) -> None:
    async with async_client:
        stream = await async_client.chat.completions.create(
            model=target.model,
            messages=HELLO,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens > 0


def test_usage_chunk_only_on_request_for_openai_but_always_for_openrouter(
    client: openai.OpenAI, target: Target
) -> None:
    chunks = list(
        client.chat.completions.create(model=target.model, messages=HELLO, stream=True)  # type: ignore[arg-type]
    )
    if target.name == "openai":
        assert all(chunk.choices for chunk in chunks)
        assert all(chunk.usage is None for chunk in chunks)
    else:
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None


def test_tool_call_then_tool_result(client: openai.OpenAI, target: Target) -> None:
    first = client.chat.completions.create(
        model=target.model,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {
        "city": "example",
        "days": 1,
        "metric": True,
        "unit": "celsius",
    }

    second = client.chat.completions.create(
        model=target.model,
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "22 degrees and sunny"},
        ],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert second.choices[0].finish_reason == "stop"
    assert "22 degrees and sunny" in (second.choices[0].message.content or "")


def test_tool_choice_none_answers_text(client: openai.OpenAI, target: Target) -> None:
    completion = client.chat.completions.create(
        model=target.model,
        messages=HELLO,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="none",
    )
    assert completion.choices[0].message.tool_calls is None


def test_streamed_tool_call(client: openai.OpenAI, target: Target) -> None:
    stream = client.chat.completions.create(
        model=target.model,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        stream=True,
    )
    name, arguments, call_id, finish = "", "", None, None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for part in delta.tool_calls or []:
            assert part.index == 0
            call_id = part.id or call_id
            if part.function is not None:
                name += part.function.name or ""
                arguments += part.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather"
    assert call_id is not None
    assert call_id.startswith("call_")
    assert json.loads(arguments)["city"] == "example"
    assert finish == "tool_calls"


def test_stream_helper_accumulates(client: openai.OpenAI, target: Target) -> None:
    with client.chat.completions.stream(model=target.model, messages=HELLO) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    assert final.choices[0].message.content == default_text(target.model, "Hello there")


class Forecast(BaseModel):
    city: str
    days: int


def test_structured_output_parse(client: openai.OpenAI, target: Target) -> None:
    completion = client.chat.completions.parse(
        model=target.model,
        messages=HELLO,  # type: ignore[arg-type]
        response_format=Forecast,
    )
    assert completion.choices[0].message.parsed == Forecast(city="example", days=1)


def test_max_tokens_truncates_with_length(client: openai.OpenAI, target: Target) -> None:
    completion = client.chat.completions.create(
        model=target.model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=3,
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3
    assert default_text(target.model, "Hello there").startswith(
        completion.choices[0].message.content or "-"
    )


def test_embeddings_default_base64_matches_float(fake: FakeProviderServer) -> None:
    with openai.OpenAI(base_url=fake.openai_base_url, api_key=fake.api_key) as client:
        default = client.embeddings.create(model="text-embedding-3-small", input=["a", "b c"])
        floats = client.embeddings.create(
            model="text-embedding-3-small", input=["a", "b c"], encoding_format="float"
        )
    assert fake.requests[0].body.get("encoding_format") == "base64"
    assert [d.index for d in default.data] == [0, 1]
    assert len(default.data[0].embedding) == 1536
    for packed, plain in zip(default.data, floats.data, strict=True):
        assert packed.embedding == pytest.approx(plain.embedding, abs=1e-6)
    assert default.usage.prompt_tokens == default.usage.total_tokens > 0


async def test_async_embeddings_with_dimensions(fake: FakeProviderServer) -> None:
    async with openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key=fake.api_key) as client:
        result = await client.embeddings.create(
            model="text-embedding-3-large", input="hello", dimensions=256
        )
    vector = result.data[0].embedding
    assert len(vector) == 256
    assert sum(v * v for v in vector) == pytest.approx(1.0, abs=1e-5)


def test_wrong_key_raises_authentication_error(target: Target) -> None:
    bad = "sk-wrong-key-0123456789"
    with (
        openai.OpenAI(base_url=target.base_url, api_key=bad, max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 401
    assert bad not in caught.value.response.text


def test_unknown_model_raises_not_found(client: openai.OpenAI, target: Target) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model/x", messages=HELLO)  # type: ignore[arg-type]


def test_rate_limit_fault_raises_rate_limit_error(
    client: openai.OpenAI, target: Target, fake: FakeProviderServer
) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=2))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.response.headers["retry-after"] == "2"
    # the fault was used once: the next call succeeds
    client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]


def test_sdk_retries_after_one_server_error(target: Target, fake: FakeProviderServer) -> None:
    fake.faults.push(Fault.server_error(500))
    with openai.OpenAI(base_url=target.base_url, api_key=target.api_key, max_retries=2) as client:
        completion = client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]
    assert completion.choices[0].message.content
    assert fake.request_count(model=target.model) == 2
    assert [r.fault for r in fake.requests] == ["server_error", None]
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"


def test_stream_error_event_raises_api_error(
    client: openai.OpenAI, target: Target, fake: FakeProviderServer
) -> None:
    fake.faults.push(Fault.stream_error_event())
    received: list[object] = []
    stream = client.chat.completions.create(
        model=target.model,
        messages=HELLO,  # type: ignore[arg-type]
        stream=True,
    )
    with pytest.raises(openai.APIError):
        received.extend(stream)
    assert len(received) >= 3  # the role chunk and two content deltas came first


def test_disconnect_raises_connection_error(
    client: openai.OpenAI, target: Target, fake: FakeProviderServer
) -> None:
    fake.faults.push(Fault.disconnect())
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]


def test_openrouter_attribution_headers_are_recorded(fake: FakeProviderServer) -> None:
    with openai.OpenAI(
        base_url=fake.openrouter_base_url,
        api_key=fake.api_key,
        default_headers={"HTTP-Referer": "https://devora.example", "X-Title": "Devora tests"},
    ) as client:
        client.chat.completions.create(
            model="anthropic/claude-3-haiku",
            messages=HELLO,  # type: ignore[arg-type]
            extra_body={"usage": {"include": True}},
        )
    recorded = fake.requests[-1]
    assert recorded.api == "openrouter"
    assert recorded.headers["http-referer"] == "https://devora.example"
    assert recorded.headers["x-title"] == "Devora tests"
    assert recorded.headers["authorization"] == "Bearer sk-...ake"


def test_models_list_and_retrieve(fake: FakeProviderServer) -> None:
    with openai.OpenAI(base_url=fake.openai_base_url, api_key=fake.api_key) as client:
        ids = {model.id for model in client.models.list()}
        assert {"gpt-4o-mini", "text-embedding-3-small"} <= ids
        assert not any(i.startswith("claude") or "/" in i for i in ids)
        assert client.models.retrieve("gpt-4o").id == "gpt-4o"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("gpt-9")


def test_automatic_prompt_caching_for_long_prompts(client: openai.OpenAI, target: Target) -> None:
    system = {"role": "system", "content": "Policy handbook. " * 400}

    def ask(question: str) -> openai.types.CompletionUsage:
        completion = client.chat.completions.create(
            model=target.model,
            messages=[system, {"role": "user", "content": question}],  # type: ignore[list-item]
        )
        assert completion.usage is not None
        return completion.usage

    first, second = ask("first question"), ask("second question")
    assert first.prompt_tokens_details is not None
    assert second.prompt_tokens_details is not None
    assert first.prompt_tokens_details.cached_tokens == 0
    cached = second.prompt_tokens_details.cached_tokens
    assert cached is not None
    assert cached >= 1024
    assert cached % 128 == 0
    assert cached <= second.prompt_tokens
    if target.name == "openrouter":
        assert (second.model_extra or {})["cost"] < (first.model_extra or {})["cost"]
    # a prompt under 1024 tokens is never cached, however often it is repeated
    for _ in range(2):
        short = client.chat.completions.create(model=target.model, messages=HELLO)  # type: ignore[arg-type]
    assert short.usage is not None
    assert short.usage.prompt_tokens_details is not None
    assert short.usage.prompt_tokens_details.cached_tokens == 0
