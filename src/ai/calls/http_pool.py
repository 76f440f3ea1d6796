"""The httpx transport of the clients our services open: httpx's API over httpcore2's pool.

httpx 0.2x sends through httpcore 1.x, whose connection pool does work in proportion to
its open connections on every request and every finished response: each idle connection
is polled with a system call to see whether the server closed it, the idle ones are
counted wrongly (every connection counts, so past `max_keepalive_connections` total
connections an idle one is closed after each response and reopened by the next request),
and every queued request scans every connection. At 50 to 200 concurrent calls that cost
more CPU than the rest of a call (profiled in docs/benchmarks.md, "LLM call overhead").
httpcore2 (pydantic's continuation of httpcore, the pool the openai and anthropic SDKs use
through httpx2) keeps the same request model and exceptions with those costs removed.

`PooledTransport` is httpx's own `AsyncHTTPTransport` with that pool: the same request
mapping and the same conversion of the pool's errors into httpx's exception classes, so
`ai.calls.transport` (and anything else written against httpx) sees no difference.
Clients passed in by callers keep whatever transport they have.
"""

from __future__ import annotations

import contextlib
import typing
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator

import httpcore2
import httpx

#: httpcore2's exceptions and the httpx classes httpx's own transport raises for them,
#: most specific first (a subclass before its base).
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore2.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx.ReadTimeout),
    (httpcore2.WriteTimeout, httpx.WriteTimeout),
    (httpcore2.PoolTimeout, httpx.PoolTimeout),
    (httpcore2.TimeoutException, httpx.TimeoutException),
    (httpcore2.ConnectError, httpx.ConnectError),
    (httpcore2.ReadError, httpx.ReadError),
    (httpcore2.WriteError, httpx.WriteError),
    (httpcore2.NetworkError, httpx.NetworkError),
    (httpcore2.ProxyError, httpx.ProxyError),
    (httpcore2.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore2.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore2.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore2.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """Re-raise the pool's errors as the httpx exceptions httpx's transport would raise."""
    try:
        yield
    except Exception as exc:
        for pool_error, httpx_error in _ERRORS:
            if isinstance(exc, pool_error):
                raise httpx_error(str(exc)) from exc
        raise


class ConvertingStream(httpx.AsyncByteStream):
    """A response body whose transport's errors are converted as it is read and closed,
    by `converting` (a context manager that re-raises them as httpx's exceptions)."""

    def __init__(
        self,
        stream: AsyncIterable[bytes],
        converting: Callable[[], contextlib.AbstractContextManager[None]],
    ) -> None:
        self._stream = stream
        self._converting = converting

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with self._converting():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            with self._converting():
                await close()


class PooledTransport(httpx.AsyncBaseTransport):
    """An httpx transport over `httpcore2.AsyncConnectionPool` (see the module docstring).

    `limits` and `http2` mean what they mean to `httpx.AsyncClient`; TLS verification uses
    httpx's default context (certifi, or the system store with `SSL_CERT_FILE` /
    `SSL_CERT_DIR`), as httpx's transport does.
    """

    def __init__(self, *, limits: httpx.Limits, http2: bool = False) -> None:
        #: What the pool was built with (read-only; the pool does not change afterwards).
        self.limits = limits
        self.http2 = http2
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        pooled = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=typing.cast(AsyncIterable[bytes], request.stream),
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await self._pool.handle_async_request(pooled)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=ConvertingStream(
                typing.cast(AsyncIterable[bytes], response.stream), _httpx_errors
            ),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def pooled_client(
    *, timeout: float, limits: httpx.Limits, http2: bool = False
) -> httpx.AsyncClient:
    """The `httpx.AsyncClient` a service opens for itself, over `PooledTransport`."""
    return httpx.AsyncClient(
        timeout=timeout, limits=limits, transport=PooledTransport(limits=limits, http2=http2)
    )
