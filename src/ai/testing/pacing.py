"""Answers that are slow on purpose: the `trickle` and `keepalive` faults.

Both send their headers at once and then take their time with the body, which is what a
hostile or overloaded upstream does to a client that only sets a read timeout: every read
succeeds, the answer just never (or very slowly) arrives. `trickle` sends the normal answer
a few bytes at a time; `keepalive` sends the first events of the answer and then only
filler (SSE comment lines, or spaces before a JSON body) forever.

Neither may outlive its client or the server. Between pieces they wait for whichever comes
first: the interval, the client hanging up (ASGI `http.disconnect`), or uvicorn shutting
down (`wire.SERVER_STOPPING`, set by the fake's protocol class). On the last two they close
the socket and return, so uvicorn neither cancels a task at shutdown nor logs an
unfinished response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ai.providers.openai_serving.framing import JSON_MEDIA_TYPE, SSE_MEDIA_TYPE
from ai.testing.faults import Fault, FaultKind
from ai.testing.wire import (
    DROP_CONNECTION,
    SERVER_STOPPING,
    EventStream,
    Reply,
    StreamReply,
    deliver,
    stream_head,
)

KEEPALIVE_COMMENT = b": OPENROUTER PROCESSING\n\n"
"""What `keepalive` streams send forever: the comment OpenRouter sends while it waits."""

KEEPALIVE_SPACE = b" "
"""What `keepalive` JSON answers send forever: whitespace JSON allows before a value."""

_DISCONNECT_WAIT_S = 2.0


def paced_response(reply: Reply, fault: Fault | None) -> Response | None:
    """The trickled or kept-alive response for `reply`, or None for other faults."""
    if fault is None:
        return None
    if fault.kind is FaultKind.TRICKLE:
        normal = deliver(reply, None)
        body = b"".join(normal.chunks) if isinstance(normal, EventStream) else bytes(normal.body)
        return Trickle(body, normal, interval=fault.interval, chunk_bytes=fault.chunk_bytes)
    if fault.kind is FaultKind.KEEPALIVE:
        if isinstance(reply, StreamReply):
            head = stream_head(reply, fault.after_chunks)
            headers = {"cache-control": "no-cache", **reply.headers}
            return Keepalive(head, KEEPALIVE_COMMENT, fault.interval, headers, SSE_MEDIA_TYPE)
        return Keepalive([], KEEPALIVE_SPACE, fault.interval, reply.headers, JSON_MEDIA_TYPE)
    return None


async def _disconnected(receive: Receive) -> object:
    """Returns once the client has hung up (the request body was read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    return None


async def pause(scope: Scope, receive: Receive, seconds: float) -> bool:
    """Wait `seconds`; False as soon as the client hangs up or the server is stopping."""
    stopping: asyncio.Event | None = scope.get(SERVER_STOPPING)
    if stopping is not None and stopping.is_set():
        return False
    waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(_disconnected(receive))]
    if stopping is not None:
        waiters.append(asyncio.ensure_future(stopping.wait()))
    try:
        done, _ = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)  # reaped, none left running
    return not done


async def _hang_up(scope: Scope, receive: Receive) -> None:
    """Close the socket (if the client has not) and wait until uvicorn has seen it, so the
    unfinished response is neither logged nor cancelled."""
    drop = scope.get(DROP_CONNECTION)
    if drop is not None:
        drop()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_DISCONNECT_WAIT_S):
            await _disconnected(receive)


class _SlowResponse(Response):
    """Status and headers of a normal answer, with the body sent by `__call__` over time."""

    def __init__(
        self,
        status: int,
        raw_headers: Sequence[tuple[bytes, bytes]],
        *,
        keep_length: bool,
    ) -> None:
        super().__init__(b"", status)
        self.raw_headers = [
            (name, value)
            for name, value in raw_headers
            if keep_length or name.lower() != b"content-length"
        ]

    async def _start(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )


class Trickle(_SlowResponse):
    """The normal answer's exact bytes and headers (`content-length` too, for JSON), sent
    `chunk_bytes` at a time with `interval` seconds between pieces."""

    def __init__(self, body: bytes, normal: Response, *, interval: float, chunk_bytes: int) -> None:
        super().__init__(normal.status_code, normal.raw_headers, keep_length=True)
        self.payload = body
        self.interval = interval
        self.chunk_bytes = chunk_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._start(send)
        view = memoryview(self.payload)
        for offset in range(0, len(view), self.chunk_bytes):
            if offset and not await pause(scope, receive, self.interval):
                await _hang_up(scope, receive)
                return
            piece = bytes(view[offset : offset + self.chunk_bytes])
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class Keepalive(_SlowResponse):
    """`head` at once, then `filler` every `interval` seconds until the client hangs up or
    the server stops; the body never ends, so it is chunked (no `content-length`)."""

    def __init__(
        self,
        head: list[bytes],
        filler: bytes,
        interval: float,
        headers: Mapping[str, str],
        media_type: str,
    ) -> None:
        raw = Response(b"", 200, headers, media_type=media_type).raw_headers
        super().__init__(200, raw, keep_length=False)
        self.head = head
        self.filler = filler
        self.interval = interval

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._start(send)
        for chunk in self.head:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        while await pause(scope, receive, self.interval):
            await send({"type": "http.response.body", "body": self.filler, "more_body": True})
        await _hang_up(scope, receive)
