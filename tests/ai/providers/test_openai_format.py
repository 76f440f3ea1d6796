"""OpenAI chat-completions wire format: request bodies, answers, streams and HTTP errors."""

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
from ai.providers.base import ChatRequest, MalformedResponse, StreamErrorEvent
from ai.providers.openai_format import OpenAIChatFormat

WIRE = OpenAIChatFormat()
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
]
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


def objects_with(keys: list[str], values: st.SearchStrategy[Any] = JSON_VALUES) -> Any:
    """JSON objects with keys where the parser looks, holding arbitrary values."""
    return st.dictionaries(st.sampled_from(keys), values, max_size=len(keys))


def request(**overrides: Any) -> ChatRequest:
    settings: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.7,
        "max_tokens": 256,
    }
    settings.update(overrides)
    return ChatRequest(**settings)


def feed_all(events: list[Any]) -> tuple[list[str], Any]:
    decoder = WIRE.stream_decoder()
    texts = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        text = decoder.feed(None, data)
        if text is not None:
            texts.append(text)
    return texts, decoder


def error(
    status: int, body: Any, *, retry_after: float | None = None, wire: Any = WIRE
) -> ProviderError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return wire.error_from_status(  # type: ignore[no-any-return]
        status, raw, provider="openai", model="gpt-4o-mini", retry_after=retry_after
    )


# --- request bodies -----------------------------------------------------------------------


def test_plain_request_body() -> None:
    assert WIRE.request_body(request()) == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.7,
        "max_tokens": 256,
    }


def test_unset_temperature_and_max_tokens_are_left_out() -> None:
    body = WIRE.request_body(request(temperature=None, max_tokens=None))
    assert body == {"model": "gpt-4o-mini", "messages": MESSAGES}


def test_zero_temperature_is_sent() -> None:
    assert WIRE.request_body(request(temperature=0.0))["temperature"] == 0.0


def test_stream_asks_for_usage_in_the_last_chunk() -> None:
    body = WIRE.request_body(request(stream=True))
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert "stream" not in WIRE.request_body(request())
    assert "stream_options" not in WIRE.request_body(request())


def test_tools_and_tool_choice_pass_through_in_openai_shape() -> None:
    choice = {"type": "function", "function": {"name": "get_weather"}}
    body = WIRE.request_body(request(tools=[WEATHER_TOOL], tool_choice=choice))
    assert body["tools"] == [WEATHER_TOOL]
    assert body["tool_choice"] == choice
    assert WIRE.request_body(request(tool_choice="none"))["tool_choice"] == "none"
    assert "tools" not in WIRE.request_body(request(tools=[]))


def test_extra_parameters_pass_through_verbatim() -> None:
    body = WIRE.request_body(request(extra={"top_p": 0.9, "stop": ["\n\n"], "seed": 7}))
    assert (body["top_p"], body["stop"], body["seed"]) == (0.9, ["\n\n"], 7)


def test_request_body_is_json_serialisable_and_does_not_alias_messages() -> None:
    messages = [dict(m) for m in MESSAGES]
    body = WIRE.request_body(request(messages=messages))
    json.dumps(body)
    body["messages"].append({"role": "user", "content": "extra"})
    assert len(messages) == 2


def test_paths() -> None:
    assert WIRE.chat_path == "/chat/completions"


# --- parse_response -----------------------------------------------------------------------


