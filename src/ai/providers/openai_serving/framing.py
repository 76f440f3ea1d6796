"""Bytes on the wire: compact JSON bodies and server-sent event framing.

OpenAI sends compact UTF-8 JSON and streams it as SSE `data:` lines ended by a blank line,
closing the stream with `data: [DONE]`. One JSON value must stay on one `data:` line, and
some SSE readers split lines with `str.splitlines()`, which also breaks at U+2028, U+2029
and U+0085; `dumps` therefore escapes those three, which JSON allows anywhere in a string.
"""

from __future__ import annotations

import json
from typing import Any

JSON_MEDIA_TYPE = "application/json"
"""Content type of a JSON answer."""

SSE_MEDIA_TYPE = "text/event-stream; charset=utf-8"
"""Content type of a streamed answer."""

SSE_DONE = b"data: [DONE]\n\n"
"""The last event of an OpenAI stream; clients stop reading at it."""

_LINE_BREAKERS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as OpenAI sends it, safe inside one SSE `data:` line.

    Text that cannot be UTF-8 (lone surrogates echoed from a client's JSON) falls back to
    all-ASCII escapes rather than failing the answer.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _LINE_BREAKERS:
        if raw in text:
            text = text.replace(raw, escaped)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def sse_data(value: Any) -> bytes:
    """One SSE event carrying `value`: `data: <json>` and a blank line."""
    return b"data: " + dumps(value) + b"\n\n"
