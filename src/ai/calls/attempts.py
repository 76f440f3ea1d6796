"""One attempt at a provider: send, check the status, parse. Retried by `ai.calls.resilience`.

Every way an answer can go wrong is converted here into the `ai.errors` tree: HTTP
statuses through the wire format's classifier, transport failures through
`ai.calls.transport`, format violations into `InvalidResponseError`, SSE error events by type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx

from ai.calls import transport
from ai.calls.config import ResolvedRoute
from ai.calls.retry import parse_retry_after
from ai.core.clock import Clock
from ai.errors import InvalidResponseError, OverloadedError, ProviderError, RateLimitError
from ai.providers.base import (
    ChatRequest,
    ChatResult,
    MalformedResponse,
    StreamDecoder,
    StreamErrorEvent,
    StreamOutput,
    parse_json,
    tool_call_deltas,
)
from ai.providers.sse import DEFAULT_MAX_EVENT_CHARS, ServerSentEvent, iter_lines, iter_sse


@dataclass
class OpenedStream:
    """A stream that has produced its first output, text or a piece of a tool call (or has
    ended: `first_output` None); the rest is read later."""

    route: ResolvedRoute
    decoder: StreamDecoder
    events: AsyncIterator[ServerSentEvent]
    first_output: list[StreamOutput] | None
    first_output_at: float | None
    resources: AsyncExitStack


class WholeAnswer(StreamDecoder):
    """A stream request answered with plain JSON (some servers ignore `stream`): the whole
    answer, already parsed, passed on as one delta."""

    def __init__(self, result: ChatResult) -> None:
        super().__init__()
        self._result = result

    def feed(self, event: str | None, data: str) -> str | None:
        return None

    def finished(self) -> bool:
        return True

    def result(self) -> ChatResult:
        return self._result


class ProviderCalls:
    """Builds the attempt functions that `ResilientCaller` retries.

    `max_event_chars` caps one SSE line or event of a stream (`EventTooLarge` past it).
    """

    def __init__(
        self,
        client: Callable[[], httpx.AsyncClient],
        clock: Clock,
        *,
        max_event_chars: int = DEFAULT_MAX_EVENT_CHARS,
    ) -> None:
        self._client = client
        self._clock = clock
        self._max_event_chars = max_event_chars

    def completion(
        self, prepare: Callable[[ResolvedRoute], ChatRequest]
    ) -> Callable[[ResolvedRoute, float], Awaitable[ChatResult]]:
        """An attempt that POSTs the request `prepare` makes for a route and parses the
        whole answer."""

        async def attempt(route: ResolvedRoute, remaining: float) -> ChatResult:
            body = transport.encode_body(route.spec.wire.request_body(prepare(route)))
            answer = await transport.post(self._client(), route, body, remaining)
            return self.parse_answer(route, answer)

        return attempt

    def parse_answer(self, route: ResolvedRoute, answer: transport.Answer) -> ChatResult:
        """A whole answer: an error status or an error object inside a 200 is classified
        like any provider error; anything unreadable is `InvalidResponseError`."""
        if answer.status >= 400:
            raise self.error_from_answer(route, answer)
        wire = route.spec.wire
        try:
            data = parse_json(answer.content)
            embedded = wire.embedded_error_status(data)
            if embedded is not None:
                raise self.error_from_answer(route, answer, status=embedded)
            return wire.parse_response(data)
        except MalformedResponse as exc:
            raise invalid_response(route, exc) from exc

    def stream_opening(
        self, prepare: Callable[[ResolvedRoute], ChatRequest]
    ) -> Callable[[ResolvedRoute, float], Awaitable[OpenedStream]]:
        """An attempt that opens a stream and reads up to its first text.

        Failing before any text reached the caller is safe to retry, so that part runs
        inside the retry loop; what follows is read by `ai.calls.streaming`.
        """

        async def attempt(route: ResolvedRoute, remaining: float) -> OpenedStream:
            body = route.spec.wire.request_body(prepare(route))
            resources = AsyncExitStack()
            try:
                response = await resources.enter_async_context(
                    transport.open_stream(self._client(), route, body, remaining)
                )
                opened = await self._opened(route, response, resources)
                if opened.first_output is None:
                    opened.first_output = await self.read_until_output(opened)
                opened.first_output_at = self._clock.monotonic()
                return opened
            except BaseException:
                await resources.aclose()
                raise

        return attempt

    async def _opened(
        self, route: ResolvedRoute, response: httpx.Response, resources: AsyncExitStack
    ) -> OpenedStream:
        """An event stream ready to read, or a JSON answer taken whole."""
        if response.status_code >= 400 or not _is_event_stream(response):
            with transport.provider_errors(route, reading=True):
                content = (
                    await transport.read_capped(response)
                    if response.status_code >= 400
                    else await response.aread()
                )
            answer = transport.Answer(response.status_code, response.headers, content)
            result = self.parse_answer(route, answer)
            whole: list[StreamOutput] = [result.text] if result.text else []
            whole.extend(tool_call_deltas(result.tool_calls))
            return OpenedStream(
                route, WholeAnswer(result), _no_events(), whole or None, None, resources
            )
        lines = iter_lines(response.aiter_text(), max_line_chars=self._max_event_chars)
        return OpenedStream(
            route,
            route.spec.wire.stream_decoder(),
            iter_sse(lines, max_event_chars=self._max_event_chars),
            None,
            None,
            resources,
        )

    async def read_until_output(self, opened: OpenedStream) -> list[StreamOutput] | None:
        """Feed events to the decoder until text or a piece of a tool call comes out;
        None when the stream ends without more."""
        route = opened.route
        decoder = opened.decoder
        try:
            with transport.provider_errors(route, reading=True):
                async for event in opened.events:
                    text = decoder.feed(event.event, event.data)
                    output: list[StreamOutput] = [text] if text else []
                    output.extend(decoder.take_tool_deltas())
                    if output:
                        return output
                    if decoder.finished():
                        return None
        except MalformedResponse as exc:
            raise invalid_response(route, exc) from exc
        except StreamErrorEvent as exc:
            raise error_from_event(route, exc) from exc
        return None

    def error_from_answer(
        self, route: ResolvedRoute, answer: transport.Answer, *, status: int | None = None
    ) -> ProviderError:
        """Classify a provider's error answer, honouring its Retry-After."""
        return route.spec.wire.error_from_status(
            status or answer.status,
            answer.content,
            provider=route.provider,
            model=route.model,
            retry_after=parse_retry_after(answer.headers, self._clock.now()),
            secrets=route.secrets,
        )


