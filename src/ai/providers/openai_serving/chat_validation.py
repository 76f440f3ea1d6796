"""Validation of `POST /v1/chat/completions` bodies, with the real API's 400 messages.

The checks are the ones clients actually trip over: missing or mistyped `model` and
`messages`, unknown roles, missing content, tool messages that answer nothing, assistant
tool calls left unanswered, out-of-range sampling parameters, `stream_options` without
`stream`, `tool_choice` without `tools`. Two groups of api.openai.com's own rules are
switched on by keyword, because hosts that forward the body elsewhere (OpenRouter) leave
them to the upstream:

* `reasoning_rules`: what each model accepts. Reasoning models (o1, o3, o4-mini, the
  gpt-5 family) refuse `max_tokens`, sampling parameters other than their defaults,
  log probabilities and logit bias, and take `reasoning_effort` from a per-model set;
  other models refuse `reasoning_effort`. See `reasoning_model`.
* `parameter_rules`: the shapes of optional parameters: `response_format` (and JSON
  mode's "json" word), `metadata` limits, an integer `seed`.

Each raises `OpenAIRequestError` with OpenAI's `param` and `code`, so a client sees the same
answer from devora as from OpenAI. Checks stop at the first problem, in OpenAI's order.
Messages are the real API's where seen; the rest (noted) follow its wording for the kind.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
_RESPONSE_FORMATS = ("text", "json_object", "json_schema")
_SCHEMA_NAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-")
_SCHEMA_NAME_MAX = 64
_METADATA_PAIRS = 16
_METADATA_KEY_MAX = 64
_METADATA_VALUE_MAX = 512
_EFFORTS = ("low", "medium", "high")
# Parameters reasoning models refuse unless they carry their default value. api.openai.com
# answers 400 "Unsupported parameter: 'top_p' is not supported with this model." (param
# "top_p", code "unsupported_parameter"), seen for o1, o3, o4-mini and gpt-5-mini with
# top_p and presence_penalty; the other names follow the reasoning guide's list of
# unsupported parameters. Defaults are let through: clients that send them get answers.
_REASONING_DEFAULTS: tuple[tuple[str, object], ...] = (
    *(("top_p", 1), ("presence_penalty", 0), ("frequency_penalty", 0)),
    *(("logprobs", False), ("top_logprobs", 0), ("logit_bias", {})),
)


@dataclass(frozen=True, slots=True)
class ReasoningModel:
    """How api.openai.com treats one reasoning model's parameters.

    `efforts` are the `reasoning_effort` values it takes (empty: it refuses the parameter,
    as o1-mini and o1-preview do); `default_effort` is the one it uses when none is sent;
    `accepts_stop` is False for o3 and o4-mini, which refuse `stop`.
    """

    efforts: tuple[str, ...] = _EFFORTS
    default_effort: str = "medium"
    accepts_stop: bool = True


def reasoning_model(model: str) -> ReasoningModel | None:
    """The reasoning rules for `model`, or None for a model that does not reason.

    By OpenAI's naming, dated snapshots included (`o3-2025-04-16`); a `vendor/` prefix is
    ignored. `gpt-5-chat-latest` is the non-reasoning ChatGPT model. Efforts follow the API
    reference: "minimal" for the gpt-5 family only, `gpt-5.1` and later take "none" (their
    default) and not "minimal", `gpt-5-pro` only "high".
    """
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith("gpt-5-chat") or not name.startswith(("o1", "o3", "o4", "gpt-5")):
        return None
    if name.startswith(("o1-mini", "o1-preview")):
        return ReasoningModel(efforts=())
    if name.startswith("gpt-5-pro"):
        return ReasoningModel(efforts=("high",), default_effort="high")
    if name.startswith("gpt-5."):
        return ReasoningModel(efforts=("none", *_EFFORTS), default_effort="none")
    if name.startswith("gpt-5"):
        return ReasoningModel(efforts=("minimal", *_EFFORTS))
    # API reference, `stop`: "Not supported with latest reasoning models o3 and o4-mini."
    if name.startswith(("o3", "o4-mini")) and not name.startswith("o3-mini"):
        return ReasoningModel(accepts_stop=False)
    return ReasoningModel()


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


def validate_chat_body(
    body: Mapping[str, Any], *, reasoning_rules: bool = True, parameter_rules: bool = False
) -> None:
    """Raise the first error OpenAI would report for this chat completions body.

    `reasoning_rules` applies api.openai.com's per-model rules (reasoning models and
    `reasoning_effort`); `parameter_rules` its checks of `response_format`, `metadata` and
    `seed`. OpenRouter applies neither.
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
    if parameter_rules:
        _validate_response_format(body)
        _validate_metadata(body.get("metadata"))
        _validate_seed(body.get("seed"))
    if reasoning_rules:
        _validate_model_rules(model, body)


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
        raise invalid(
            f"Invalid value: '{role}'. Supported values are: {_listed(ROLES)}.",
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


def _validate_model_rules(model: str, body: Mapping[str, Any]) -> None:
    profile = reasoning_model(model)
    if profile is not None:
        _validate_reasoning_model(profile, body)
    elif body.get("reasoning_effort") is not None:
        # api.openai.com to gpt-4o-mini and gpt-4.1 (seen 2025-06 and 2026-03): 400 with
        # "Unrecognized request argument supplied: reasoning_effort", param and code null.
        raise invalid("Unrecognized request argument supplied: reasoning_effort")


def _validate_reasoning_model(profile: ReasoningModel, body: Mapping[str, Any]) -> None:
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
    for name, default in _REASONING_DEFAULTS:
        value = body.get(name)
        if value is not None and value != default:
            raise _unsupported_parameter(name)
    if not profile.accepts_stop and body.get("stop") is not None:
        raise _unsupported_parameter("stop")
    _validate_effort(profile, body.get("reasoning_effort"))


def _validate_effort(profile: ReasoningModel, effort: object) -> None:
    if effort is None:
        return
    if not profile.efforts:
        raise _unsupported_parameter("reasoning_effort")
    if not isinstance(effort, str):
        raise wrong_type("reasoning_effort", "a string", effort)
    if effort not in profile.efforts:
        # Seen from gpt-5 for "none": "Unsupported value: 'reasoning_effort' does not support
        # 'none' with this model. Supported values are: 'minimal', 'low', 'medium', and 'high'."
        raise invalid(
            f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this "
            f"model. Supported values are: {_listed(profile.efforts)}.",
            "reasoning_effort",
            "unsupported_value",
        )


def _unsupported_parameter(name: str) -> OpenAIRequestError:
    return invalid(
        f"Unsupported parameter: '{name}' is not supported with this model.",
        name,
        "unsupported_parameter",
    )


def _listed(values: Sequence[str]) -> str:
    """OpenAI's way of listing allowed values: 'a', 'b', and 'c'."""
    quoted = [f"'{value}'" for value in values]
    if len(quoted) < 3:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _validate_response_format(body: Mapping[str, Any]) -> None:
    response_format = body.get("response_format")
    if response_format is None:
        return
    if not isinstance(response_format, dict):
        raise wrong_type("response_format", "an object", response_format)
    kind = response_format.get("type")
    if kind is None:
        raise missing("response_format.type")
    if kind not in _RESPONSE_FORMATS:
        raise invalid(
            f"Invalid value: '{kind}'. Supported values are: {_listed(_RESPONSE_FORMATS)}.",
            "response_format.type",
            "invalid_value",
        )
    if kind == "json_schema":
        _validate_json_schema(response_format.get("json_schema"))
    elif kind == "json_object" and not _mentions_json(body["messages"]):
        # JSON mode's documented rule, with the real API's message (param "messages").
        raise invalid(
            "'messages' must contain the word 'json' in some form, to use 'response_format' "
            "of type 'json_object'.",
            "messages",
        )


def _validate_json_schema(spec: object) -> None:
    """`json_schema` needs a `name` (a-z, A-Z, 0-9, _ and -, at most 64); `schema` is
    optional in the API reference, but an object when given; `strict` a boolean."""
    where = "response_format.json_schema"
    if spec is None:
        raise missing(where)
    if not isinstance(spec, dict):
        raise wrong_type(where, "an object", spec)
    name = spec.get("name")
    if name is None:
        raise missing(f"{where}.name")
    if not isinstance(name, str):
        raise wrong_type(f"{where}.name", "a string", name)
    if len(name) > _SCHEMA_NAME_MAX:
        raise _too_long(f"{where}.name", _SCHEMA_NAME_MAX, len(name))
    if not name or not set(name) <= _SCHEMA_NAME_CHARACTERS:
        # Wording inferred from OpenAI's pattern errors; the rule is the API reference's.
        raise invalid(
            f"Invalid '{where}.name': string does not match pattern. Expected a string that "
            f"matches the pattern '^[a-zA-Z0-9_-]+$'.",
            f"{where}.name",
            "invalid_value",
        )
    for key, kind, expected in (("schema", dict, "an object"), ("strict", bool, "a boolean")):
        value = spec.get(key)
        if value is not None and not isinstance(value, kind):
            raise wrong_type(f"{where}.{key}", expected, value)


def _mentions_json(messages: Sequence[Mapping[str, Any]]) -> bool:
    for message in messages:
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"text": content}]
        for part in parts:
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and "json" in text.lower():
                return True
    return False


def _validate_metadata(metadata: object) -> None:
    """At most 16 pairs, string keys up to 64 characters, string values up to 512 (API
    reference); the messages follow OpenAI's wording for sizes, not seen for metadata."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise wrong_type("metadata", "an object", metadata)
    if len(metadata) > _METADATA_PAIRS:
        raise invalid(
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{_METADATA_PAIRS} properties, but got an object with {len(metadata)} properties "
            "instead.",
            "metadata",
            "object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > _METADATA_KEY_MAX:
            raise _too_long("metadata", _METADATA_KEY_MAX, len(key), what="key")
        if not isinstance(value, str):
            raise wrong_type(f"metadata.{key}", "a string", value)
        if len(value) > _METADATA_VALUE_MAX:
            raise _too_long(f"metadata.{key}", _METADATA_VALUE_MAX, len(value))


def _too_long(param: str, limit: int, length: int, *, what: str = "string") -> OpenAIRequestError:
    return invalid(
        f"Invalid '{param}': {what} too long. Expected a {what} with maximum length {limit}, "
        f"but got a {what} with length {length} instead.",
        param,
        "string_above_max_length",
    )


def _validate_seed(seed: object) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise wrong_type("seed", "an integer", seed)
