"""The few ASGI moves the request path needs, written directly against the protocol.

The `/v1` endpoints are plain ASGI callables: one request body read, one `http.response
.start`, one or more body messages. No request or response objects are built per call,
which keeps the gateway's own time per request in the tens of microseconds (see
docs/gateway.md, "Benchmark").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from ai.providers.openai_serving import JSON_MEDIA_TYPE, SSE_MEDIA_TYPE, dumps, invalid_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 32 * 1024 * 1024
_JSON_TYPE = JSON_MEDIA_TYPE.encode()
_SSE_HEADERS = [
    (b"content-type", SSE_MEDIA_TYPE.encode()),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ClientGone(Exception):
    """The client disconnected before the request body was read."""


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower-case bytes), decoded as latin-1."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_json(receive: Receive) -> Any:
    """The request body decoded as JSON; OpenAI's 400 for anything that is not JSON."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise invalid_json()
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid_json() from None


def _headers(
    content_type: bytes, length: int | None, extra: Mapping[str, str] | None
) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type)]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    if extra:
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())
    return headers


async def send_json(
    send: Send, status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> None:
    """One JSON answer (compact, as OpenAI sends it)."""
    body = dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _headers(_JSON_TYPE, len(body), headers),
        }
    )
    await send({"type": "http.response.body", "body": body})


async def start_stream(send: Send, headers: Mapping[str, str] | None = None) -> None:
    """The headers of a server-sent-events answer."""
    extra = _SSE_HEADERS + _headers(b"", None, headers)[1:]
    await send({"type": "http.response.start", "status": 200, "headers": extra})


async def send_chunk(send: Send, data: bytes, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the client hangs up (the body was read already)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait until it has finished (its clean-up included)."""
    task.cancel()
    with contextlib.suppress(BaseException):  # the task's own outcome is not ours to raise
        await task
