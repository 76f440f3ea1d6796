"""Streamed completions: text deltas as they arrive, stats and one record at the end."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Self

from ai.cache.entry import CachedResponse
from ai.cache.response_cache import CachePlan, ResponseCache
from ai.calls.attempts import OpenedStream, ProviderCalls
from ai.calls.chat_call import fit_every_route
from ai.calls.config import ResolvedRoute
from ai.calls.resilience import CallProgress, ResilientCaller, deadline_error
from ai.calls.stats import CompletionStats, StatsBuilder
from ai.core.lifecycle import AsyncClosing
from ai.core.records import RequestRecord
from ai.errors import DevoraError, ProviderError, ProviderTimeoutError, StreamInterruptedError
from ai.providers.base import ChatRequest, StreamOutput, tool_call_deltas


@dataclass
class StreamResult:
    """What a stream has produced so far. It is kept apart from `CompletionStream` so the
    generators that fill it hold no reference back to the stream: a stream its caller
    drops is then freed at once, and its generators are closed outer first, which leaves
    the call's one record (a cycle would have them finalised all together, each closing
    the others, and the record lost)."""

    text: str = ""
    stats: CompletionStats | None = None


class CompletionStream(AsyncClosing):
    """Async iterator of text deltas; after it ends, `text` and `stats` are set.

        stream = llm.stream(messages=[...])
        async for delta in stream:
            print(delta, end="")
        print(stream.stats.estimated_cost)

    `events()` iterates instead over everything as it arrives: text deltas (`str`) and
    pieces of tool calls (`ToolCallDelta`), for callers that act on a tool call before
    the answer ends; the finished calls are in `stats.tool_calls` either way.

    Leaving early with `aclose()` or `async with` closes the connection at once and records
    the call as cancelled, with the cost of what arrived. A plain `break` cannot be seen:
    the call stays open until the stream is closed, dropped or its `LLMService` closes,
    and is recorded then.
    """

    def __init__(self) -> None:
        self.result = StreamResult()
        self._outputs: AsyncGenerator[StreamOutput, None] | None = None

    @property
    def text(self) -> str:
        """The text received so far."""
        return self.result.text

    @property
    def stats(self) -> CompletionStats | None:
        """The call's statistics, once the stream has ended."""
        return self.result.stats

    def bind(self, outputs: AsyncGenerator[StreamOutput, None]) -> None:
        """Attach the generator that produces the outputs (done once, by `LLMService`)."""
        self._outputs = outputs

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str:
        while True:
            output = await self._next_output()
            if isinstance(output, str):
                return output

    async def events(self) -> AsyncIterator[StreamOutput]:
        """Text deltas and tool-call pieces, in the order they arrive."""
        while True:
            try:
                yield await self._next_output()
            except StopAsyncIteration:
                return

    async def _next_output(self) -> StreamOutput:
        if self._outputs is None:
            raise StopAsyncIteration
        output = await self._outputs.__anext__()
        if isinstance(output, str):
            self.result.text += output
        return output

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        if self._outputs is not None:
            await self._outputs.aclose()

    async def collect(self) -> tuple[str, CompletionStats]:
        """Read the whole stream; returns the text and stats like `complete()`."""
        async for _ in self:
            pass
        if self.stats is None:
            raise DevoraError("The stream ended without statistics; it was closed early.")
        return self.text, self.stats


@dataclass
class StreamJob:
    """Internal: everything one streamed call needs, bundled so the generator stays small.
    `emit` takes the call's one record (a guard chain's `RecordSlot.emit`).

    `whole_deadline`: the call's deadline bounds the whole answer, not only its first
    text (`complete()` with `enable_streaming`, which promises the deadline of a plain
    call); passing it then raises `ProviderTimeoutError`, recorded with what arrived."""

    result: StreamResult
    caller: ResilientCaller
    calls: ProviderCalls
    routes: Sequence[ResolvedRoute]
    request: ChatRequest
    progress: CallProgress
    builder: StatsBuilder
    emit: Callable[[RequestRecord], None]
    prepare: Callable[[ResolvedRoute], ChatRequest]
    idle_timeout: float = 60.0
    whole_deadline: bool = False


async def stream_completion(job: StreamJob) -> AsyncGenerator[StreamOutput, None]:
    """Open with retries and fallbacks, then pass deltas through; record once at the end."""
    fit_every_route(job.prepare, job.routes)  # a refused parameter fails before sending
    try:
        opened = await job.caller.call(
            job.routes, job.calls.stream_opening(job.prepare), job.progress
        )
    except ProviderError as error:
        job.emit(job.builder.failure_record(error, streamed=True))
        raise
    first_token_ms = _first_token_ms(job, opened)
    try:
        for output in opened.first_output or ():
            yield output
        async for output in _remaining_output(job, opened):
            yield output
    except BaseException as error:  # interrupted, or closed early by the caller
        _emit_partial(job, opened, error, first_token_ms)
        raise
    finally:
        await opened.resources.aclose()
    job.result.stats = job.builder.build(
        opened.decoder.result(), time_to_first_token_ms=first_token_ms
    )
    job.emit(job.builder.record(job.result.stats, streamed=True))


