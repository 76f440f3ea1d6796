"""Cache keys: a stable hash of everything in a request that can change the answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ai.providers.base import ChatRequest

KEY_VERSION = "v2"  # v2: named parameters (top_p, seed, stop, ...) are part of the key


class UnkeyableRequest(ValueError):
    """The request holds values with no stable JSON form, so it cannot be keyed."""


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, floats as floats: equal requests give equal text."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise UnkeyableRequest(str(exc)) from exc


def _parameters(request: ChatRequest) -> dict[str, Any]:
    return {
        "temperature": None if request.temperature is None else float(request.temperature),
        "max_tokens": request.max_tokens,
        "tools": list(request.tools) if request.tools else None,
        "tool_choice": request.tool_choice,
        "extra": dict(request.extra),
        "options": dict(request.options),
    }


def _digest(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def request_key(provider: str, request: ChatRequest) -> str:
    """The exact-match key: provider, model, messages and every answer-changing parameter.

    The base URL is left out on purpose: the same model behind another URL (a proxy, a
    second region) gives the same answers and may share the cache.
    """
    payload = {
        "provider": provider,
        "model": request.model,
        "messages": list(request.messages),
        **_parameters(request),
    }
    return f"{KEY_VERSION}:{_digest(payload)}"


def split_last_user_message(
    messages: Sequence[Mapping[str, Any]],
) -> tuple[list[Mapping[str, Any]], str | None]:
    """(everything before the last user message, that message's text or None)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else _text_parts(content)
            return list(messages[:index]) + list(messages[index + 1 :]), text
    return list(messages), None


def _text_parts(content: Any) -> str | None:
    if not isinstance(content, list):
        return None
    parts = [
        p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
    ]
    if len(parts) != len(content):
        return None  # images or other parts: not matched semantically
    return "\n".join(parts)


def semantic_scope(provider: str, request: ChatRequest) -> tuple[str, str] | None:
    """(scope, text) for semantic matching, or None when there is no plain user text.

    The scope fixes model, system prompt, parameters and the conversation before the last
    user message; only that last message is compared by meaning.
    """
    context, text = split_last_user_message(request.messages)
    if not text:
        return None
    payload = {
        "provider": provider,
        "model": request.model,
        "context": context,
        **_parameters(request),
    }
    return f"{KEY_VERSION}:{_digest(payload)}", text
