"""The gateway's upstream connection pool: httpx's API over aiohttp's pool, with aiohttp's
errors converted to the httpx exceptions that say what happened.

`httpx-aiohttp` maps every `aiohttp.ClientConnectionError` to `httpx.ConnectTimeout`
(its mapping table lets the broad class win over `ClientConnectorError`), so a refused
connection or a server that hung up read as a timeout: a 504 "did not answer in time,
raise the timeout" for an upstream that is down. Here each aiohttp error is converted by
its own class, most specific first, as httpx's transport would report it:

    ConnectionTimeoutError          -> ConnectTimeout      (504: slow to accept)
    ServerTimeoutError              -> ReadTimeout         (504: slow to answer)
    ClientProxyConnectionError      -> ProxyError
    ClientConnectorError            -> ConnectError        (502: refused, DNS, TLS)
    ServerDisconnectedError         -> RemoteProtocolError (502: hung up)
    ClientPayloadError              -> ReadError           (the body broke off)
    other ClientConnectionError     -> ReadError           (reset)
    other ClientError               -> RemoteProtocolError (an answer aiohttp cannot read)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ai.calls.http_pool import ConvertingStream

_ERRORS: tuple[tuple[type[aiohttp.ClientError], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.ClientError, httpx.RemoteProtocolError),
)


def _converted(error: aiohttp.ClientError) -> httpx.TransportError:
    for source, target in _ERRORS:
        if isinstance(error, source):
            return target(str(error) or type(error).__name__)
    return httpx.TransportError(str(error))  # unreachable: ClientError is the last row


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """Re-raise aiohttp's errors (as thrown, or as httpx-aiohttp mapped them) by class."""
    try:
        yield
    except httpx.TransportError as error:
        cause = error.__cause__
        if isinstance(cause, aiohttp.ClientError):
            raise _converted(cause) from cause
        raise
    except aiohttp.ClientError as error:
        raise _converted(error) from error


class UpstreamTransport(httpx.AsyncBaseTransport):
    """`AiohttpTransport` with its errors converted (see the module docstring)."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._inner = AiohttpTransport(limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _httpx_errors():
            response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = ConvertingStream(response.stream, _httpx_errors)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
