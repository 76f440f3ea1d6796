"""Cache keys: a stable hash of everything in a request that can change the answer."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ai.providers.base import ChatRequest

KEY_VERSION = "v3"
# v2: named parameters (top_p, seed, stop, ...) are part of the key.
# v3: integral floats in parameters are written as ints (top_p=1.0 and top_p=1 share a key).


class UnkeyableRequest(ValueError):
    """The request holds values with no stable JSON form, so it cannot be keyed."""


#: What `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
#: allow_nan=False)` builds on every call; an encoder holds no state between calls.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


#: The JSON encoder's string writer (its C version where available), as `_CANONICAL` uses it.
_encode_string = json.encoder.encode_basestring


def _reusable_encoder() -> Callable[[Any], str]:
    """`_CANONICAL.encode`, without building the C encoder afresh on every call.

    `JSONEncoder.encode` makes a new C encoder object per call, which was more than half
    the time of encoding a short conversation (1.7 against 0.7 µs here). This one is made
    once with the same settings and no circular-reference table (a table would outlive a
    failed call); a circular value ends in `RecursionError` instead, which `canonical_json`
    reports as unkeyable like any other value with no JSON form. Where the C encoder is
    missing (another Python implementation), the standard path.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has it
        return _CANONICAL.encode
    try:
        encoder = make(None, _CANONICAL.default, _encode_string, None, ":", ",", True, False, False)
    except TypeError:  # pragma: no cover - a CPython whose signature changed
        return _CANONICAL.encode

    def encode(value: Any) -> str:
        if type(value) is str:
            return _encode_string(value)  # what encode() does for a bare string
        return "".join(encoder(value, 0))

    return encode


_encode = _reusable_encoder()


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, floats as floats: equal requests give equal text."""
    try:
        return _encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnkeyableRequest(str(exc)) from exc


def _parameters(request: ChatRequest) -> dict[str, Any]:
    temperature = request.temperature
    return {
        "temperature": None if temperature is None else float(temperature),
        "max_tokens": integral_numbers(request.max_tokens),
        "tools": integral_numbers(list(request.tools)) if request.tools else None,
        "tool_choice": integral_numbers(request.tool_choice),
        "extra": integral_numbers(dict(request.extra)) if request.extra else {},
        "options": integral_numbers(dict(request.options)) if request.options else {},
    }


def integral_numbers(value: Any) -> Any:
    """`value` with every integral float written as an int (1.0 -> 1), inside dicts and
    lists too: the JSON numbers 1 and 1.0 are the same parameter, so equal requests share
    a key. Bools, other floats (NaN and infinities included) and the rest stay as they are.

    Floats become ints, not the other way round: a large int (a seed) has no exact float.
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: integral_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [integral_numbers(item) for item in value]
    return value


def _digest(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def request_key(provider: str, request: ChatRequest, namespace: str = "") -> str:
    """The exact-match key: provider, model, messages and every answer-changing parameter,
    and the caller's `namespace` when it has one (answers are shared only within it; the
    default, "", is the one shared namespace and keeps the keys it always had).

    The base URL is left out on purpose: the same model behind another URL (a proxy, a
    second region) gives the same answers and may share the cache.
    """
    hashed = request_json(provider, request)
    if namespace:
        hashed = _encoded(namespace) + "\n" + hashed  # no JSON text contains a raw newline
    return f"{KEY_VERSION}:{hashlib.sha256(hashed.encode()).hexdigest()}"


def request_json(provider: str, request: ChatRequest) -> str:
    """What the key hashes: `canonical_json` of provider, model, messages and
    `_parameters(request)`, one dict (parameters with `integral_numbers` applied).

    Written field by field in the sorted order of those keys, each value encoded on its
    own: the same text as encoding the dict, without building it and sorting its keys on
    every call (a cache hit's largest single cost was this encoding).
    """
    temperature = request.temperature
    try:
        return "".join(
            (
                '{"extra":',
                _encoded(integral_numbers(dict(request.extra))) if request.extra else "{}",
                ',"max_tokens":',
                _encoded(integral_numbers(request.max_tokens)),
                ',"messages":',
                _encode(list(request.messages)),
                ',"model":',
                _encoded(request.model),
                ',"options":',
                _encoded(integral_numbers(dict(request.options))) if request.options else "{}",
                ',"provider":',
                _encoded(provider),
                ',"temperature":',
                _encoded(None if temperature is None else float(temperature)),
                ',"tool_choice":',
                _encoded(integral_numbers(request.tool_choice)),
                ',"tools":',
                _encoded(integral_numbers(list(request.tools)) if request.tools else None),
                "}",
            )
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnkeyableRequest(str(exc)) from exc


def _encoded(value: Any) -> str:
    """`canonical_json(value)`, with the scalars of every request written directly (the
    JSON encoder's set-up costs more than writing them)."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _encode(value)


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


def semantic_scope(
    provider: str, request: ChatRequest, namespace: str = ""
) -> tuple[str, str] | None:
    """(scope, text) for semantic matching, or None when there is no plain user text.

    The scope fixes the namespace, model, system prompt, parameters and the conversation
    before the last user message; only that last message is compared by meaning.
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
    if namespace:
        payload["namespace"] = namespace
    return f"{KEY_VERSION}:{_digest(payload)}", text
