"""HTTP to providers through httpx, with httpx's errors mapped into ours in one place."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx

from ai.calls.config import ResolvedRoute
from ai.errors import ProviderConnectionError, ProviderError, ProviderTimeoutError


@contextmanager
def provider_errors(route: ResolvedRoute) -> Iterator[None]:
    """Turn httpx transport failures into `ProviderTimeoutError` / `ProviderConnectionError`."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderTimeoutError(
            f"{route.provider} did not answer in time for model {route.model!r} "
            f"({type(exc).__name__}). Retried; raise the `timeout` setting if calls are long.",
            provider=route.provider,
            model=route.model,
        ) from exc
    except httpx.TransportError as exc:
        raise ProviderConnectionError(
            f"Could not reach {route.provider} at {route.base_url} for model {route.model!r} "
            f"({type(exc).__name__}: {exc}). Retried; check the base URL and network.",
            provider=route.provider,
            model=route.model,
        ) from exc
    except httpx.HTTPError as exc:
        raise ProviderError(
            f"HTTP failure talking to {route.provider}: {type(exc).__name__}: {exc}",
            provider=route.provider,
            model=route.model,
        ) from exc


def encode_body(body: dict[str, Any]) -> bytes:
    """Compact JSON, UTF-8 kept as is (smaller bodies, faster encoding)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def post(
    client: httpx.AsyncClient, route: ResolvedRoute, body: dict[str, Any], read_timeout: float
) -> httpx.Response:
    """POST `body` to the route's chat URL and read the whole answer."""
    with provider_errors(route):
        return await client.post(
            route.chat_url,
            content=encode_body(body),
            headers=route.headers,
            timeout=read_timeout,
        )


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
