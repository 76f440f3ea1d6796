"""Validation of `POST /v1/chat/completions` bodies, with the real API's 400 messages.

The checks are the ones clients actually trip over: missing or mistyped `model` and
`messages`, unknown roles, missing content, tool messages that answer nothing, assistant
tool calls left unanswered, out-of-range sampling parameters, `stream_options` without
`stream`, `tool_choice` without `tools`, and (with `reasoning_rules`, as api.openai.com
applies them) `max_tokens`/`temperature` on reasoning models. Each raises
`OpenAIRequestError` with OpenAI's `param` and `code`, so a client sees the same answer
from devora as from OpenAI. Checks stop at the first problem, in OpenAI's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai.providers.openai_serving.errors import (
    OpenAIRequestError,
    invalid,
    missing,
    missing_model,
    wrong_type,
)

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


def check_number(
    body: Mapping[str, Any], name: str, low: float, high: float | None, *, integer: bool = False
) -> None:
    """Raise if the numeric parameter `name` is present but mistyped or outside [low, high]."""
    value = body.get(name)
    if value is None:
        return
    kind = "integer" if integer else "decimal"
    if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
        raise wrong_type(name, f"an {kind}" if integer else "a decimal", value)
    if value < low:
        raise invalid(
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {low:g}, "
            f"but got {value} instead.",
            name,
            f"{kind}_below_min_value",
        )
    if high is not None and value > high:
        raise invalid(
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {high:g}, "
            f"but got {value} instead.",
            name,
            f"{kind}_above_max_value",
        )


def validate_chat_body(body: Mapping[str, Any], *, reasoning_rules: bool = True) -> None:
    """Raise the first error OpenAI would report for this chat completions body.

    `reasoning_rules` refuses `max_tokens` and a non-default `temperature` for reasoning
    models (o1, o3, o4, gpt-5), as api.openai.com does; OpenRouter does not.
    """
    model = body.get("model")
    if model is None:
        raise missing_model()
    if not isinstance(model, str):
        raise wrong_type("model", "a string", model)
    _validate_messages(body)
    _validate_sampling(body)
    _validate_streaming(body)
    _validate_tools(body)
    if reasoning_rules and model.startswith(_REASONING_PREFIXES):
        _validate_reasoning_model(body)


def _validate_messages(body: Mapping[str, Any]) -> None:
    messages = body.get("messages")
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list):
        raise wrong_type("messages", "an array", messages)
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but "
            "got an empty array instead.",
            "messages",
            "empty_array",
        )
    pending: list[Any] = []
    for index, message in enumerate(messages):
        _validate_message(index, message)
        pending = _check_tool_sequence(index, message, pending)
    if pending:
        raise _unanswered(pending)


def _validate_message(index: int, message: object) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise wrong_type(where, "an object", message)
    role = message.get("role")
    if role is None:
        raise missing(f"{where}.role")
    if role not in ROLES:
        supported = ", ".join(f"'{r}'" for r in ROLES[:-1]) + f", and '{ROLES[-1]}'"
        raise invalid(
            f"Invalid value: '{role}'. Supported values are: {supported}.",
            f"{where}.role",
            "invalid_value",
        )
    content = message.get("content")
    if content is None:
        if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
            return
        if role == "assistant" and "content" in message:
            return
        raise missing(f"{where}.content")
    if isinstance(content, list):
        for part_index, part in enumerate(content):
            _validate_part(f"{where}.content[{part_index}]", part)
    elif not isinstance(content, str):
        raise wrong_type(f"{where}.content", "one of a string or array of objects", content)
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise missing(f"{where}.tool_call_id")


def _validate_part(where: str, part: object) -> None:
    if not isinstance(part, dict):
        raise wrong_type(where, "an object", part)
    kind = part.get("type")
    if kind is None:
        raise missing(f"{where}.type")
    if not isinstance(kind, str) or kind not in _PART_TYPES:
        allowed = ", ".join(f"'{t}'" for t in sorted(_PART_TYPES))
        raise invalid(
            f"Invalid value: '{kind}'. Supported values are: {allowed}.",
            f"{where}.type",
            "invalid_value",
        )
    if kind == "text" and not isinstance(part.get("text"), str):
        raise missing(f"{where}.text")


def _check_tool_sequence(index: int, message: dict[str, Any], pending: list[Any]) -> list[Any]:
    """Track tool_call ids an assistant asked for; tool messages must answer them."""
    role = message.get("role")
    if role == "tool":
        call_id = message.get("tool_call_id")
        if call_id not in pending:
            raise invalid(
                "Invalid parameter: messages with role 'tool' must be a response to a "
                "preceeding message with 'tool_calls'.",
                f"messages.[{index}].role",
            )
        return [p for p in pending if p != call_id]
    if pending:
        raise _unanswered(pending)
    calls = message.get("tool_calls") if role == "assistant" else None
    if isinstance(calls, list):
        return [call["id"] for call in calls if isinstance(call, dict) and "id" in call]
    return []


def _unanswered(pending: list[Any]) -> OpenAIRequestError:
    return invalid(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(str(call_id) for call_id in pending),
        "messages",
    )


def _validate_sampling(body: Mapping[str, Any]) -> None:
    check_number(body, "temperature", 0, 2)
    check_number(body, "top_p", 0, 1)
    check_number(body, "presence_penalty", -2, 2)
    check_number(body, "frequency_penalty", -2, 2)
    check_number(body, "n", 1, 128, integer=True)
    check_number(body, "max_tokens", 1, None, integer=True)
    check_number(body, "max_completion_tokens", 1, None, integer=True)
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise wrong_type("stop", "one of a string or array of strings", stop)
        if len(stop) > 4:
            raise invalid(
                f"Invalid 'stop': array too long. Expected an array with maximum length 4, but "
                f"got an array with length {len(stop)} instead.",
                "stop",
                "array_above_max_length",
            )


def _validate_streaming(body: Mapping[str, Any]) -> None:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise wrong_type("stream", "a boolean", stream)
    options = body.get("stream_options")
    if options is not None:
        if not stream:
            raise invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                "invalid_value",
            )
        if not isinstance(options, dict):
            raise wrong_type("stream_options", "an object", options)


def _validate_tools(body: Mapping[str, Any]) -> None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is None:
        if choice is not None:
            raise invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                "tool_choice",
            )
        return
    if not isinstance(tools, list):
        raise wrong_type("tools", "an array", tools)
    names = [_tool_name(index, tool) for index, tool in enumerate(tools)]
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise invalid(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
                "tool_choice",
                "invalid_value",
            )
    elif isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if choice.get("type") == "function" and name not in names:
            raise invalid(
                f"Invalid value for 'tool_choice': function '{name}' was not found in 'tools'.",
                "tool_choice",
            )
    elif choice is not None:
        raise wrong_type("tool_choice", "one of a string or object", choice)


def _tool_name(index: int, tool: object) -> str:
    where = f"tools[{index}]"
    if not isinstance(tool, dict):
        raise wrong_type(where, "an object", tool)
    if tool.get("type") != "function":
        raise invalid(
            f"Invalid value: '{tool.get('type')}'. Supported values are: 'function'.",
            f"{where}.type",
            "invalid_value",
        )
    function = tool.get("function")
    if not isinstance(function, dict):
        raise missing(f"{where}.function")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise missing(f"{where}.function.name")
    return name


def _validate_reasoning_model(body: Mapping[str, Any]) -> None:
    if body.get("max_tokens") is not None:
        raise invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise invalid(
            f"Unsupported value: 'temperature' does not support {temperature} with this model. "
            "Only the default (1) value is supported.",
            "temperature",
            "unsupported_value",
        )
