"""`POST /v1/chat/completions` validation: OpenAI's 400s, and no other exception, ever."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai.providers.openai_serving import (
    ChatCompletionRequest,
    OpenAIRequestError,
    parse_chat_request,
    validate_chat_body,
)
from tests.ai.providers.openai_serving.strategies import JSON, assert_well_formed

USER = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def refusal(body: object, **kwargs: Any) -> OpenAIRequestError:
    with pytest.raises(OpenAIRequestError) as caught:
        parse_chat_request(body, **kwargs)
    return caught.value


@pytest.mark.parametrize(
    ("body", "param", "code", "message"),
    [
        ({"messages": USER}, None, None, "you must provide a model parameter"),
        ({"model": 3, "messages": USER}, "model", "invalid_type", "expected a string"),
        ({"model": "m"}, "messages", "missing_required_parameter", "'messages'"),
        ({"model": "m", "messages": "hi"}, "messages", "invalid_type", "expected an array"),
        ({"model": "m", "messages": []}, "messages", "empty_array", "empty array"),
        ({"model": "m", "messages": [3]}, "messages[0]", "invalid_type", "an object"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role", None, None),
        (
            {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
            "invalid_value",
            "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', "
            "'function', 'tool', and 'developer'.",
        ),
        ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content", None, None),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]},
            "messages[0].content[0].type",
            "invalid_value",
            "'video'",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
            "missing_required_parameter",
            None,
        ),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
            "missing_required_parameter",
            None,
        ),
        (
            {"model": "m", "messages": [{"role": "tool", "tool_call_id": "z", "content": "x"}]},
            "messages.[0].role",
            None,
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "assistant", "content": None, "tool_calls": [CALL]}, *USER],
            },
            "messages",
            None,
            "The following tool_call_ids did not have response messages: c1",
        ),
        ({"model": "m", "messages": USER, "temperature": 3}, "temperature", None, "<= 2"),
        ({"model": "m", "messages": USER, "top_p": -1}, "top_p", None, ">= 0"),
        ({"model": "m", "messages": USER, "n": 1.5}, "n", "invalid_type", "an integer"),
        ({"model": "m", "messages": USER, "n": True}, "n", "invalid_type", "a boolean"),
        ({"model": "m", "messages": USER, "max_tokens": 0}, "max_tokens", None, ">= 1"),
        ({"model": "m", "messages": USER, "stop": 3}, "stop", "invalid_type", None),
        (
            {"model": "m", "messages": USER, "stop": list("abcde")},
            "stop",
            "array_above_max_length",
            None,
        ),
        ({"model": "m", "messages": USER, "stream": "yes"}, "stream", "invalid_type", None),
        (
            {"model": "m", "messages": USER, "stream_options": {"include_usage": True}},
            "stream_options",
            "invalid_value",
            "only allowed when 'stream' is enabled",
        ),
        ({"model": "m", "messages": USER, "tool_choice": "auto"}, "tool_choice", None, None),
        ({"model": "m", "messages": USER, "tools": [{"type": "x"}]}, "tools[0].type", None, None),
        (
            {"model": "m", "messages": USER, "tools": [{"type": "function", "function": {}}]},
            "tools[0].function.name",
            "missing_required_parameter",
            None,
        ),
        (
            {
                "model": "m",
                "messages": USER,
                "tools": TOOLS,
                "tool_choice": {"type": "function", "function": {"name": "g"}},
            },
            "tool_choice",
            None,
            "function 'g' was not found in 'tools'",
        ),
    ],
)
def test_bad_bodies_get_openais_400(
    body: dict[str, Any], param: str | None, code: str | None, message: str | None
) -> None:
    error = refusal(body)
    assert error.status == 400
    assert error.type == "invalid_request_error"
    assert error.param == param
    if code is not None:
        assert error.code == code
    if message is not None:
        assert message in error.message


@pytest.mark.parametrize("body", [None, [], "x", 3, [{"model": "m"}]])
def test_a_body_that_is_not_an_object_is_unparseable_json(body: object) -> None:
    error = refusal(body)
    assert error.status == 400
    assert "could not parse the JSON body" in error.message


def test_reasoning_rules_apply_only_when_asked() -> None:
    body = {"model": "o3-mini", "messages": USER, "max_tokens": 5}
    assert refusal(body).code == "unsupported_parameter"
    assert parse_chat_request(body, reasoning_rules=False).max_tokens == 5
    hot = {"model": "gpt-5", "messages": USER, "temperature": 0.5}
    assert refusal(hot).param == "temperature"
    validate_chat_body({"model": "o3-mini", "messages": USER, "temperature": 1})


def test_unhashable_values_are_refused_not_crashed_on() -> None:
    part = {"model": "m", "messages": [{"role": "user", "content": [{"type": ["text"]}]}]}
    assert refusal(part).param == "messages[0].content[0].type"
    ids = {
        "model": "m",
        "messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": 1}]}],
    }
    assert refusal(ids).message.endswith("did not have response messages: 1")


# --- properties -------------------------------------------------------------------------


def _mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a well-typed value, sometimes any JSON: deep checks get reached too."""
    return st.integers(min_value=0, max_value=5).flatmap(lambda roll: JSON if roll == 0 else valid)


