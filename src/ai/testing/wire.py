"""Bytes on the wire: the fakes' replies, and responses that break on purpose.

JSON encoding and SSE `data:` framing are OpenAI wire-format facts shared with the gateway;
they live in `ai.providers.openai_serving` (`dumps` is re-exported here for the Anthropic
fake, whose named events, `sse_event`, use the same encoder).

Handlers produce a `JsonReply` or a `StreamReply` (a list of pre-encoded SSE events marked
as content or not); `deliver` turns that into an ASGI response, applying the content faults
(`stream_cut`, `malformed_json`, `stream_error_event`) the same way for every provider.

Dropping a connection needs the server's help: ASGI has no "close the socket" message, and
uvicorn turns an exception into a 500. The fake's uvicorn protocol class (see `server.py`)
puts a callable under `DROP_CONNECTION` in the scope that closes the transport; the
responses here call it and then wait until uvicorn notices the disconnect, so uvicorn logs
nothing and sends nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ai.providers.openai_serving.framing import JSON_MEDIA_TYPE, SSE_MEDIA_TYPE
from ai.providers.openai_serving.framing import dumps as dumps  # re-exported for the fakes
from ai.testing.faults import Fault, FaultKind

DROP_CONNECTION = "devora.drop_connection"
"""Scope key under which the fake's protocol class offers `() -> None` to close the socket."""

SERVER_STOPPING = "devora.server_stopping"
"""Scope key of an `asyncio.Event` the fake's protocol class sets when uvicorn shuts down, so
that answers that would run forever (`keepalive`, long `trickle`s) can end at once instead
of making uvicorn wait and then cancel them with an error in the log."""

_DISCONNECT_WAIT_S = 2.0


def sse_event(name: str, value: Any) -> bytes:
    """One Anthropic-style SSE event: `event: <name>`, `data: <json>`, a blank line."""
    return b"event: " + name.encode("ascii") + b"\ndata: " + dumps(value) + b"\n\n"


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One encoded SSE event; `content` marks the deltas that carry generated output."""

    data: bytes
    content: bool = False


@dataclass(frozen=True, slots=True)
class JsonReply:
    """A complete non-stream answer."""

    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True, slots=True)
class StreamReply:
    """A stream answer plus the provider-specific events the content faults inject."""

    events: Sequence[StreamEvent]
    error_event: bytes
    malformed_event: bytes
    preamble: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


Reply = JsonReply | StreamReply


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A plain JSON response with the fake's encoder."""
    return Response(dumps(body), status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


def deliver(reply: Reply, fault: Fault | None) -> Response:
    """The ASGI response for `reply`, with a content fault applied if one was drawn."""
    kind = None if fault is None else fault.kind
    if isinstance(reply, JsonReply):
        body = dumps(reply.body)
        if kind is FaultKind.MALFORMED_JSON:
            body = body[: max(1, len(body) // 2)]
        elif kind is FaultKind.STREAM_CUT:
            return TruncatedBody(body, reply.status, reply.headers)
        return Response(body, reply.status, reply.headers, media_type=JSON_MEDIA_TYPE)
    chunks, cut = plan_stream(reply, fault)
    return EventStream(chunks, cut=cut, headers=reply.headers)


def plan_stream(reply: StreamReply, fault: Fault | None) -> tuple[list[bytes], bool]:
    """The chunks to send and whether to drop the connection after them."""
    events = list(reply.events)
    chunks = [reply.preamble] if reply.preamble else []
    content_at = [index for index, event in enumerate(events) if event.content]
    kind = None if fault is None else fault.kind
    if fault is not None and kind is FaultKind.STREAM_CUT:
        return stream_head(reply, fault.after_chunks), True
    if kind is FaultKind.STREAM_ERROR_EVENT:
        at = _position_after(content_at, 2, default=len(events) - 1)
        return chunks + [event.data for event in events[:at]] + [reply.error_event], False
    if kind is FaultKind.MALFORMED_JSON:
        at = _position_after(content_at, 1, default=len(events) - 1)
        events.insert(at, StreamEvent(reply.malformed_event))
    return chunks + [event.data for event in events], False


def stream_head(reply: StreamReply, after_chunks: int) -> list[bytes]:
    """The chunks of `reply` up to and including its `after_chunks`-th content event (with
    0, the events before the first one: preamble, role chunk, block start)."""
    events = reply.events
    content_at = [index for index, event in enumerate(events) if event.content]
    cut = _position_after(content_at, after_chunks, default=len(events) - 1)
    head = [reply.preamble] if reply.preamble else []
    return head + [event.data for event in events[:cut]]


def _position_after(content_at: list[int], count: int, *, default: int) -> int:
    """Index just after the `count`-th content event (fewer if there are fewer)."""
    if not content_at:
        return max(0, default)
    if count <= 0:
        return content_at[0]
    return content_at[min(count, len(content_at)) - 1] + 1


def _dropper(scope: Scope) -> Callable[[], None]:
    drop = scope.get(DROP_CONNECTION)
    if drop is None:
        raise RuntimeError(
            "this fault needs the devora fake's uvicorn protocol (FakeProviderServer); "
            "the app was served by something else"
        )
    return drop  # type: ignore[no-any-return]


async def _await_disconnect(receive: Receive) -> None:
    """Wait until uvicorn has seen the socket close (bounded, in case it never does)."""
    try:
        async with asyncio.timeout(_DISCONNECT_WAIT_S):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass


async def wait_or_disconnect(receive: Receive, delay: float) -> bool:
    """Sleep `delay` seconds; returns False early if the client hung up meanwhile."""
    try:
        async with asyncio.timeout(delay):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return True
    return False


class DroppedConnection(Response):
    """No response at all: the socket is closed and the client sees a transport error."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _dropper(scope)()
        await _await_disconnect(receive)


class TruncatedBody(Response):
    """Headers promising the whole body, half of it, then the connection closes."""

    def __init__(self, body: bytes, status: int, headers: Mapping[str, str]) -> None:
        super().__init__(body, status, headers, media_type=JSON_MEDIA_TYPE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        drop = _dropper(scope)
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        half = bytes(self.body)[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        drop()
        await _await_disconnect(receive)


class EventStream(Response):
    """An SSE body sent event by event; with `cut`, the connection drops at the end instead
    of the chunked terminator, so clients see an incomplete body."""

    def __init__(self, chunks: list[bytes], *, cut: bool, headers: Mapping[str, str]) -> None:
        merged = {"cache-control": "no-cache", **headers}
        super().__init__(b"", 200, merged, media_type=SSE_MEDIA_TYPE)
        self.chunks = chunks
        self.cut = cut

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Like Starlette's, minus `content-length`: the stream is chunked."""
        super().init_headers(headers)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        drop = _dropper(scope) if self.cut else None
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if drop is not None:
            drop()
            await _await_disconnect(receive)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
