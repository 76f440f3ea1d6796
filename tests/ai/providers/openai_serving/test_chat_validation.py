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
from ai.providers.openai_serving.chat_validation import ReasoningModel, reasoning_model
from tests.ai.providers.openai_serving.strategies import JSON, JSON_SCALARS, assert_well_formed

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


@pytest.mark.parametrize(
    ("model", "efforts", "accepts_stop"),
    [
        ("o1", ("low", "medium", "high"), True),
        ("o1-2024-12-17", ("low", "medium", "high"), True),
        ("o1-mini", (), True),
        ("o1-preview-2024-09-12", (), True),
        ("o3-mini", ("low", "medium", "high"), True),
        ("o3", ("low", "medium", "high"), False),
        ("o3-2025-04-16", ("low", "medium", "high"), False),
        ("o4-mini", ("low", "medium", "high"), False),
        ("gpt-5", ("minimal", "low", "medium", "high"), True),
        ("gpt-5-mini-2025-08-07", ("minimal", "low", "medium", "high"), True),
        ("gpt-5-nano", ("minimal", "low", "medium", "high"), True),
        ("gpt-5.1", ("none", "low", "medium", "high"), True),
        ("gpt-5-pro", ("high",), True),
        ("openai/o3-mini", ("low", "medium", "high"), True),
    ],
)
def test_reasoning_models_by_name(model: str, efforts: tuple[str, ...], accepts_stop: bool) -> None:
    profile = reasoning_model(model)
    assert profile is not None
    assert (profile.efforts, profile.accepts_stop) == (efforts, accepts_stop)


@pytest.mark.parametrize(
    "model", ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-3.5-turbo", "gpt-5-chat-latest", "m"]
)
def test_other_models_do_not_reason(model: str) -> None:
    assert reasoning_model(model) is None


def test_default_efforts() -> None:
    assert reasoning_model("o3-mini") == ReasoningModel()
    assert ReasoningModel().default_effort == "medium"
    assert reasoning_model("gpt-5.1") == ReasoningModel(
        efforts=("none", "low", "medium", "high"), default_effort="none"
    )


REASONING_REFUSALS: list[tuple[str, dict[str, Any], str | None, str | None, str]] = [
    (
        "o3-mini",
        {"temperature": 0.2},
        "temperature",
        "unsupported_value",
        "Unsupported value: 'temperature' does not support 0.2 with this model. Only the "
        "default (1) value is supported.",
    ),
    (
        "o1",
        {"top_p": 0.9},
        "top_p",
        "unsupported_parameter",
        "Unsupported parameter: 'top_p' is not supported with this model.",
    ),
    ("gpt-5-mini", {"presence_penalty": 0.5}, "presence_penalty", "unsupported_parameter", ""),
    ("o4-mini", {"frequency_penalty": -1}, "frequency_penalty", "unsupported_parameter", ""),
    ("gpt-5", {"logprobs": True}, "logprobs", "unsupported_parameter", ""),
    ("o3-2025-04-16", {"top_logprobs": 2}, "top_logprobs", "unsupported_parameter", ""),
    ("o3-mini", {"logit_bias": {"50256": -100}}, "logit_bias", "unsupported_parameter", ""),
    (
        "o3",
        {"stop": ["END"]},
        "stop",
        "unsupported_parameter",
        "Unsupported parameter: 'stop' is not supported with this model.",
    ),
    (
        "o3-mini",
        {"reasoning_effort": "minimal"},
        "reasoning_effort",
        "unsupported_value",
        "Unsupported value: 'reasoning_effort' does not support 'minimal' with this model. "
        "Supported values are: 'low', 'medium', and 'high'.",
    ),
    (
        "gpt-5",
        {"reasoning_effort": "extreme"},
        "reasoning_effort",
        "unsupported_value",
        "Supported values are: 'minimal', 'low', 'medium', and 'high'.",
    ),
    ("gpt-5-pro", {"reasoning_effort": "low"}, "reasoning_effort", "unsupported_value", "'high'."),
    ("o3-mini", {"reasoning_effort": 3}, "reasoning_effort", "invalid_type", "a string"),
    (
        "o1-mini",
        {"reasoning_effort": "low"},
        "reasoning_effort",
        "unsupported_parameter",
        "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
    ),
    ("o1-preview", {"reasoning_effort": "high"}, "reasoning_effort", "unsupported_parameter", ""),
    (
        "gpt-4o",
        {"reasoning_effort": "low"},
        None,
        None,
        "Unrecognized request argument supplied: reasoning_effort",
    ),
    (
        "gpt-5-chat-latest",
        {"reasoning_effort": "low"},
        None,
        None,
        "Unrecognized request argument supplied: reasoning_effort",
    ),
]