def openai_answer(**overrides: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Sunny, 21°C.",
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 1920,
            "completion_tokens": 310,
            "total_tokens": 2230,
            "prompt_tokens_details": {"cached_tokens": 1536, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 256,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }
    answer.update(overrides)
    return answer


def test_parse_plain_answer_with_cached_and_reasoning_tokens() -> None:
    result = WIRE.parse_response(openai_answer())
    assert result.text == "Sunny, 21°C."
    assert result.model == "gpt-4o-mini-2024-07-18"
    assert result.finish_reason == "stop"
    assert result.response_id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert result.tool_calls == []
    assert result.provider_cost is None
    assert result.usage == Usage(
        input_tokens=1920,
        output_tokens=310,
        cached_input_tokens=1536,
        reasoning_tokens=256,
    )
    assert result.usage.uncached_input_tokens == 384
    assert result.usage.total_tokens == 2230


def test_parse_answer_without_usage_details() -> None:
    answer = openai_answer(usage={"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})
    assert WIRE.parse_response(answer).usage == Usage(input_tokens=12, output_tokens=3)


def test_parse_answer_without_usage() -> None:
    answer = openai_answer()
    del answer["usage"]
    assert WIRE.parse_response(answer).usage is None


def test_parse_openrouter_answer_with_cost_and_cache_writes() -> None:
    answer = openai_answer(
        model="anthropic/claude-3.5-haiku",
        usage={
            "prompt_tokens": 3000,
            "completion_tokens": 50,
            "total_tokens": 3050,
            "cost": 0.00123,
            "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 1800},
        },
    )
    result = WIRE.parse_response(answer)
    assert result.provider_cost == 0.00123
    assert result.usage == Usage(
        input_tokens=3000, output_tokens=50, cached_input_tokens=1000, cache_creation_tokens=1800
    )


def test_parse_tool_call_answer_keeps_openai_shape() -> None:
    call = {
        "id": "call_FthC9qRpsL5kBpwwyw6c7j4k",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'},
    }
    answer = openai_answer()
    answer["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
    answer["choices"][0]["finish_reason"] = "tool_calls"
    result = WIRE.parse_response(answer)
    assert result.text == ""
    assert result.tool_calls == [call]
    assert result.finish_reason == "tool_calls"


def test_non_string_metadata_is_dropped_not_trusted() -> None:
    answer = openai_answer(model=42, id=["x"])
    answer["choices"][0]["finish_reason"] = 3
    result = WIRE.parse_response(answer)
    assert (result.model, result.response_id, result.finish_reason) == (None, None, None)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "Internal Server Error",
        {},
        {"choices": []},
        {"choices": "nope"},
        {"choices": [None]},
        {"choices": [{"index": 0}]},
        {"choices": [{"message": "hello"}]},
        {"choices": [{"message": {"content": ["not", "a", "string"]}}]},
        {"choices": [{"message": {"content": 5}}]},
        {"choices": [{"message": {"content": "hi", "tool_calls": 5}}]},
        {"choices": [{"message": {"content": "hi", "tool_calls": "call"}}]},
        {"choices": [{"message": {"content": "hi", "tool_calls": ["call"]}}]},
        {"error": {"message": "upstream failed", "code": 502}},
    ],
)
def test_malformed_answers_raise_malformed_response(body: Any) -> None:
    with pytest.raises(MalformedResponse):
        WIRE.parse_response(body)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": "many"},
        {"prompt_tokens": -1},
        {"prompt_tokens": 1, "prompt_tokens_details": ["x"]},
        [1, 2],
    ],
)
def test_an_unreadable_usage_keeps_the_answer(usage: Any) -> None:
    result = WIRE.parse_response({"choices": [{"message": {"content": "hi"}}], "usage": usage})
    assert result.text == "hi" and result.usage is None  # the service counts instead


def test_error_object_in_a_200_answer_is_quoted() -> None:
    with pytest.raises(MalformedResponse, match="upstream failed"):
        WIRE.parse_response({"error": {"message": "upstream failed"}})


@given(data=JSON_VALUES)
def test_arbitrary_json_only_ever_raises_malformed_response(data: Any) -> None:
    with contextlib.suppress(MalformedResponse):
        WIRE.parse_response(data)


MESSAGE_KEYS = ["role", "content", "tool_calls", "refusal"]
USAGE_KEYS = [
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cost",
]


@given(
    message=objects_with(MESSAGE_KEYS),
    choice_extra=objects_with(["finish_reason", "index"]),
    usage=objects_with(USAGE_KEYS) | JSON_VALUES,
    top=objects_with(["id", "model", "error"]),
)
def test_answer_shaped_json_only_ever_raises_malformed_response(
    message: Any, choice_extra: Any, usage: Any, top: Any
) -> None:
    data = {**top, "choices": [{**choice_extra, "message": message}], "usage": usage}
    try:
        result = WIRE.parse_response(data)
    except MalformedResponse:
        return
    assert isinstance(result.text, str)
    assert all(isinstance(call, dict) for call in result.tool_calls)


