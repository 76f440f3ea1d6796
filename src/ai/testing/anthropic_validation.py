"""Validation of Anthropic Messages requests, with the real API's 400 messages.

Covered: required `model`, `max_tokens` and `messages`; roles (a `system` message is the
classic mistake: the Messages API takes `system` as a top-level parameter); empty or
whitespace-only content; `tool_result` blocks that answer no `tool_use` and `tool_use`
blocks left unanswered; sampling ranges (`temperature` is 0..1 here, not 0..2);
`stop_sequences`; tool definitions and `tool_choice`; `metadata` (only `user_id`); fields
the API does not know (OpenAI's `seed`, `response_format`, `n`, ... are the usual ones),
refused as its pydantic schema does with "<field>: Extra inputs are not permitted"; and
extended thinking (`anthropic_thinking`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai.testing.anthropic_dialect import invalid
from ai.testing.anthropic_thinking import check_thinking_rules, check_thinking_shape
from ai.testing.api_errors import ApiError

_TOOL_CHOICES = ("auto", "any", "tool", "none")
# The top-level fields of a Messages request (API reference, 2025-2026; `output_format` is
# the structured-outputs beta's name for what is now `output_config.format`). Anything else
# gets 400 "<field>: Extra inputs are not permitted", as `seed` or `response_format` do.
MESSAGES_FIELDS = frozenset(
    {
        *("model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream"),
        *("temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier"),
        *("container", "mcp_servers", "context_management", "output_config", "output_format"),
        "inference_geo",
    }
)
_USER_ID_MAX = 256


def validate_messages_body(body: Mapping[str, Any], *, needs_max_tokens: bool = True) -> None:
    """Raise the first error the Messages API would report for `body`."""
    model = body.get("model")
    if model is None:
        raise invalid("model: Field required")
    if not isinstance(model, str):
        raise invalid("model: Input should be a valid string")
    if needs_max_tokens or "max_tokens" in body:
        _validate_max_tokens(body)
    check_thinking_shape(body.get("thinking"))
    _validate_messages(body.get("messages"))
    _validate_system(body.get("system"))
    _validate_metadata(body.get("metadata"))
    _validate_sampling(body)
    _validate_tools(body)
    _refuse_extra_fields(body)
    check_thinking_rules(body, model)


def _refuse_extra_fields(body: Mapping[str, Any]) -> None:
    extra = next((name for name in body if name not in MESSAGES_FIELDS), None)
    if extra is not None:
        raise invalid(f"{extra}: Extra inputs are not permitted")


def _validate_metadata(metadata: object) -> None:
    """`metadata` holds `user_id` (a string of at most 256 characters, or null) only."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise invalid("metadata: Input should be a valid dictionary or object to extract fields")
    extra = next((key for key in metadata if key != "user_id"), None)
    if extra is not None:
        raise invalid(f"metadata.{extra}: Extra inputs are not permitted")
    user_id = metadata.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise invalid("metadata.user_id: Input should be a valid string")
    if isinstance(user_id, str) and len(user_id) > _USER_ID_MAX:
        raise invalid(f"metadata.user_id: String should have at most {_USER_ID_MAX} characters")


