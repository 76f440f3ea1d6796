"""A valid chat body becomes a typed `ChatCompletionRequest`."""

from __future__ import annotations

from ai.providers.openai_serving import ChatCompletionRequest, parse_chat_request

USER = [{"role": "user", "content": "hi"}]
TOOLS = [
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "g"}},
]


def test_a_minimal_body_gets_the_defaults() -> None:
    body = {"model": "gpt-4o-mini", "messages": USER}
    request = parse_chat_request(body)
    assert request == ChatCompletionRequest(model="gpt-4o-mini", messages=tuple(USER), body=body)
    assert (request.stream, request.include_usage, request.n, request.max_tokens) == (
        False,
        False,
        1,
        None,
    )
    assert request.tool_names == ()


def test_every_named_parameter_is_carried() -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": USER,
        "stream": True,
        "stream_options": {"include_usage": True},
        "n": 2,
        "max_tokens": 9,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": "END",
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "g"}},
        "response_format": {"type": "json_object"},
        "seed": 7,
    }
    request = parse_chat_request(body)
    assert request.stream
    assert request.include_usage
    assert request.n == 2
    assert request.max_tokens == 9
    assert (request.temperature, request.top_p) == (0.5, 0.9)
    assert request.stop == ("END",)
    assert request.tool_names == ("f", "g")
    assert request.tool_choice == {"type": "function", "function": {"name": "g"}}
    assert request.response_format == {"type": "json_object"}
    assert request.body["seed"] == 7  # parameters the object does not name stay reachable


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    body = {"model": "m", "messages": USER, "max_tokens": 9, "max_completion_tokens": 4}
    assert parse_chat_request(body).max_tokens == 4


def test_stop_lists_become_tuples_and_odd_response_formats_are_dropped() -> None:
    body = {"model": "m", "messages": USER, "stop": ["a", "b"], "response_format": "json"}
    request = parse_chat_request(body)
    assert request.stop == ("a", "b")
    assert request.response_format is None


def test_an_assistant_tool_call_answered_by_a_tool_message_is_valid() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        *USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    request = parse_chat_request({"model": "m", "messages": messages, "tools": TOOLS})
    assert request.messages[-1]["content"] == "42"


def test_reasoning_effort_is_carried_when_a_string() -> None:
    body = {"model": "o3-mini", "messages": USER, "reasoning_effort": "high"}
    assert parse_chat_request(body).reasoning_effort == "high"
    odd = {"model": "openai/o3-mini", "messages": USER, "reasoning_effort": 3}
    assert parse_chat_request(odd, reasoning_rules=False).reasoning_effort is None
