"""The Anthropic fake's parameter rules and extended thinking: unknown fields and metadata
refused as the real API refuses them, thinking only where the model and the other
parameters allow it, and thinking blocks the official `anthropic` SDK parses in messages
and streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from ai.testing import FakeProviderServer, Fault
from ai.testing.anthropic_thinking import think
from ai.testing.replies import Turn, default_text
from ai.testing.token_counting import count_tokens

MODEL = "claude-sonnet-4-5"
HELLO: list[Any] = [{"role": "user", "content": "Hello Claude"}]
THINKING: Any = {"type": "enabled", "budget_tokens": 1024}
OK: dict[str, Any] = {"model": MODEL, "max_tokens": 2048, "messages": HELLO}
WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def client(fake: FakeProviderServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=fake.anthropic_base_url, api_key=fake.api_key, max_retries=0
    ) as c:
        yield c


def post(
    http: httpx.Client, headers: dict[str, str], body: dict[str, Any], path: str = "/v1/messages"
) -> httpx.Response:
    return http.post(path, json=body, headers=headers)


def refusal(http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = post(http, headers, body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    message: str = payload["error"]["message"]
    return message


def expected_thinking(model: str = MODEL, user_text: str = "Hello Claude") -> str:
    return think(model, Turn(model=model, user_text=user_text)).text


# --- fields the Messages API does not know ------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seed", 7),
        ("response_format", {"type": "json_object"}),
        ("n", 2),
        ("frequency_penalty", 0.5),
        ("presence_penalty", 0.5),
        ("logprobs", True),
        ("max_completion_tokens", 100),
        ("reasoning_effort", "high"),
        ("stop", ["END"]),
        ("user", "u-1"),
    ],
)
def test_unknown_fields_are_extra_inputs(
    field: str, value: Any, http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    message = refusal(http, anthropic_headers, {**OK, field: value})
    assert message == f"{field}: Extra inputs are not permitted"


def test_the_sdk_sees_extra_inputs_as_bad_request(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=MODEL, max_tokens=50, messages=HELLO, extra_body={"seed": 1})
    assert refused.value.body["error"] == {  # type: ignore[index]
        "type": "invalid_request_error",
        "message": "seed: Extra inputs are not permitted",
    }


def test_every_documented_field_is_accepted(
    http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    body = {
        **OK,
        "model": "claude-3-5-haiku-20241022",
        "system": "Be brief.",
        "metadata": {"user_id": "user-123"},
        "stop_sequences": ["\n\nHuman:"],
        "stream": False,
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "none"},
        "service_tier": "auto",
        "mcp_servers": [],
        "thinking": {"type": "disabled"},
    }
    response = post(http, anthropic_headers, body)
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["type"] == "text"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"session": "s"}, "metadata.session: Extra inputs are not permitted"),
        ({"user_id": "u", "trace": "t"}, "metadata.trace: Extra inputs are not permitted"),
        ({"user_id": 42}, "metadata.user_id: Input should be a valid string"),
        ({"user_id": "u" * 257}, "metadata.user_id: String should have at most 256 characters"),
        ("user-1", "metadata: Input should be a valid dictionary"),
    ],
)
def test_metadata_takes_only_a_user_id(
    metadata: Any, message: str, http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    assert message in refusal(http, anthropic_headers, {**OK, "metadata": metadata})


def test_count_tokens_applies_the_same_field_rules(
    http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    path = "/v1/messages/count_tokens"
    body = {"model": MODEL, "messages": HELLO}
    assert post(http, anthropic_headers, {**body, "thinking": THINKING}, path).status_code == 200
    seeded = post(http, anthropic_headers, {**body, "seed": 1}, path)
    assert seeded.status_code == 400
    assert seeded.json()["error"]["message"] == "seed: Extra inputs are not permitted"


# --- when thinking is allowed -------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "claude-3-7-sonnet-20250219",
        "claude-sonnet-4-20250514",
        "claude-sonnet-4-5",
        "claude-opus-4-1",
        "claude-haiku-4-5",
    ],
)
def test_thinking_models(model: str, http: httpx.Client, anthropic_headers: dict[str, str]) -> None:
    response = post(http, anthropic_headers, {**OK, "model": model, "thinking": THINKING})
    assert response.status_code == 200, response.text
    assert [block["type"] for block in response.json()["content"]] == ["thinking", "text"]


@pytest.mark.parametrize(
    "model",
    ["claude-3-haiku-20240307", "claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022"],
)
def test_older_models_do_not_think(
    model: str, http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    body = {**OK, "model": model, "thinking": THINKING}
    assert refusal(http, anthropic_headers, body) == f"'{model}' does not support thinking."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"temperature": 0.5},
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            "documentation at https://docs.claude.com/en/docs/build-with-claude/"
            "extended-thinking#important-considerations-when-using-extended-thinking",
        ),
        ({"temperature": 0}, "`temperature` may only be set to 1 when thinking is enabled."),
        ({"top_k": 5}, "`top_k` must be unset when thinking is enabled."),
        ({"top_p": 0.9}, "`top_p` must be greater than or equal to 0.95 or unset"),
        (
            {"tools": [WEATHER_TOOL], "tool_choice": {"type": "any"}},
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
        (
            {"tools": [WEATHER_TOOL], "tool_choice": {"type": "tool", "name": "get_weather"}},
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
        ({"max_tokens": 1024}, "`max_tokens` must be greater than `thinking.budget_tokens`."),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 1023}},
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            {"thinking": {"type": "enabled"}},
            "thinking.enabled.budget_tokens: Field required",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": "lots"}},
            "thinking.enabled.budget_tokens: Input should be a valid integer",
        ),
        (
            {"thinking": {"type": "sometimes"}},
            "thinking: Input tag 'sometimes' found using 'type' does not match any of the "
            "expected tags: 'enabled', 'disabled'",
        ),
        ({"thinking": {"budget_tokens": 2000}}, "thinking: Unable to extract tag"),
        ({"thinking": True}, "thinking: Input should be a valid dictionary"),
    ],
)
def test_what_thinking_forbids(
    change: dict[str, Any], message: str, http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    body = {**OK, "thinking": THINKING, **change}
    assert message in refusal(http, anthropic_headers, body)


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 1},
        {"top_p": 0.95},
        {"top_p": 1},
        {"tools": [WEATHER_TOOL], "tool_choice": {"type": "auto"}},
        {"tools": [WEATHER_TOOL], "tool_choice": {"type": "none"}},
    ],
)
def test_what_thinking_allows(
    change: dict[str, Any], http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    response = post(http, anthropic_headers, {**OK, "thinking": THINKING, **change})
    assert response.status_code == 200, response.text


def test_sdk_raises_bad_request_for_thinking_with_temperature(
    client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(
            model=MODEL,
            max_tokens=2048,
            messages=HELLO,
            thinking=THINKING,
            extra_body={"temperature": 0.2},  # this SDK no longer offers `temperature`
        )
    assert refused.value.status_code == 400
    assert "`temperature` may only be set to 1" in refused.value.message


# --- thinking answers ---------------------------------------------------------------------


def test_create_returns_a_thinking_block_then_text(client: anthropic.Anthropic) -> None:
    plain = client.messages.create(model=MODEL, max_tokens=2048, messages=HELLO)
    message = client.messages.create(
        model=MODEL, max_tokens=2048, messages=HELLO, thinking=THINKING
    )
    thinking, text = message.content
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert isinstance(text, anthropic.types.TextBlock)
    assert thinking.thinking == expected_thinking()
    assert thinking.signature
    assert text.text == default_text(MODEL, "Hello Claude")
    assert message.stop_reason == "end_turn"
    # thinking is billed as output and not reported apart
    assert message.usage.output_tokens == plain.usage.output_tokens + count_tokens(
        thinking.thinking
    )
    assert message.usage.input_tokens == plain.usage.input_tokens
    again = client.messages.create(model=MODEL, max_tokens=2048, messages=HELLO, thinking=THINKING)
    assert again.content[0] == thinking  # deterministic, signature included


def test_thinking_before_a_tool_call_and_after_its_result(client: anthropic.Anthropic) -> None:
    question: Any = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(
        model=MODEL, max_tokens=2048, messages=question, thinking=THINKING, tools=[WEATHER_TOOL]
    )
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    assert first.stop_reason == "tool_use"
    thinking, call = first.content
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert isinstance(call, anthropic.types.ToolUseBlock)
    assert "get_weather" in thinking.thinking
    second = client.messages.create(
        model=MODEL,
        max_tokens=2048,
        thinking=THINKING,
        tools=[WEATHER_TOOL],
        messages=[
            *question,
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C"}],
            },
        ],
    )
    assert [block.type for block in second.content] == ["thinking", "text"]
    assert "18C" in second.content[1].text  # type: ignore[union-attr]


def test_max_tokens_bounds_thinking_and_text_together(
    client: anthropic.Anthropic, fake: FakeProviderServer
) -> None:
    fake.replies.push("word " * 3000)
    message = client.messages.create(
        model=MODEL, max_tokens=1100, messages=HELLO, thinking=THINKING
    )
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 1100
    thinking, text = message.content
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert isinstance(text, anthropic.types.TextBlock)
    assert count_tokens(thinking.thinking) + count_tokens(text.text) == 1100


def test_stream_yields_thinking_deltas_then_text(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=2048, messages=HELLO, thinking=THINKING
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    thought = "".join(e.thinking for e in events if e.type == "thinking")
    signatures = [e.signature for e in events if e.type == "signature"]
    text = "".join(e.text for e in events if e.type == "text")
    assert thought == expected_thinking()
    assert len(signatures) == 1
    assert text == default_text(MODEL, "Hello Claude")
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].signature == signatures[0]  # type: ignore[union-attr]
    created = client.messages.create(
        model=MODEL, max_tokens=2048, messages=HELLO, thinking=THINKING
    )
    assert final.usage.output_tokens == created.usage.output_tokens


async def test_async_stream_text_stream_carries_only_the_answer(
    fake: FakeProviderServer,
) -> None:
    async with (
        anthropic.AsyncAnthropic(base_url=fake.anthropic_base_url, api_key=fake.api_key) as client,
        client.messages.stream(
            model="claude-opus-4-1", max_tokens=4096, messages=HELLO, thinking=THINKING
        ) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == default_text("claude-opus-4-1", "Hello Claude")
    assert final.content[0].type == "thinking"


def _events(http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> list[Any]:
    with http.stream("POST", "/v1/messages", json=body, headers=headers) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    return [json.loads(line[6:]) for line in lines]


def test_stream_event_order_with_thinking(
    http: httpx.Client, anthropic_headers: dict[str, str]
) -> None:
    events = _events(http, anthropic_headers, {**OK, "thinking": THINKING, "stream": True})
    kinds = [event["type"] for event in events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    assert events[1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    }
    deltas = [
        (e["index"], e["delta"]["type"]) for e in events if e["type"] == "content_block_delta"
    ]
    thinking = [d for d in deltas if d[0] == 0]
    assert thinking[-1] == (0, "signature_delta")
    assert {kind for _, kind in thinking[:-1]} == {"thinking_delta"}
    assert {d for d in deltas if d[0] == 1} == {(1, "text_delta")}
    stops = [e["index"] for e in events if e["type"] == "content_block_stop"]
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert stops == [0, 1]
    assert starts[1]["content_block"] == {"type": "text", "text": ""}
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert events[-2]["usage"]["output_tokens"] > count_tokens(default_text(MODEL, "Hello Claude"))


def test_giant_line_goes_into_the_answer_block(
    http: httpx.Client, anthropic_headers: dict[str, str], fake: FakeProviderServer
) -> None:
    fake.faults.push(Fault.giant_line(5000))
    events = _events(http, anthropic_headers, {**OK, "thinking": THINKING, "stream": True})
    giant = [
        e
        for e in events
        if e["type"] == "content_block_delta" and len(e["delta"].get("text", "")) == 5000
    ]
    assert len(giant) == 1
    assert giant[0]["index"] == 1
