"""Streamed chat answers: `CompletionStream.events()` relayed as OpenAI's SSE chunks.

The first event is awaited before any header is sent, so everything that fails before
the model starts answering (a refused budget, retries and fallbacks that all failed, a
bad parameter) still gets its proper status and error JSON. After that, text deltas and
tool-call pieces go out as they arrive; a failure mid-stream is sent as an `{"error":
...}` event (what OpenAI does, and what the SDK raises on), and the stream ends.

A client that disconnects cancels the upstream request, before the first event as after
it: a watcher waits for ASGI's `http.disconnect` alongside the wait for the first event,
then alongside the relay, and cancels whichever is running, which closes the
`CompletionStream`; `LLMService` then records the call as cancelled, with the cost of
what arrived.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from ai.calls.streaming import CompletionStream
from ai.providers.base import StreamOutput, ToolCallDelta
from ai.providers.openai_serving import (
    SSE_DONE,
    ChatChunkEncoder,
    ChatCompletionRequest,
    CompletionMeta,
    ToolCallOutput,
    sse_data,
)
from ml_ops.gateway.access_log import AccessEntry
from ml_ops.gateway.answers import finish_reason, usage_of
from ml_ops.gateway.asgi import (
    ClientGone,
    Receive,
    Send,
    cancel_and_wait,
    finished_before_disconnect,
    send_chunk,
    start_stream,
    wait_for_disconnect,
)
from ml_ops.gateway.call_context import CallContext
from ml_ops.gateway.errors import error_for
from ml_ops.gateway.routing import ChatRoute

_END = object()


class ChunkWriter:
    """Turns stream outputs into chunks of one choice, remembering what was opened."""

    def __init__(self, encoder: ChatChunkEncoder) -> None:
        self.encoder = encoder
        self.started = False
        self._calls: set[int] = set()

    def chunks(self, output: StreamOutput) -> list[dict[str, Any]]:
        encoder = self.encoder
        if isinstance(output, str):
            head = self.open()
            return [*head, encoder.content(output)] if output else head
        return self._tool_piece(output)

    def open(self) -> list[dict[str, Any]]:
        if self.started:
            return []
        self.started = True
        return [self.encoder.role()]

    def _tool_piece(self, piece: ToolCallDelta) -> list[dict[str, Any]]:
        encoder = self.encoder
        out: list[dict[str, Any]] = []
        if piece.index not in self._calls and (piece.id or piece.name):
            self._calls.add(piece.index)
            call = ToolCallOutput(piece.id or "", piece.name or "", "")
            if not self.started and piece.index == 0:
                self.started = True
                out.append(encoder.role(tool_call=call))
            else:
                out.extend(self.open())
                out.append(encoder.tool_call(call, call_index=piece.index))
        if piece.arguments:
            out.extend(self.open())
            out.append(encoder.tool_arguments(piece.arguments, call_index=piece.index))
        return out


async def relay_stream(
    route: ChatRoute,
    request: ChatCompletionRequest,
    options: Mapping[str, Any],
    headers: dict[str, str],
    receive: Receive,
    send: Send,
    entry: AccessEntry,
    context: CallContext,
) -> None:
    """Serve one streamed request (see the module docstring). The disconnect watcher runs
    from the start: a client that hangs up while the upstream has not answered yet (retries,
    fallbacks, a slow first token) cancels it as surely as one that hangs up mid-stream."""
    stream = route.service.stream(request.messages, **options)
    events = stream.events()
    assert isinstance(events, AsyncGenerator)
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        opening = asyncio.ensure_future(anext(events, _END))
        if not await finished_before_disconnect(opening, watcher):
            raise ClientGone
        first = opening.result()
        headers["x-request-id"] = context.ensure_id()
        await start_stream(send, headers)
        meta = CompletionMeta(
            id="chatcmpl-" + context.request_id, model=request.model, created=int(time.time())
        )
        writer = ChunkWriter(ChatChunkEncoder(meta, include_usage=request.include_usage))
        relay = asyncio.ensure_future(_relay(first, events, stream, writer, request, send, context))
        if not await finished_before_disconnect(relay, watcher) or relay.exception() is not None:
            entry.outcome = "cancelled"  # hung up, or a write failed: the client is gone
        if entry.completion is None and entry.messages is not None:
            entry.completion = stream.text
    finally:
        await cancel_and_wait(watcher)
        await events.aclose()
        await stream.aclose()


async def _relay(
    first: object,
    events: AsyncIterator[StreamOutput],
    stream: CompletionStream,
    writer: ChunkWriter,
    request: ChatCompletionRequest,
    send: Send,
    context: CallContext,
) -> None:
    """Everything after the headers: chunks, the finish chunk, usage, `[DONE]`."""
    try:
        if first is not _END:
            await _write(send, writer.chunks(first))  # type: ignore[arg-type]
            async for output in events:
                await _write(send, writer.chunks(output))
    except (asyncio.CancelledError, OSError):
        raise
    except Exception as raised:
        error = error_for(raised, context.request_id, alias=request.model)
        await send_chunk(send, sse_data(error.body()), more=False)
        return
    tail = [*writer.open(), writer.encoder.finish(finish_reason(stream.stats))]
    body = b"".join(sse_data(chunk) for chunk in tail)
    if request.include_usage and stream.stats is not None:
        body += sse_data(writer.encoder.usage(usage_of(stream.stats)))
    await send_chunk(send, body + SSE_DONE, more=False)


async def _write(send: Send, chunks: list[dict[str, Any]]) -> None:
    if chunks:
        await send_chunk(send, b"".join(sse_data(chunk) for chunk in chunks))