def _is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "text/event-stream")


async def _no_events() -> AsyncIterator[ServerSentEvent]:
    return
    yield  # an async generator with nothing in it


def for_route(request: ChatRequest, route: ResolvedRoute) -> ChatRequest:
    """`request` aimed at the route's model (fallbacks change the model, nothing else)."""
    if request.model == route.model:
        return request
    return dataclasses.replace(request, model=route.model)


def invalid_response(route: ResolvedRoute, cause: Exception) -> InvalidResponseError:
    """The one conversion of a format violation into our error."""
    return InvalidResponseError(
        f"{route.provider} sent a response for model {route.model!r} that is not in its "
        f"documented format ({cause}). Retry later, or report it if it persists.",
        provider=route.provider,
        model=route.model,
        secrets=route.secrets,
    )


def error_from_event(route: ResolvedRoute, event: StreamErrorEvent) -> ProviderError:
    """An SSE error event: by the HTTP code it embeds, with the classifier of error
    answers (a 401 in a stream is an `AuthenticationError`, as in a 200 answer); else by
    its type."""
    if event.status is not None:
        return route.spec.wire.error_from_status(
            event.status,
            transport.encode_body({"error": event.error}),
            provider=route.provider,
            model=route.model,
            retry_after=None,
            secrets=route.secrets,
        )
    kind = (event.error_type or "").lower()
    message = (
        f"{route.provider} sent an error event in the stream for model {route.model!r}: "
        f"{kind or 'error'}: {str(event)[:500]}"
    )
    common = {
        "provider": route.provider,
        "model": route.model,
        "provider_message": str(event)[:500],
        "secrets": route.secrets,
    }
    if "overload" in kind:
        return OverloadedError(message, **common)  # type: ignore[arg-type]
    if "rate_limit" in kind:
        return RateLimitError(message, **common)  # type: ignore[arg-type]
    return ProviderError(
        message,
        retryable=kind in ("api_error", "server_error", "internal_error", ""),
        **common,  # type: ignore[arg-type]
    )
