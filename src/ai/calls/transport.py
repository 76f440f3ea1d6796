"""HTTP to providers through httpx, with httpx's errors mapped into ours in one place.

What is read of an answer is bounded: a success body whole (the deadline bounds its
time), an error body only up to `MAX_ERROR_BODY_BYTES`, since a hostile or broken upstream
can send megabytes of error text that would otherwise end up, masked at great cost, in an
exception message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from ai.calls.config import ResolvedRoute
from ai.errors import ProviderConnectionError, ProviderError, ProviderTimeoutError, mask_url

MAX_ERROR_BODY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's answer: status, headers and body (an error body is capped)."""

    status: int
    headers: httpx.Headers
    content: bytes


@contextmanager
def provider_errors(route: ResolvedRoute, *, reading: bool = False) -> Iterator[None]:
    """Turn httpx transport failures into `ProviderTimeoutError` / `ProviderConnectionError`.

    `reading` says the answer had started: a broken connection then is a reset mid-answer,
    not a host we could not reach.
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderTimeoutError(
            f"{route.provider} did not answer in time for model {route.model!r} "
            f"({type(exc).__name__}); raise the `timeout` setting if calls are long.",
            provider=route.provider,
            model=route.model,
            secrets=route.secrets,
        ) from exc
    except httpx.TransportError as exc:
        raise ProviderConnectionError(
            _connection_message(route, exc, reading),
            provider=route.provider,
            model=route.model,
            secrets=route.secrets,
        ) from exc
    except httpx.HTTPError as exc:
        raise ProviderError(
            f"HTTP failure talking to {route.provider}: {type(exc).__name__}: {exc}",
            provider=route.provider,
            model=route.model,
            secrets=route.secrets,
        ) from exc


def _connection_message(route: ResolvedRoute, exc: httpx.TransportError, reading: bool) -> str:
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    where = mask_url(route.base_url)
    if isinstance(exc, httpx.ConnectError):
        return (
            f"Could not reach {route.provider} at {where} for model {route.model!r} "
            f"({detail}); check the base URL and network."
        )
    when = "while sending the answer" if reading else "before answering"
    return (
        f"The connection to {route.provider} at {where} broke {when} for model "
        f"{route.model!r} ({detail})."
    )


def encode_body(body: dict[str, Any]) -> bytes:
    """Compact JSON, UTF-8 kept as is (smaller bodies, faster encoding)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def post(
    client: httpx.AsyncClient,
    route: ResolvedRoute,
    content: bytes,
    read_timeout: float,
    *,
    url: str | None = None,
) -> Answer:
    """POST `content` (JSON) to `url` (the route's chat URL by default) and read the answer."""
    request = client.build_request(
        "POST", url or route.chat_url, content=content, headers=route.headers, timeout=read_timeout
    )
    with provider_errors(route):
        response = await client.send(request, stream=True)
    try:
        with provider_errors(route, reading=True):
            if response.status_code >= 400:
                body = await read_capped(response)
            else:
                body = await response.aread()
    finally:
        await response.aclose()
    return Answer(response.status_code, response.headers, body)


async def read_capped(response: httpx.Response, limit: int = MAX_ERROR_BODY_BYTES) -> bytes:
    """At most `limit` bytes of a response body; the rest is never read."""
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        buffer += chunk
        if len(buffer) >= limit:
            break
    return bytes(buffer[:limit])


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, route: ResolvedRoute, body: dict[str, Any], read_timeout: float
) -> AsyncIterator[httpx.Response]:
    """POST `body` and hand back the response with its body still unread."""
    request = client.build_request(
        "POST",
        route.chat_url,
        content=encode_body(body),
        headers=route.headers,
        timeout=read_timeout,
    )
    with provider_errors(route):
        response = await client.send(request, stream=True)
    try:
        yield response
    finally:
        await response.aclose()
