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
)
from ai.providers.sse import ServerSentEvent, iter_lines, iter_sse


@dataclass
class OpenedStream:
    """A stream that has produced its first text (or ended); the rest is read later."""

    route: ResolvedRoute
    decoder: StreamDecoder
    events: AsyncIterator[ServerSentEvent]
    first_text: str | None
    first_text_at: float | None
    resources: AsyncExitStack


class ProviderCalls:
    """Builds the attempt functions that `ResilientCaller` retries."""

    def __init__(self, client: Callable[[], httpx.AsyncClient], clock: Clock) -> None:
        self._client = client
        self._clock = clock

    def completion(
        self, request: ChatRequest
    ) -> Callable[[ResolvedRoute, float], Awaitable[ChatResult]]:
        """An attempt that POSTs `request` and parses the whole answer."""

        async def attempt(route: ResolvedRoute, remaining: float) -> ChatResult:
            body = route.spec.wire.request_body(for_route(request, route))
            response = await transport.post(self._client(), route, body, remaining)
            if response.status_code >= 400:
                raise self.error_from_response(route, response)
            try:
                return route.spec.wire.parse_response(response.json())
            except (ValueError, MalformedResponse) as exc:
                raise invalid_response(route, exc) from exc

        return attempt

    def stream_opening(
        self, request: ChatRequest
    ) -> Callable[[ResolvedRoute, float], Awaitable[OpenedStream]]:
        """An attempt that opens a stream and reads up to its first text.

        Failing before any text reached the caller is safe to retry, so that part runs
        inside the retry loop; what follows is read by `ai.calls.streaming`.
        """

        async def attempt(route: ResolvedRoute, remaining: float) -> OpenedStream:
            body = route.spec.wire.request_body(for_route(request, route))
            resources = AsyncExitStack()
            try:
                response = await resources.enter_async_context(
                    transport.open_stream(self._client(), route, body, remaining)
                )
                if response.status_code >= 400:
                    with transport.provider_errors(route):
                        await response.aread()
                    raise self.error_from_response(route, response)
                opened = OpenedStream(
                    route,
                    route.spec.wire.stream_decoder(),
                    iter_sse(iter_lines(response.aiter_text())),
                    None,
                    None,
                    resources,
                )
                opened.first_text = await self.read_until_text(opened)
                opened.first_text_at = self._clock.monotonic()
                return opened
            except BaseException:
                await resources.aclose()
                raise

        return attempt

    async def read_until_text(self, opened: OpenedStream) -> str | None:
        """Feed events to the decoder until one yields text; None when the stream ends."""
        route = opened.route
        try:
            with transport.provider_errors(route):
                async for event in opened.events:
                    text = opened.decoder.feed(event.event, event.data)
                    if text:
                        return text
                    if opened.decoder.finished():
                        return None
        except MalformedResponse as exc:
            raise invalid_response(route, exc) from exc
        except StreamErrorEvent as exc:
            raise error_from_event(route, exc) from exc
        return None

    def error_from_response(self, route: ResolvedRoute, response: httpx.Response) -> ProviderError:
        """Classify a provider's error answer, honouring its Retry-After."""
        return route.spec.wire.error_from_status(
            response.status_code,
            response.content,
            provider=route.provider,
            model=route.model,
            retry_after=parse_retry_after(response.headers, self._clock.now()),
        )


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
    )


def error_from_event(route: ResolvedRoute, event: StreamErrorEvent) -> ProviderError:
    """An SSE error event, classified by its type like an HTTP error would be."""
    kind = (event.error_type or "").lower()
    message = (
        f"{route.provider} sent an error event in the stream for model {route.model!r}: "
        f"{kind or 'error'}: {event}"
    )
    if "overload" in kind:
        return OverloadedError(
            message, provider=route.provider, model=route.model, provider_message=str(event)
        )
    if "rate_limit" in kind:
        return RateLimitError(
            message, provider=route.provider, model=route.model, provider_message=str(event)
        )
    return ProviderError(
        message,
        provider=route.provider,
        model=route.model,
        provider_message=str(event),
        retryable=kind in ("api_error", "server_error", "internal_error", ""),
    )