async def _remaining_output(
    job: StreamJob, opened: OpenedStream
) -> AsyncGenerator[StreamOutput, None]:
    """Outputs after the first; any failure becomes `StreamInterruptedError`, except the
    passing of a whole-call deadline (`ProviderTimeoutError`, as for a plain call)."""
    route = opened.route
    out_of_time = False
    try:
        if opened.decoder.finished():
            return
        while True:
            wait, by_deadline = _read_limit(job)
            try:
                async with job.builder.clock.timeout(wait):
                    outputs = await job.calls.read_until_output(opened)
            except TimeoutError:
                if not by_deadline:
                    raise _idle(job, opened) from None
                out_of_time = True
                break
            if outputs is None:
                break
            for output in outputs:
                yield output
    except ProviderError as error:
        raise _interrupted(job, opened, error) from error
    if out_of_time:
        raise deadline_error(route, job.progress, doing="before the answer ended")
    if not opened.decoder.finished():
        cause = ProviderError(
            "the connection closed before the provider's end-of-stream marker",
            provider=route.provider,
            model=route.model,
        )
        raise _interrupted(job, opened, cause)


def _read_limit(job: StreamJob) -> tuple[float, bool]:
    """How long the next read may take, and whether the call's deadline (rather than the
    idle timeout) is what bounds it."""
    if not job.whole_deadline:
        return job.idle_timeout, False
    left = max(0.0, job.progress.deadline - job.builder.clock.monotonic())
    return (left, True) if left <= job.idle_timeout else (job.idle_timeout, False)


def _idle(job: StreamJob, opened: OpenedStream) -> ProviderTimeoutError:
    """No text for `idle_timeout` seconds after the first: keep-alive comments and events
    without text (pings) do not count as progress."""
    route = opened.route
    return ProviderTimeoutError(
        f"no text for {job.idle_timeout:g}s (stream_idle_timeout) after the stream started",
        provider=route.provider,
        model=route.model,
        retryable=False,
    )


def _interrupted(
    job: StreamJob, opened: OpenedStream, cause: ProviderError
) -> StreamInterruptedError:
    route = opened.route
    return StreamInterruptedError(
        f"The stream from {route.provider} ({route.model!r}) broke after it started: "
        f"{cause}. The text received so far is in .partial_text; not retried because part "
        "of the answer had already been delivered.",
        partial_text=job.result.text,
        provider=route.provider,
        model=route.model,
        provider_message=cause.provider_message,
    )


def _first_token_ms(job: StreamJob, opened: OpenedStream) -> float | None:
    if opened.first_output_at is None or not opened.first_output:
        return None
    return (opened.first_output_at - job.progress.started) * 1000


def _emit_partial(
    job: StreamJob, opened: OpenedStream, error: BaseException, ttft: float | None
) -> None:
    partial = opened.decoder.result()
    partial.text = job.result.text
    job.emit(
        job.builder.failure_record(
            error, streamed=True, partial=partial, time_to_first_token_ms=ttft
        )
    )


REPLAY_CHUNK_CHARS = 64


async def stream_through_cache(
    job: StreamJob, cache: ResponseCache, plan: CachePlan
) -> AsyncGenerator[StreamOutput, None]:
    """Replay a cached answer in chunks, or stream a fresh one and store it once complete."""
    if plan.read and (hit := await cache.lookup(plan)) is not None:
        for start in range(0, max(len(hit.text), 1), REPLAY_CHUNK_CHARS):
            chunk = hit.text[start : start + REPLAY_CHUNK_CHARS]
            if chunk:
                yield chunk
        for delta in tool_call_deltas(hit.tool_calls):
            yield delta
        job.result.stats = job.builder.from_cache(hit, streamed=True)
        job.emit(job.builder.record(job.result.stats, streamed=True))
        return
    fresh = stream_completion(job)
    try:
        async for output in fresh:
            yield output
    finally:  # closed early: close the call now, so it records what arrived (once)
        await fresh.aclose()
    if job.result.stats is not None:
        await cache.store(plan, cache_entry(job.result.text, job.result.stats))


def cache_entry(text: str, stats: CompletionStats) -> CachedResponse:
    """What to keep of a finished call so that a hit can stand in for it."""
    return CachedResponse(
        text=text,
        model=stats.model,
        provider=stats.provider,
        usage=stats.usage,
        cost=stats.estimated_cost if stats.cached is False else stats.saved_cost,
        finish_reason=stats.finish_reason,
        tool_calls=list(stats.tool_calls),
        created_at=time.time(),
    )
