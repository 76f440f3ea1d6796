"""`chat.completion` objects: accepted by the SDK's types and by its client."""

from __future__ import annotations

import json

from openai.types.chat import ChatCompletion

from ai.providers.openai_serving import (
    ChoiceOutput,
    CompletionMeta,
    FinishReason,
    ToolCallOutput,
    completion_object,
    dumps,
    usage_object,
)
from tests.ai.providers.openai_serving.sdk_answers import json_answer, sdk_client

META = CompletionMeta(id="chatcmpl-abc", model="gpt-4o-mini", created=1_700_000_000)
CALL = ToolCallOutput(id="call_1", name="get_weather", arguments='{"city":"Oslo"}')


def test_a_text_answer_validates_as_chat_completion() -> None:
    body = completion_object(
        META, [ChoiceOutput("Hello", FinishReason.STOP)], usage_object(12, 3, cached_tokens=2)
    )
    completion = ChatCompletion.model_validate(body)
    assert completion.id == "chatcmpl-abc"
    assert completion.object == "chat.completion"
    assert completion.created == 1_700_000_000
    assert completion.choices[0].message.content == "Hello"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.total_tokens) == (12, 15)
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 2


def test_field_order_follows_the_real_api() -> None:
    body = completion_object(META, [ChoiceOutput("x", FinishReason.STOP)], None)
    assert list(body) == [
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "service_tier",
        "system_fingerprint",
    ]
    assert list(body["choices"][0]) == ["index", "message", "logprobs", "finish_reason"]
    assert list(body["choices"][0]["message"]) == ["role", "content", "refusal", "annotations"]


def test_tool_calls_and_several_choices() -> None:
    other = ToolCallOutput(id="call_2", name="get_time", arguments="{}")
    choices = [
        ChoiceOutput(None, FinishReason.TOOL_CALLS, (CALL, other)),
        ChoiceOutput("no tools here", FinishReason.LENGTH),
    ]
    completion = ChatCompletion.model_validate(completion_object(META, choices, usage_object(1, 2)))
    first, second = completion.choices
    assert (first.index, second.index) == (0, 1)
    assert first.message.content is None
    assert first.finish_reason == "tool_calls"
    calls = [call.model_dump() for call in first.message.tool_calls or []]
    assert calls == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
        },
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    assert second.message.tool_calls is None
    assert second.finish_reason == "length"


def test_host_extensions_are_opt_in() -> None:
    meta = CompletionMeta(
        id="gen-1",
        model="openai/gpt-4o",
        created=1,
        system_fingerprint="fp_x",
        provider="OpenAI",
        native_finish_reason=True,
    )
    usage = {**usage_object(1, 1), "cost": 0.25}
    body = completion_object(meta, [ChoiceOutput("x", FinishReason.STOP)], usage)
    assert list(body)[:5] == ["id", "object", "created", "model", "provider"]
    assert body["choices"][0]["native_finish_reason"] == "stop"
    assert body["usage"]["cost"] == 0.25
    assert body["system_fingerprint"] == "fp_x"
    ChatCompletion.model_validate(body)
    plain = completion_object(META, [ChoiceOutput("x", FinishReason.STOP)], None)
    assert "provider" not in plain
    assert "native_finish_reason" not in plain["choices"][0]


def test_the_sdk_client_parses_the_encoded_answer() -> None:
    body = completion_object(META, [ChoiceOutput("Hi \u2028 there", FinishReason.STOP)], None)
    assert json.loads(dumps(body)) == body
    with sdk_client(json_answer(body)) as client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "Hi \u2028 there"
