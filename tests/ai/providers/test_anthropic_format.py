"""Anthropic Messages wire format: conversion from OpenAI shapes, answers, streams, errors."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.core.usage import Usage
from ai.errors import (
    AuthenticationError,
    ContextLengthError,
    ModelNotFoundError,
    OverloadedError,
    ProviderError,
    RateLimitError,
)
from ai.providers.anthropic_format import (
    ANTHROPIC_VERSION,
    DEFAULT_MAX_TOKENS,
    RESPONSE_TOOL,
    AnthropicMessagesFormat,
)
from ai.providers.base import ChatRequest, MalformedResponse, StreamErrorEvent

WIRE = AnthropicMessagesFormat()
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
SMALL = (
    JSON_SCALARS
    | st.lists(JSON_SCALARS, max_size=2)
    | st.dictionaries(st.text(max_size=3), JSON_SCALARS, max_size=2)
)


def objects_with(keys: list[str], values: st.SearchStrategy[Any] = JSON_VALUES) -> Any:
    """JSON objects with keys where the parser looks, holding arbitrary values."""
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))


def body_for(messages: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "model": "claude-3-5-haiku-20241022",
        "messages": messages,
        "temperature": None,
        "max_tokens": 1024,
    }
    settings.update(overrides)
    return WIRE.request_body(ChatRequest(**settings))


def error(status: int, body: Any, *, retry_after: float | None = None) -> ProviderError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WIRE.error_from_status(
        status, raw, provider="anthropic", model="claude-3-5-haiku", retry_after=retry_after
    )


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


# --- request bodies -----------------------------------------------------------------------


def test_paths_and_version() -> None:
    assert WIRE.chat_path == "/v1/messages"
    assert ANTHROPIC_VERSION == "2023-06-01"


def test_plain_request_body() -> None:
    body = body_for([{"role": "user", "content": "Hi"}], temperature=0.3)
    assert body == {
        "model": "claude-3-5-haiku-20241022",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 1024,
        "temperature": 0.3,
    }


def test_max_tokens_defaults_because_anthropic_requires_it() -> None:
    body = body_for([{"role": "user", "content": "Hi"}], max_tokens=None)
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS == 4096
    assert "temperature" not in body


def test_stream_flag_without_openai_stream_options() -> None:
    body = body_for([{"role": "user", "content": "Hi"}], stream=True)
    assert body["stream"] is True
    assert "stream_options" not in body


def test_system_messages_move_to_top_level_system() -> None:
    body = body_for(
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": "Answer in French."},
            {"role": "assistant", "content": "Bonjour"},
        ]
    )
    assert body["system"] == "You are terse.\n\nAnswer in French."
    assert body["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Bonjour"},
    ]


def test_no_system_key_without_system_messages() -> None:
    assert "system" not in body_for([{"role": "user", "content": "Hi"}])


def test_system_blocks_are_kept_as_blocks() -> None:
    cached = {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}
    body = body_for(
        [
            {"role": "system", "content": [cached]},
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hi"},
        ]
    )
    assert body["system"] == [cached, {"type": "text", "text": "Be kind."}]


def test_assistant_tool_calls_become_tool_use_blocks_and_results_one_user_turn() -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18°C, cloudy"},
        {"role": "tool", "tool_call_id": "call_2", "content": "24°C, sunny"},
        {"role": "user", "content": "Thanks"},
    ]
    body = body_for(messages)
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "get_weather",
                    "input": {"location": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18°C, cloudy"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "24°C, sunny"},
            ],
        },
        {"role": "user", "content": "Thanks"},
    ]
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "18°C, cloudy"}


def test_assistant_tool_call_without_text_or_arguments() -> None:
    messages = [
        {"role": "user", "content": "Time?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "now", "arguments": ""}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": None},
    ]
    body = body_for(messages)
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "c", "name": "now", "input": {}}],
    }
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c", "content": ""}
    ]


def test_unparseable_tool_arguments_are_kept_raw() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    body = body_for([{"role": "assistant", "content": "", "tool_calls": [call]}])
    assert body["messages"][0]["content"] == [
        {"type": "tool_use", "id": "c", "name": "f", "input": {"_raw": "{oops"}}
    ]


def test_tool_results_separated_by_a_user_turn_are_not_merged() -> None:
    messages = [
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "user", "content": "and?"},
        {"role": "tool", "tool_call_id": "b", "content": "2"},
    ]
    converted = body_for(messages)["messages"]
    assert [len(m["content"]) if isinstance(m["content"], list) else 0 for m in converted] == [
        1,
        0,
        1,
    ]


def test_image_url_parts_become_image_blocks() -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    converted = body_for([{"role": "user", "content": content}])["messages"][0]["content"]
    assert converted == [
        {"type": "text", "text": "What is this?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_openai_tools_are_converted() -> None:
    body = body_for([{"role": "user", "content": "Hi"}], tools=[WEATHER_TOOL])
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tool = {"type": "function", "function": {"name": "now"}}
    body = body_for([{"role": "user", "content": "Hi"}], tools=[tool])
    assert body["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


def test_anthropic_shaped_tools_pass_through() -> None:
    native = {"name": "f", "input_schema": {"type": "object"}, "cache_control": {"x": 1}}
    server_tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    body = body_for([{"role": "user", "content": "Hi"}], tools=[native, server_tool])
    assert body["tools"] == [native, server_tool]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
        ({"type": "any"}, {"type": "any"}),
    ],
)
def test_tool_choice_is_converted(choice: Any, expected: dict[str, Any]) -> None:
    body = body_for([{"role": "user", "content": "Hi"}], tools=[WEATHER_TOOL], tool_choice=choice)
    assert body["tool_choice"] == expected


@pytest.mark.parametrize(
    ("stop", "expected"), [("END", ["END"]), (["\n\nHuman:", "###"], ["\n\nHuman:", "###"])]
)
def test_stop_becomes_stop_sequences(stop: Any, expected: list[str]) -> None:
    body = body_for([{"role": "user", "content": "Hi"}], extra={"stop": stop, "top_k": 5})
    assert body["stop_sequences"] == expected
    assert "stop" not in body
    assert body["top_k"] == 5


# --- parse_response -----------------------------------------------------------------------


def message(**overrides: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 6,
        },
    }
    answer.update(overrides)
    return answer


def test_parse_plain_answer() -> None:
    result = WIRE.parse_response(message())
    assert result.text == "Hello!"
    assert result.model == "claude-3-5-haiku-20241022"
    assert result.response_id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert result.finish_reason == "stop"
    assert result.tool_calls == []
    assert result.usage == Usage(input_tokens=12, output_tokens=6)


def test_cache_tokens_are_folded_into_input_tokens_as_subsets() -> None:
    usage = {
        "input_tokens": 50,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 2000,
        "output_tokens": 100,
    }
    parsed = WIRE.parse_response(message(usage=usage)).usage
    assert parsed == Usage(
        input_tokens=3050,
        output_tokens=100,
        cached_input_tokens=2000,
        cache_creation_tokens=1000,
    )
    assert parsed.uncached_input_tokens == 50
    assert parsed.total_tokens == 3150


def test_usage_without_cache_fields() -> None:
    usage = {"input_tokens": 7, "output_tokens": 3}
    assert WIRE.parse_response(message(usage=usage)).usage == Usage(7, 3)


def test_text_blocks_are_joined_and_tool_use_normalised_to_openai_shape() -> None:
    content = [
        {"type": "text", "text": "I'll check "},
        {"type": "text", "text": "the weather."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"location": "Paris", "unit": "celsius"},
        },
    ]
    result = WIRE.parse_response(message(content=content, stop_reason="tool_use"))
    assert result.text == "I'll check the weather."
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [
        {
            "id": "toolu_01A09q90qw90lq917835lq9",
            "type": "function",
            "function": {
                "name": "get_weather",
                "arguments": json.dumps({"location": "Paris", "unit": "celsius"}),
            },
        }
    ]
    arguments = json.loads(result.tool_calls[0]["function"]["arguments"])
    assert arguments == {"location": "Paris", "unit": "celsius"}


def test_tool_use_with_empty_input_has_empty_object_arguments() -> None:
    content = [{"type": "tool_use", "id": "t", "name": "now", "input": {}}]
    result = WIRE.parse_response(message(content=content))
    assert result.tool_calls[0]["function"]["arguments"] == "{}"


def test_other_block_types_are_skipped() -> None:
    content = [
        {"type": "thinking", "thinking": "hmm", "signature": "abc"},
        {"type": "text", "text": "42"},
    ]
    assert WIRE.parse_response(message(content=content)).text == "42"


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", None),
        (None, None),
    ],
)
def test_stop_reasons_map_to_openai_finish_reasons(stop_reason: Any, finish: Any) -> None:
    assert WIRE.parse_response(message(stop_reason=stop_reason)).finish_reason == finish


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "Overloaded",
        {},
        {"content": "Hello"},
        {"content": ["Hello"]},
        anthropic_error("overloaded_error", "Overloaded"),
    ],
)
def test_malformed_answers_raise_malformed_response(body: Any) -> None:
    with pytest.raises(MalformedResponse):
        WIRE.parse_response(body)


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": "lots"},
        {"input_tokens": -1},
        {"input_tokens": 5, "cache_read_input_tokens": -10},
    ],
)
def test_an_unreadable_usage_keeps_the_answer(usage: Any) -> None:
    result = WIRE.parse_response({"content": [{"type": "text", "text": "x"}], "usage": usage})
    assert result.text == "x" and result.usage is None  # the service counts instead


@given(data=JSON_VALUES)
def test_arbitrary_json_only_ever_raises_malformed_response(data: Any) -> None:
    with contextlib.suppress(MalformedResponse):
        WIRE.parse_response(data)


BLOCKS = objects_with(["type", "text", "id", "name", "input"]) | st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "tool_use"])},
    optional={"text": JSON_VALUES, "id": JSON_VALUES, "name": JSON_VALUES, "input": JSON_VALUES},
)
USAGE_KEYS = [
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
]


@given(
    content=st.lists(BLOCKS | SMALL, max_size=3) | SMALL,
    usage=objects_with(USAGE_KEYS, SMALL) | SMALL,
    top=objects_with(["id", "model", "stop_reason", "type"], SMALL),
)
def test_message_shaped_json_only_ever_raises_malformed_response(
    content: Any, usage: Any, top: Any
) -> None:
    try:
        result = WIRE.parse_response({**top, "content": content, "usage": usage})
    except MalformedResponse:
        return
    assert isinstance(result.text, str)
    for call in result.tool_calls:
        assert isinstance(call["function"]["arguments"], str)


@given(
    uncached=st.integers(0, 10**7),
    created=st.integers(0, 10**7),
    read=st.integers(0, 10**7),
    output=st.integers(0, 10**7),
)
def test_folded_usage_keeps_every_count(
    uncached: int, created: int, read: int, output: int
) -> None:
    usage = {
        "input_tokens": uncached,
        "cache_creation_input_tokens": created,
        "cache_read_input_tokens": read,
        "output_tokens": output,
    }
    parsed = WIRE.parse_response(message(usage=usage)).usage
    assert parsed is not None
    assert parsed.uncached_input_tokens == uncached
    assert parsed.cached_input_tokens == read
    assert parsed.cache_creation_tokens == created
    assert parsed.input_tokens == uncached + created + read


# --- stream decoder -----------------------------------------------------------------------


def sse(kind: str, **payload: Any) -> tuple[str, str]:
    return kind, json.dumps({"type": kind, **payload})


def message_start(usage: dict[str, int]) -> tuple[str, str]:
    return sse(
        "message_start",
        message={
            "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-3-5-sonnet-20241022",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        },
    )


def text_delta(text: str, index: int = 0) -> tuple[str, str]:
    return sse("content_block_delta", index=index, delta={"type": "text_delta", "text": text})


def run(events: list[tuple[str | None, str]]) -> tuple[list[str], Any]:
    decoder = WIRE.stream_decoder()
    texts = []
    for kind, data in events:
        text = decoder.feed(kind, data)
        if text is not None:
            texts.append(text)
    return texts, decoder


def test_text_stream_with_ping_and_final_usage() -> None:
    events = [
        message_start({"input_tokens": 25, "output_tokens": 1}),
        sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        sse("ping"),
        text_delta("Hello"),
        text_delta(""),
        text_delta("!"),
        sse("content_block_stop", index=0),
        sse(
            "message_delta",
            delta={"stop_reason": "end_turn", "stop_sequence": None},
            usage={"output_tokens": 15},
        ),
    ]
    texts, decoder = run(events)
    assert texts == ["Hello", "!"]
    assert not decoder.finished()
    assert decoder.feed(*sse("message_stop")) is None
    assert decoder.finished()
    result = decoder.result()
    assert result.text == "Hello!"
    assert result.model == "claude-3-5-sonnet-20241022"
    assert result.response_id == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
    assert result.finish_reason == "stop"
    assert result.usage == Usage(input_tokens=25, output_tokens=15)
    assert result.tool_calls == []


def test_stream_cache_tokens_are_folded_into_input() -> None:
    events = [
        message_start(
            {
                "input_tokens": 5,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 200,
                "output_tokens": 1,
            }
        ),
        text_delta("ok"),
        sse("message_delta", delta={"stop_reason": "max_tokens"}, usage={"output_tokens": 9}),
        sse("message_stop"),
    ]
    _, decoder = run(events)
    result = decoder.result()
    assert result.finish_reason == "length"
    assert result.usage == Usage(
        input_tokens=305, output_tokens=9, cached_input_tokens=200, cache_creation_tokens=100
    )


def test_message_delta_with_cumulative_input_usage_replaces_the_start_counts() -> None:
    events = [
        message_start({"input_tokens": 0, "output_tokens": 1}),
        text_delta("x"),
        sse(
            "message_delta",
            delta={"stop_reason": "end_turn"},
            usage={"input_tokens": 40, "cache_read_input_tokens": 10, "output_tokens": 3},
        ),
        sse("message_stop"),
    ]
    _, decoder = run(events)
    assert decoder.result().usage == Usage(input_tokens=50, output_tokens=3, cached_input_tokens=10)


def test_streamed_tool_use_with_input_json_deltas() -> None:
    events = [
        message_start({"input_tokens": 472, "output_tokens": 2}),
        sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        text_delta("Checking."),
        sse("content_block_stop", index=0),
        sse(
            "content_block_start",
            index=1,
            content_block={
                "type": "tool_use",
                "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "name": "get_weather",
                "input": {},
            },
        ),
        sse("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": ""}),
        sse(
            "content_block_delta",
            index=1,
            delta={"type": "input_json_delta", "partial_json": '{"location": "San Fra'},
        ),
        sse(
            "content_block_delta",
            index=1,
            delta={"type": "input_json_delta", "partial_json": 'ncisco, CA"}'},
        ),
        sse("content_block_stop", index=1),
        sse(
            "content_block_start",
            index=2,
            content_block={"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
        ),
        sse("content_block_stop", index=2),
        sse("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 89}),
        sse("message_stop"),
    ]
    texts, decoder = run(events)
    assert texts == ["Checking."]
    result = decoder.result()
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [
        {
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "San Francisco, CA"}'},
        },
        {"id": "toolu_2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
    ]


def test_event_type_from_payload_when_sse_has_no_event_name() -> None:
    _, decoder = run(
        [
            (
                None,
                json.dumps(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": "hi"},
                    }
                ),
            ),
            (None, json.dumps({"type": "message_stop"})),
        ]
    )
    assert decoder.finished()
    assert decoder.result().text == "hi"


def test_error_event_raises_stream_error_event() -> None:
    decoder = WIRE.stream_decoder()
    decoder.feed(*message_start({"input_tokens": 3, "output_tokens": 1}))
    decoder.feed(*text_delta("partial"))
    with pytest.raises(StreamErrorEvent, match="Overloaded") as excinfo:
        decoder.feed("error", json.dumps(anthropic_error("overloaded_error", "Overloaded")))
    assert excinfo.value.error_type == "overloaded_error"
    assert decoder.result().text == "partial"
    assert not decoder.finished()


def test_partial_result_before_message_stop() -> None:
    _, decoder = run([message_start({"input_tokens": 3, "output_tokens": 1}), text_delta("Hal")])
    result = decoder.result()
    assert result.text == "Hal"
    assert result.usage == Usage(input_tokens=3, output_tokens=1)
    assert result.finish_reason is None


def test_result_without_any_usage() -> None:
    _, decoder = run([text_delta("x")])
    assert decoder.result().usage is None


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("message_start", "not json"),
        ("message_start", "[]"),
        ("message_start", json.dumps({"message": "x"})),
        ("content_block_start", json.dumps({"index": 0, "content_block": "text"})),
        ("content_block_delta", json.dumps({"index": "first", "delta": {}})),
        ("content_block_delta", json.dumps({"index": 0, "delta": "hello"})),
    ],
)
def test_unreadable_events_raise_malformed_response(kind: str, payload: str) -> None:
    with pytest.raises(MalformedResponse):
        WIRE.stream_decoder().feed(kind, payload)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("message_start", {"message": {"usage": {"input_tokens": "x"}}}),
        ("message_delta", {"usage": {"output_tokens": "many"}}),
        ("message_delta", {"usage": [1]}),
    ],
)
def test_unreadable_usage_keeps_the_answer_without_usage(kind: str, payload: Any) -> None:
    decoder = WIRE.stream_decoder()
    decoder.feed(kind, json.dumps(payload))
    assert decoder.result().usage is None  # the service then counts the tokens itself


EVENT_KINDS = st.sampled_from(
    [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
    ]
)
PAYLOADS = objects_with(
    ["type", "index", "message", "content_block", "delta", "usage"],
    SMALL
    | objects_with(["type", "text", "partial_json", "stop_reason", "usage", "id", "model"], SMALL)
    | objects_with(USAGE_KEYS, SMALL),
)


@given(events=st.lists(st.tuples(st.none() | EVENT_KINDS, PAYLOADS | JSON_VALUES), max_size=6))
def test_stream_events_of_any_shape_only_raise_our_exceptions(
    events: list[tuple[str | None, Any]],
) -> None:
    decoder = WIRE.stream_decoder()
    for kind, payload in events:
        try:
            decoder.feed(kind, json.dumps(payload))
        except (MalformedResponse, StreamErrorEvent):
            break
    result = decoder.result()
    assert isinstance(result.text, str)


# --- error_from_status --------------------------------------------------------------------


def test_error_details_read_anthropics_error_object() -> None:
    details = WIRE.error_details(anthropic_error("rate_limit_error", "Number of requests..."))
    assert details is not None
    assert (details.type, details.message) == ("rate_limit_error", "Number of requests...")
    assert WIRE.error_details({"error": "plain"}) is None
    assert WIRE.error_details([1]) is None


TOO_LONG = "prompt is too long: 208000 tokens > 200000 maximum"
TOO_LARGE = "Request exceeds the maximum allowed number of bytes"


@pytest.mark.parametrize(
    ("status", "kind", "message", "cls", "retryable"),
    [
        (401, "authentication_error", "invalid x-api-key", AuthenticationError, False),
        (403, "permission_error", "no access", AuthenticationError, False),
        (429, "rate_limit_error", "Number of request tokens exceeded", RateLimitError, True),
        (404, "not_found_error", "model: claude-9", ModelNotFoundError, False),
        (400, "invalid_request_error", TOO_LONG, ContextLengthError, False),
        (413, "request_too_large", TOO_LARGE, ProviderError, False),
        (400, "invalid_request_error", "max_tokens: must be >= 1", ProviderError, False),
        (529, "overloaded_error", "Overloaded", OverloadedError, True),
        (500, "api_error", "Internal server error", ProviderError, True),
        (503, "api_error", "Service unavailable", ProviderError, True),
    ],
)
def test_error_classification(
    status: int, kind: str, message: str, cls: type[ProviderError], retryable: bool
) -> None:
    err = error(status, anthropic_error(kind, message), retry_after=4.0)
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.status == status
    assert err.provider == "anthropic"
    assert err.provider_message == message
    assert message in str(err)
    if cls in (RateLimitError, OverloadedError) or cls is ProviderError:
        assert err.retry_after == 4.0


def test_anthropic_key_in_an_error_is_redacted() -> None:
    key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"
    err = error(401, anthropic_error("authentication_error", f"invalid x-api-key {key}"))
    assert key not in str(err)
    assert err.provider_message is not None
    assert key not in err.provider_message


# --- response_format ------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
AS_SCHEMA = {"type": "json_schema", "json_schema": {"name": "r", "schema": SCHEMA}}


def test_json_schema_becomes_a_forced_tool_whose_input_is_the_text() -> None:
    body = body_for([{"role": "user", "content": "Hi"}], options={"response_format": AS_SCHEMA})
    assert body["tools"] == [
        {
            "name": RESPONSE_TOOL,
            "description": "The answer, as a JSON object.",
            "input_schema": SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": RESPONSE_TOOL}
    answer = message(
        content=[{"type": "tool_use", "id": "toolu_1", "name": RESPONSE_TOOL, "input": {"a": "é"}}],
        stop_reason="tool_use",
    )
    result = WIRE.parse_response(answer)
    assert (result.text, result.tool_calls, result.finish_reason) == ('{"a": "é"}', [], "stop")


@pytest.mark.parametrize(
    ("options", "system"),
    [
        ({"response_format": {"type": "json_object"}}, "Be brief.\n\nRespond with one valid JSON"),
        ({"response_format": {"type": "text"}}, "Be brief."),
        (  # a schema whose root is not an object cannot be a tool's input
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": {"type": "array"}},
                }
            },
            'It must conform to this JSON Schema: {"type": "array"}',
        ),
        (  # extended thinking refuses a forced tool
            {"response_format": AS_SCHEMA, "thinking_budget": 2048},
            json.dumps(SCHEMA),
        ),
    ],
)
def test_other_response_formats_become_system_instructions(
    options: dict[str, Any], system: str
) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    body = body_for(messages, options=options)
    assert system in body["system"] and "tools" not in body and "response_format" not in body


def test_a_json_instruction_is_appended_to_system_blocks() -> None:
    blocks = [{"type": "text", "text": "Rules", "cache_control": {"type": "ephemeral"}}]
    messages = [{"role": "system", "content": blocks}, {"role": "user", "content": "Hi"}]
    body = body_for(messages, options={"response_format": {"type": "json_object"}})
    assert body["system"][0] == blocks[0] and "JSON object" in body["system"][1]["text"]


def test_a_streamed_structured_answer_arrives_as_text() -> None:
    block = {"type": "tool_use", "id": "toolu_1", "name": RESPONSE_TOOL, "input": {}}
    delta = {"type": "input_json_delta", "partial_json": '{"a": '}
    events = [
        message_start({"input_tokens": 5, "output_tokens": 1}),
        sse("content_block_start", index=0, content_block=block),
        sse("content_block_delta", index=0, delta=delta),
        sse("content_block_delta", index=0, delta={**delta, "partial_json": '"x"}'}),
        sse("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 7}),
        sse("message_stop"),
    ]
    texts, decoder = run(events)
    assert texts == ['{"a": ', '"x"}']
    result = decoder.result()
    assert (result.text, result.tool_calls, result.finish_reason) == ('{"a": "x"}', [], "stop")