def _validate_max_tokens(body: Mapping[str, Any]) -> None:
    value = body.get("max_tokens")
    if value is None:
        raise invalid("max_tokens: Field required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("max_tokens: Input should be a valid integer")
    if value < 1:
        raise invalid("max_tokens: Input should be greater than or equal to 1")


def _validate_messages(messages: object) -> None:
    if messages is None:
        raise invalid("messages: Field required")
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    pending: set[str] = set()
    for index, message in enumerate(messages):
        final = index == len(messages) - 1
        _validate_message(index, message, final)
        pending = _check_tool_pairs(index, message, pending)
    if pending:
        raise _unanswered(len(messages) - 1, pending)


def _validate_message(index: int, message: object, final: bool) -> None:
    where = f"messages.{index}"
    if not isinstance(message, dict):
        raise invalid(f"{where}: Input should be a valid dictionary")
    role = message.get("role")
    if role == "system":
        raise invalid(
            'messages: Unexpected role "system". The Messages API accepts a top-level '
            '`system` parameter, not "system" as an input message role.'
        )
    if role not in ("user", "assistant"):
        raise invalid(f"{where}.role: Input should be 'user' or 'assistant'")
    if "content" not in message:
        raise invalid(f"{where}.content: Field required")
    content = message["content"]
    if isinstance(content, str):
        if not content and not (final and role == "assistant"):
            raise invalid(
                f"{where}: all messages must have non-empty content except for the optional "
                "final assistant message"
            )
        return
    if not isinstance(content, list):
        raise invalid(f"{where}.content: Input should be a valid list")
    if not content and not (final and role == "assistant"):
        raise invalid(
            f"{where}: all messages must have non-empty content except for the optional final "
            "assistant message"
        )
    for block_index, block in enumerate(content):
        _validate_block(f"{where}.content.{block_index}", block)


def _validate_block(where: str, block: object) -> None:
    if not isinstance(block, dict):
        raise invalid(f"{where}: Input should be a valid dictionary")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise invalid(f"{where}.type: Field required")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise invalid(f"{where}.text.text: Field required")
        if not text.strip():
            raise invalid("messages: text content blocks must contain non-whitespace text")
    elif kind == "tool_use":
        if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
            raise invalid(f"{where}.tool_use: `id` and `name` are required")
    elif kind == "tool_result" and not isinstance(block.get("tool_use_id"), str):
        raise invalid(f"{where}.tool_result.tool_use_id: Field required")


def _check_tool_pairs(index: int, message: dict[str, Any], pending: set[str]) -> set[str]:
    """tool_use ids of an assistant turn must be answered by the very next user turn."""
    content = message.get("content")
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    results = {b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"}
    unexpected = results - pending
    if unexpected:
        raise invalid(
            f"messages.{index}.content.0: unexpected `tool_use_id` found in `tool_result` "
            f"blocks: {', '.join(sorted(unexpected))}. Each `tool_result` block must have a "
            "corresponding `tool_use` block in the previous message."
        )
    if pending - results:
        raise _unanswered(index - 1, pending - results)
    if message.get("role") == "assistant":
        return {b["id"] for b in blocks if b.get("type") == "tool_use"}
    return set()


def _unanswered(index: int, ids: set[str]) -> ApiError:
    return invalid(
        f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately "
        f"after: {', '.join(sorted(ids))}. Each `tool_use` block must have a corresponding "
        "`tool_result` block in the next message."
    )


def _validate_system(system: object) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or a list of text blocks")
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid(f"system.{index}: Input should be a text block")
        if not isinstance(block.get("text"), str):
            raise invalid(f"system.{index}.text: Field required")


def _validate_sampling(body: Mapping[str, Any]) -> None:
    for name, high in (("temperature", 1.0), ("top_p", 1.0), ("top_k", None)):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"{name}: Input should be a valid number")
        if value < 0:
            raise invalid(f"{name}: Input should be greater than or equal to 0")
        if high is not None and value > high:
            raise invalid(f"{name}: Input should be less than or equal to {high:g}")
    stops = body.get("stop_sequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)
    ):
        raise invalid("stop_sequences: Input should be a valid list of strings")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream: Input should be a valid boolean")


def _validate_tools(body: Mapping[str, Any]) -> None:
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise invalid("tools: Input should be a valid list")
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise invalid(f"tools.{index}.custom.name: Field required")
            if tool.get("type") in (None, "custom") and not isinstance(
                tool.get("input_schema"), dict
            ):
                raise invalid(f"tools.{index}.custom.input_schema: Field required")
            names.append(tool["name"])
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
        raise invalid(
            "tool_choice: Input tag does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'"
        )
    if choice["type"] == "tool" and choice.get("name") not in names:
        raise invalid(f"tool_choice: tool '{choice.get('name')}' not found in `tools`")