@given(
    details=objects_with(["cached_tokens", "cache_write_tokens"], st.integers(0, 10**6)),
    prompt=st.integers(0, 10**6),
    reasoning=st.integers(0, 10**6),
    completion=st.integers(0, 10**6),
)
def test_reported_subsets_are_clamped_into_a_valid_usage(
    details: dict[str, int], prompt: int, reasoning: int, completion: int
) -> None:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "prompt_tokens_details": details,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    parsed = WIRE.parse_response(openai_answer(usage=usage)).usage
    assert parsed is not None
    assert (parsed.input_tokens, parsed.output_tokens) == (prompt, completion)
    assert parsed.cached_input_tokens == min(details.get("cached_tokens", 0), prompt)
    assert parsed.uncached_input_tokens >= 0
    assert parsed.reasoning_tokens == min(reasoning, completion)


# --- stream decoder -----------------------------------------------------------------------


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


USAGE_CHUNK = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "created": 1694268190,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [],
    "usage": {
        "prompt_tokens": 40,
        "completion_tokens": 3,
        "total_tokens": 43,
        "prompt_tokens_details": {"cached_tokens": 32},
    },
}


def test_text_stream_with_final_usage_chunk_and_done() -> None:
    events = [
        chunk({"role": "assistant", "content": "", "refusal": None}, usage=None),
        chunk({"content": "Hel"}, usage=None),
        chunk({"content": "lo"}, usage=None),
        chunk({"content": "!"}, usage=None),
        chunk({}, "stop", usage=None),
        USAGE_CHUNK,
        "[DONE]",
    ]
    decoder = WIRE.stream_decoder()
    texts = []
    for event in events[:-1]:
        text = decoder.feed(None, json.dumps(event))
        if text is not None:
            texts.append(text)
        assert not decoder.finished()
    assert decoder.feed(None, "[DONE]") is None
    assert decoder.finished()
    assert texts == ["Hel", "lo", "!"]
    result = decoder.result()
    assert result.text == "Hello!"
    assert result.finish_reason == "stop"
    assert result.model == "gpt-4o-mini-2024-07-18"
    assert result.response_id == "chatcmpl-123"
    assert result.usage == Usage(input_tokens=40, output_tokens=3, cached_input_tokens=32)


def test_stream_without_usage_has_none() -> None:
    _, decoder = feed_all([chunk({"content": "hi"}), chunk({}, "length"), "[DONE]"])
    result = decoder.result()
    assert (result.text, result.usage, result.finish_reason) == ("hi", None, "length")


def test_partial_result_before_done() -> None:
    _, decoder = feed_all([chunk({"content": "Hal"}), chunk({"content": "f"})])
    assert not decoder.finished()
    assert decoder.result().text == "Half"


def test_openrouter_stream_with_cost_in_usage() -> None:
    usage = {**USAGE_CHUNK, "usage": {"prompt_tokens": 4, "completion_tokens": 2, "cost": 2e-05}}
    _, decoder = feed_all([chunk({"content": "ok"}), usage, "[DONE]"])
    assert decoder.result().provider_cost == 2e-05


