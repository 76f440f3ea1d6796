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
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from ai.providers.openai_serving import (
    JSON_MEDIA_TYPE,
    SSE_MEDIA_TYPE,
    OpenAIRequestError,
    dumps,
    invalid_json,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_JSON_DEPTH = 128
"""Arrays and objects nested deeper than this are refused: everything downstream (the
cache key, the upstream body, the records) walks the request recursively, and a body
nested near Python's recursion limit would fail there instead of here."""
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
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
                raise body_too_large()
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return parse_json_body(chunks[0] if len(chunks) == 1 else b"".join(chunks))


def parse_json_body(body: bytes) -> Any:
    """`body` as JSON, or the 400 for what api.openai.com would not take either: text that
    is not UTF-8, `NaN` and `Infinity` (not JSON, though Python reads them), nesting past
    `MAX_JSON_DEPTH`, and lone UTF-16 surrogates (`"\\ud800"`), which no UTF-8 encoder
    downstream can write."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _unparsable("it is not UTF-8 text") from None
    try:
        value = _DECODER.decode(text)
    except _NotJSON as error:
        raise _unparsable(f"{error} is not a JSON value; send a finite number") from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise invalid_json() from None
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if surrogates or text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        _check_tree(value, surrogates=surrogates)
    return value


def body_too_large() -> OpenAIRequestError:
    """413 for a body over `MAX_BODY_BYTES` (the rest of it is never read)."""
    return OpenAIRequestError(
        f"The request body is larger than this gateway's limit of "
        f"{MAX_BODY_BYTES // (1024 * 1024)} MiB; send less per request.",
        status=413,
        code="request_too_large",
    )


class _NotJSON(ValueError):
    """`NaN`, `Infinity` or `-Infinity` in a body."""


def _refuse_constant(name: str) -> Any:
    raise _NotJSON(name)


# Built once: `json.loads` with an option builds a decoder per call, which costs more
# than parsing a typical request.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _unparsable(why: str) -> OpenAIRequestError:
    return OpenAIRequestError(f"We could not parse the JSON body of your request: {why}.")


def _too_deep() -> OpenAIRequestError:
    return _unparsable(f"arrays and objects are nested more than {MAX_JSON_DEPTH} levels deep")


def _check_tree(value: Any, *, surrogates: bool) -> None:
    """Refuse nesting past `MAX_JSON_DEPTH` and (when `surrogates`) strings holding a lone
    surrogate; iterative, so that the walk itself cannot run out of stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if surrogates:
                _check_strings(node)
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif surrogates and isinstance(child, str):
                _check_strings((child,))
    if surrogates and isinstance(value, str):
        _check_strings((value,))


def _check_strings(strings: Any) -> None:
    for text in strings:
        found = _SURROGATE.search(text)
        if found is not None:
            raise OpenAIRequestError(
                f"The request body contains a lone UTF-16 surrogate (\\u{ord(found.group()):04x})"
                " in a string, which is not valid Unicode: escape surrogates only in pairs, "
                "or send the character itself as UTF-8.",
                code="invalid_unicode",
            )


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


async def finished_before_disconnect(
    work: asyncio.Future[Any], watcher: asyncio.Future[None]
) -> bool:
    """Wait for `work` unless the client hangs up first (`watcher`, a
    `wait_for_disconnect` task, finishes): True when `work` finished (its result or
    exception is the caller's to read), False when it was cancelled."""
    try:
        await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not work.done():
            await cancel_and_wait(work)
    return not work.cancelled()


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait until it has finished (its clean-up included)."""
    task.cancel()
    with contextlib.suppress(BaseException):  # the task's own outcome is not ours to raise
        await task