NUMBER = st.integers(min_value=-1, max_value=3) | st.floats(min_value=-0.5, max_value=2.5)
PART = st.fixed_dictionaries(
    {"type": _mostly(st.sampled_from(["text", "image_url", "video"]))},
    optional={"text": _mostly(st.text(max_size=8))},
)
CONTENT = st.text(max_size=8) | st.lists(_mostly(PART), max_size=2)
CALL_ID = st.sampled_from(["a", "b"])
MESSAGE = st.fixed_dictionaries(
    {
        "role": _mostly(st.sampled_from(["user", "user", "assistant", "tool", "system", "robot"])),
        "content": _mostly(CONTENT),
    },
    optional={
        "tool_calls": _mostly(
            st.lists(st.fixed_dictionaries({"id": _mostly(CALL_ID)}), max_size=2)
        ),
        "tool_call_id": _mostly(CALL_ID),
    },
)
FUNCTION = st.fixed_dictionaries({"name": _mostly(st.sampled_from(["f", "g", ""]))})
TOOL = st.fixed_dictionaries({"type": _mostly(st.just("function")), "function": _mostly(FUNCTION)})
CHAT_BODY = st.fixed_dictionaries(
    {
        "model": _mostly(st.sampled_from(["gpt-4o-mini", "o3-mini", "gpt-5"])),
        "messages": _mostly(st.lists(_mostly(MESSAGE), min_size=1, max_size=3)),
    },
    optional={
        "temperature": _mostly(NUMBER),
        "top_p": _mostly(NUMBER),
        "n": _mostly(st.integers(min_value=0, max_value=3)),
        "max_tokens": _mostly(st.integers(min_value=0, max_value=9)),
        "max_completion_tokens": _mostly(st.integers(min_value=0, max_value=9)),
        "stop": _mostly(st.text(max_size=3) | st.lists(st.text(max_size=3), max_size=5)),
        "stream": _mostly(st.booleans()),
        "stream_options": _mostly(st.fixed_dictionaries({"include_usage": st.booleans()})),
        "tools": _mostly(st.lists(_mostly(TOOL), max_size=2)),
        "tool_choice": _mostly(
            st.sampled_from(["none", "auto", "required", "sometimes"])
            | st.fixed_dictionaries({"type": st.just("function"), "function": FUNCTION})
        ),
        "response_format": JSON,
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_mostly(CHAT_BODY))
def test_any_json_parses_or_raises_the_typed_error(body: Any) -> None:
    body = json.loads(json.dumps(body))  # exactly what a server's json.loads would give
    outcome: ChatCompletionRequest | OpenAIRequestError
    try:
        outcome = parse_chat_request(body)
    except OpenAIRequestError as error:
        outcome = error
    if isinstance(outcome, OpenAIRequestError):
        assert_well_formed(outcome)
        return
    assert outcome.model == body["model"]
    assert len(outcome.messages) == len(body["messages"]) >= 1
    assert outcome.n >= 1
    assert all(isinstance(stop, str) for stop in outcome.stop)
    assert len(outcome.tool_names) == len(outcome.tools)