@pytest.mark.parametrize(("model", "extra", "param", "code", "message"), REASONING_REFUSALS)
def test_model_rules_refuse_what_api_openai_com_refuses(
    model: str, extra: dict[str, Any], param: str | None, code: str | None, message: str
) -> None:
    error = refusal({"model": model, "messages": USER, **extra})
    assert (error.status, error.type) == (400, "invalid_request_error")
    assert (error.param, error.code) == (param, code)
    assert message in error.message
    # a host that forwards the body elsewhere leaves the rule to the upstream
    validate_chat_body({"model": model, "messages": USER, **extra}, reasoning_rules=False)


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("o3-mini", {"max_completion_tokens": 500, "reasoning_effort": "high"}),
        ("o1", {"reasoning_effort": "low", "temperature": 1, "top_p": 1}),
        ("gpt-5", {"reasoning_effort": "minimal", "presence_penalty": 0}),
        ("gpt-5-mini", {"frequency_penalty": 0, "logprobs": False, "logit_bias": {}}),
        ("gpt-5.1", {"reasoning_effort": "none"}),
        ("o3-mini", {"stop": ["END"], "n": 2, "seed": 1}),
        ("o1-mini", {"max_completion_tokens": 50}),
        ("gpt-4o", {"top_p": 0.5, "presence_penalty": 1, "logprobs": True, "top_logprobs": 2}),
        ("gpt-5-chat-latest", {"temperature": 0.3, "max_tokens": 10}),
    ],
)
def test_model_rules_accept_what_api_openai_com_accepts(model: str, extra: dict[str, Any]) -> None:
    request = parse_chat_request({"model": model, "messages": USER, **extra})
    assert request.reasoning_effort == extra.get("reasoning_effort")


JSON_USER = [{"role": "user", "content": "Answer in JSON, please."}]
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {}}}


@pytest.mark.parametrize(
    ("extra", "param", "code", "message"),
    [
        ({"response_format": "json"}, "response_format", "invalid_type", "expected an object"),
        ({"response_format": {}}, "response_format.type", "missing_required_parameter", ""),
        (
            {"response_format": {"type": "xml"}},
            "response_format.type",
            "invalid_value",
            "Invalid value: 'xml'. Supported values are: 'text', 'json_object', and 'json_schema'.",
        ),
        (
            {"messages": USER, "response_format": {"type": "json_object"}},
            "messages",
            None,
            "'messages' must contain the word 'json' in some form, to use 'response_format' "
            "of type 'json_object'.",
        ),
        (
            {"response_format": {"type": "json_schema"}},
            "response_format.json_schema",
            "missing_required_parameter",
            "",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
            "response_format.json_schema.name",
            "missing_required_parameter",
            "Missing required parameter: 'response_format.json_schema.name'.",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "a b"}}},
            "response_format.json_schema.name",
            "invalid_value",
            "does not match pattern",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "n" * 65}}},
            "response_format.json_schema.name",
            "string_above_max_length",
            "maximum length 64",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": 1}}},
            "response_format.json_schema.schema",
            "invalid_type",
            "",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "a", "strict": "yes"},
                }
            },
            "response_format.json_schema.strict",
            "invalid_type",
            "",
        ),
        ({"metadata": ["a"]}, "metadata", "invalid_type", "expected an object"),
        (
            {"metadata": {f"k{i}": "v" for i in range(17)}},
            "metadata",
            "object_above_max_properties",
            "at most 16 properties",
        ),
        ({"metadata": {"k" * 65: "v"}}, "metadata", "string_above_max_length", "length 64"),
        ({"metadata": {"k": 1}}, "metadata.k", "invalid_type", "expected a string"),
        ({"metadata": {"k": "v" * 513}}, "metadata.k", "string_above_max_length", "length 512"),
        ({"seed": 1.5}, "seed", "invalid_type", "expected an integer"),
        ({"seed": True}, "seed", "invalid_type", ""),
    ],
)
def test_parameter_rules_refuse_bad_shapes(
    extra: dict[str, Any], param: str, code: str | None, message: str
) -> None:
    body = {"model": "gpt-4o-mini", "messages": JSON_USER, **extra}
    error = refusal(body, parameter_rules=True)
    assert (error.status, error.param, error.code) == (400, param, code)
    assert message in error.message
    validate_chat_body(body)  # off by default: a gateway may leave them to its upstream


@pytest.mark.parametrize(
    "extra",
    [
        {"response_format": {"type": "text"}},
        {"response_format": {"type": "json_object"}},
        {"response_format": SCHEMA_FORMAT},
        {"response_format": {"type": "json_schema", "json_schema": {"name": "Answer_v-2"}}},
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "a", "schema": {"type": "object"}, "strict": True},
            }
        },
        {"metadata": {f"k{i}": "v" * 512 for i in range(16)}, "seed": 42},
        {"metadata": {"k" * 64: ""}, "seed": -(2**62)},
    ],
)
def test_parameter_rules_accept_good_shapes(extra: dict[str, Any]) -> None:
    body = {"model": "gpt-4o-mini", "messages": JSON_USER, **extra}
    assert parse_chat_request(body, parameter_rules=True).body == body


def test_json_mode_finds_the_word_in_any_message_or_part() -> None:
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "Reply as JSON."}]},
        {"role": "user", "content": "hi"},
    ]
    body = {"model": "gpt-4o", "messages": messages, "response_format": {"type": "json_object"}}
    validate_chat_body(body, parameter_rules=True)


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
        "model": _mostly(st.sampled_from(["gpt-4o-mini", "o3-mini", "gpt-5", "o3", "o1-mini"])),
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
        "reasoning_effort": _mostly(st.sampled_from(["minimal", "low", "high", "none"])),
        "metadata": _mostly(st.dictionaries(st.text(max_size=3), st.text(max_size=3))),
        "seed": JSON_SCALARS,
        "presence_penalty": _mostly(NUMBER),
        "logit_bias": JSON,
    },
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_mostly(CHAT_BODY), st.booleans())
def test_any_json_parses_or_raises_the_typed_error(body: Any, parameter_rules: bool) -> None:
    body = json.loads(json.dumps(body))  # exactly what a server's json.loads would give
    outcome: ChatCompletionRequest | OpenAIRequestError
    try:
        outcome = parse_chat_request(body, parameter_rules=parameter_rules)
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