def test_streamed_tool_call_fragments_are_merged() -> None:
    first_call = {
        "index": 0,
        "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    second_call = {
        "index": 1,
        "id": "call_second",
        "type": "function",
        "function": {"name": "get_time", "arguments": ""},
    }
    events = [
        chunk({"role": "assistant", "content": None, "tool_calls": [first_call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"loc'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ation": "Paris"}'}}]}),
        chunk({"tool_calls": [second_call]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
        "[DONE]",
    ]
    texts, decoder = feed_all(events)
    assert texts == []
    result = decoder.result()
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls == [
        {
            "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
        },
        {
            "id": "call_second",
            "type": "function",
            "function": {"name": "get_time", "arguments": "{}"},
        },
    ]
    assert json.loads(result.tool_calls[0]["function"]["arguments"]) == {"location": "Paris"}


def test_other_choice_indexes_are_ignored() -> None:
    event = chunk({"content": "A"})
    event["choices"].append({"index": 1, "delta": {"content": "B"}, "finish_reason": None})
    texts, decoder = feed_all([event])
    assert texts == ["A"]
    assert decoder.result().text == "A"


def test_error_event_inside_a_stream_raises() -> None:
    decoder = WIRE.stream_decoder()
    decoder.feed(None, json.dumps(chunk({"content": "par"})))
    error_chunk = {"error": {"message": "Provider returned error", "code": 502, "type": "upstream"}}
    with pytest.raises(StreamErrorEvent, match="Provider returned error") as excinfo:
        decoder.feed(None, json.dumps(error_chunk))
    assert excinfo.value.error_type == "upstream"
    assert decoder.result().text == "par"


def test_an_error_event_carries_the_http_status_its_code_names() -> None:
    error_chunk = {"error": {"message": "Provider returned error", "code": 401}}
    with pytest.raises(StreamErrorEvent) as excinfo:
        WIRE.stream_decoder().feed(None, json.dumps(error_chunk))
    assert excinfo.value.status == 401 and excinfo.value.error == error_chunk["error"]
    for code in ("401", True, 200, None):
        with pytest.raises(StreamErrorEvent) as excinfo:
            WIRE.stream_decoder().feed(None, json.dumps({"error": {"code": code}}))
        assert excinfo.value.status is None


def test_a_null_error_in_a_chunk_is_no_error() -> None:
    texts, decoder = feed_all(
        [chunk({"content": "Hi"}, error=None), chunk({}, "stop", error=None), "[DONE]"]
    )
    assert texts == ["Hi"] and decoder.result().finish_reason == "stop"
    assert WIRE.embedded_error_status({"error": None, "id": "x"}) is None


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '"text"', "null"])
def test_non_object_stream_events_are_malformed(data: str) -> None:
    with pytest.raises(MalformedResponse):
        WIRE.stream_decoder().feed(None, data)


# --- error_from_status --------------------------------------------------------------------


def test_401_is_authentication_error_with_the_providers_words_redacted() -> None:
    body = {
        "error": {
            "message": "Incorrect API key provided: sk-proj-abcdefghijklmnop1234. You can "
            "find your API key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    err = error(401, body)
    assert type(err) is AuthenticationError
    assert err.status == 401
    assert err.provider == "openai"
    assert err.model == "gpt-4o-mini"
    assert err.provider_message is not None
    assert err.provider_message.startswith("Incorrect API key provided: ")
    assert "sk-proj-abcdefghijklmnop1234" not in err.provider_message
    assert "sk-proj-abcdefghijklmnop1234" not in str(err)
    assert not err.retryable
    assert not err.fallback_can_help


def test_403_is_authentication_error() -> None:
    assert type(error(403, {"error": {"message": "forbidden"}})) is AuthenticationError


def test_429_is_rate_limit_with_retry_after() -> None:
    body = {
        "error": {
            "message": "Rate limit reached for gpt-4o-mini on requests per min (RPM): "
            "Limit 3, Used 3, Requested 1.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    err = error(429, body, retry_after=20.0)
    assert type(err) is RateLimitError
    assert err.retry_after == 20.0
    assert err.retryable
    assert "Rate limit reached for gpt-4o-mini" in str(err)
    assert err.provider_message == body["error"]["message"]


def test_404_is_model_not_found() -> None:
    body = {
        "error": {
            "message": "The model `gpt-5-turbo` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    err = error(404, body)
    assert type(err) is ModelNotFoundError
    assert not err.retryable
    assert err.fallback_can_help
    assert "gpt-5-turbo" in str(err)


def test_model_not_found_code_on_a_400() -> None:
    body = {"error": {"message": "no such model", "code": "model_not_found"}}
    assert type(error(400, body)) is ModelNotFoundError


def test_400_context_length_exceeded_code() -> None:
    body = {
        "error": {
            "message": "This model's maximum context length is 128000 tokens. However, your "
            "messages resulted in 130125 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
    err = error(400, body)
    assert type(err) is ContextLengthError
    assert err.fallback_can_help
    assert not err.retryable


@pytest.mark.parametrize(
    "message",
    [
        "prompt is too long: 208000 tokens > 200000 maximum",
        "This endpoint's maximum context length is 8192 tokens",
        "input exceeds the context window of this model",
    ],
)
def test_400_context_length_by_message(message: str) -> None:
    assert type(error(400, {"error": {"message": message}})) is ContextLengthError


def test_context_words_on_a_500_are_not_context_length() -> None:
    err = error(500, {"error": {"message": "prompt is too long for our poor server"}})
    assert type(err) is ProviderError
    assert err.retryable


def test_529_is_overloaded() -> None:
    err = error(529, {"error": {"message": "Overloaded"}}, retry_after=3.0)
    assert type(err) is OverloadedError
    assert err.retryable
    assert err.retry_after == 3.0


def test_503_mentioning_overload_is_overloaded() -> None:
    body = {"error": {"message": "The engine is currently overloaded, please try again later"}}
    assert type(error(503, body)) is OverloadedError


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retryable_provider_error(status: int) -> None:
    err = error(status, {"error": {"message": "The server had an error"}}, retry_after=1.0)
    assert type(err) is ProviderError
    assert err.retryable
    assert err.fallback_can_help
    assert err.status == status
    assert err.retry_after == 1.0
    assert err.provider_message == "The server had an error"


@pytest.mark.parametrize("status", [408, 409])
def test_408_and_409_are_retryable(status: int) -> None:
    err = error(status, {"error": {"message": "try again"}})
    assert type(err) is ProviderError
    assert err.retryable


@pytest.mark.parametrize("status", [400, 402, 405, 413, 415, 422])
def test_other_4xx_are_not_retryable(status: int) -> None:
    err = error(status, {"error": {"message": "Invalid value for 'temperature'"}})
    assert type(err) is ProviderError
    assert not err.retryable
    assert not err.fallback_can_help
    assert err.provider_message == "Invalid value for 'temperature'"


def test_openrouter_error_with_numeric_code() -> None:
    body = {"error": {"code": 402, "message": "Insufficient credits. Add more using ..."}}
    err = error(402, body)
    assert type(err) is ProviderError
    assert err.provider_message == "Insufficient credits. Add more using ..."


def test_string_error_body() -> None:
    assert error(400, {"error": "bad things"}).provider_message == "bad things"


def test_non_json_body_is_carried_as_text() -> None:
    err = error(502, b"<html><body>502 Bad Gateway</body></html>")
    assert err.retryable
    assert err.provider_message == "<html><body>502 Bad Gateway</body></html>"


def test_long_non_json_body_is_truncated_and_invalid_utf8_tolerated() -> None:
    err = error(500, b"\xff\xfe" + b"x" * 2000)
    assert err.provider_message is not None
    assert len(err.provider_message) <= 500
    assert err.provider_message.startswith("\ufffd")


def test_json_body_without_error_object_is_carried_raw() -> None:
    err = error(422, {"detail": "unprocessable"})
    assert err.provider_message == '{"detail": "unprocessable"}'


@given(status=st.integers(400, 599), body=st.binary(max_size=200) | JSON_VALUES)
def test_error_from_status_always_returns_a_provider_error(status: int, body: Any) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    err = WIRE.error_from_status(status, raw, provider="p", model="m", retry_after=None)
    assert isinstance(err, ProviderError)
    assert err.status == status


SMALL = (
    JSON_SCALARS
    | st.lists(JSON_SCALARS, max_size=2)
    | st.dictionaries(st.text(max_size=3), JSON_SCALARS, max_size=2)
)
TOOL_FRAGMENTS = objects_with(
    ["index", "id", "type", "function"], SMALL | objects_with(["name", "arguments"], SMALL)
)
DELTAS = (
    st.fixed_dictionaries(
        {},
        optional={
            "content": st.text(max_size=5) | SMALL,
            "tool_calls": st.lists(TOOL_FRAGMENTS | SMALL, max_size=2) | SMALL,
        },
    )
    | SMALL
)
CHOICES = (
    st.fixed_dictionaries(
        {"delta": DELTAS}, optional={"index": st.just(0) | SMALL, "finish_reason": SMALL}
    )
    | SMALL
)
CHUNKS = st.fixed_dictionaries(
    {"choices": st.lists(CHOICES, min_size=1, max_size=2) | SMALL},
    optional={"id": SMALL, "model": SMALL, "usage": objects_with(USAGE_KEYS, SMALL) | SMALL},
)


@given(events=st.lists(CHUNKS | JSON_VALUES, max_size=5))
def test_stream_events_of_any_shape_only_raise_our_exceptions(events: list[Any]) -> None:
    decoder = WIRE.stream_decoder()
    for event in events:
        try:
            decoder.feed(None, json.dumps(event))
        except (MalformedResponse, StreamErrorEvent):
            break
    result = decoder.result()
    assert isinstance(result.text, str)


def test_insufficient_quota_is_a_rate_limit_that_is_not_retried() -> None:
    import json as _json

    from ai.errors import RateLimitError
    from ai.providers.openai_format import OpenAIChatFormat

    body = _json.dumps(
        {
            "error": {
                "message": "You exceeded your current quota.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        }
    ).encode()
    error = OpenAIChatFormat().error_from_status(
        429, body, provider="openai", model="gpt-4o", retry_after=None
    )
    assert isinstance(error, RateLimitError)
    assert not error.retryable and "quota" in str(error)
