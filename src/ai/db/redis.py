"""One way to build a Redis client, and the one boundary where its errors become ours.

Every Redis user (the response cache's `RedisBackend`; budget and rate-limit counters and
A/B assignment after it) needs the same things, written here once:

- `create_redis_client`: a `redis.asyncio.Redis` from a URL (default `$REDIS_URL`, else
  `redis://localhost:6379/0`) with a pool of at most `max_connections` connections and
  socket and connect timeouts, so a dead or hung server fails fast instead of stalling
  the calls Redis sits in front of. An invalid URL is a `ConfigurationError` whose
  message shows the URL with its password masked (`ai.errors.mask_url`).
- `require_bytes_replies`: a client handed in by a user must return bytes, since every
  user here stores binary values.
- `connect_redis` / `RedisConnection`: either of the above plus `run(operation, call)`,
  which lets at most `max_connections` commands be in flight (the rest wait up to
  `socket_timeout` for a slot) and turns every driver failure (`RedisError`, `OSError`)
  into `ai.errors.StoreError` naming the server without its password.

redis-py is optional: it is imported when a client is built, never when this module or
`ai.db` is imported, and a missing package raises an `ImportError` that names the extra
(`pip install 'devora-ai[redis]'`).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ai.errors import ConfigurationError, StoreError, mask_url, redact

if TYPE_CHECKING:
    import redis.asyncio as aioredis

T = TypeVar("T")

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_MAX_CONNECTIONS = 50
DEFAULT_SOCKET_TIMEOUT_S = 0.5


def install_hint(owner: str) -> str:
    """The `ImportError` message for `owner` when redis-py is not installed."""
    return f"{owner} needs the redis package: pip install 'devora-ai[redis]'"


def resolve_redis_url(url: str | None = None) -> str:
    """`url` if given, else `$REDIS_URL`, else `redis://localhost:6379/0`."""
    return url or os.environ.get("REDIS_URL", "").strip() or DEFAULT_REDIS_URL


def create_redis_client(
    url: str | None = None,
    *,
    owner: str = "Redis",
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_S,
    connect_timeout: float | None = None,
) -> aioredis.Redis:
    """A `redis.asyncio.Redis` for `url` (see `resolve_redis_url`) that owns its connection pool.

    The pool holds at most `max_connections` connections (a `max_connections` in the URL's
    query wins inside redis-py); `socket_timeout` bounds each reply and `connect_timeout`
    (default: `socket_timeout`) each connection attempt. One immediate retry covers the
    first command after a server restart, which finds its pooled connection dead; it
    retries connection errors only, never a timeout, so a hung server costs a caller one
    timeout, not two. `owner` names the caller in the install hint and in error messages.
    """
    _check_limits(max_connections, socket_timeout, connect_timeout)
    try:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError as exc:
        raise ImportError(install_hint(owner)) from exc
    url = resolve_redis_url(url)
    try:
        pool = aioredis.ConnectionPool.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout if connect_timeout is None else connect_timeout,
            # A dropped connection is worth one retry; a timeout is not (the server is
            # hung, and redis-py's default would wait a second timeout for the same).
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"Invalid Redis URL {mask_url(url)} for {owner}: "
            f"{redact(str(exc), url_secrets(url))}. "
            "Expected redis://[user:password@]host:port/db, rediss://... or unix://..."
        ) from None
    return aioredis.Redis.from_pool(pool)


def require_bytes_replies(client: aioredis.Redis, *, owner: str = "Redis") -> None:
    """Refuse a client built with `decode_responses=True`: our values are binary."""
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ConfigurationError(
            f"The Redis client given to {owner} must return bytes: create it with "
            "decode_responses=False (the default)."
        )


class RedisConnection:
    """A Redis client and the one boundary its commands pass through (`run`).

    `label` starts every error message ("Redis cache"). `owns_client` says whether
    `aclose` closes the client (True for one built from a URL, False for one handed in).
    At most `max_connections` commands are in flight at once; the others wait up to
    `slot_timeout` seconds. redis-py's BlockingConnectionPool does the same, but its
    condition-variable handoff costs ~12 µs per command, an uncontended semaphore ~1 µs,
    and a plain pool never sees more commands than it may serve.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        label: str,
        where: str,
        secrets: tuple[str, ...] = (),
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        slot_timeout: float = DEFAULT_SOCKET_TIMEOUT_S,
        owns_client: bool = True,
    ) -> None:
        import redis

        self.client = client
        self.label = label
        self.where = where
        self.max_connections = max_connections
        self.owns_client = owns_client
        self._secrets = secrets
        self._slot_timeout = slot_timeout
        self._slots = asyncio.Semaphore(max_connections)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._auth_error: type[BaseException] = redis.AuthenticationError

    def __repr__(self) -> str:
        return f"RedisConnection({self.where!r}, label={self.label!r})"

    async def __aenter__(self) -> RedisConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def run(self, operation: str, call: Awaitable[T]) -> T:
        """Await `call` (a command of `self.client`) in a connection slot; any driver
        failure leaves as `StoreError` naming `operation` and the server, never the
        password."""
        await self._acquire(operation, call)
        try:
            return await call
        except self._errors as exc:
            raise self._store_error(operation, exc) from exc
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        """Close the client if this connection built it; a client handed in stays open."""
        if self.owns_client:
            await self.run("close", self.client.aclose())

    async def _acquire(self, operation: str, call: Awaitable[object]) -> None:
        slots = self._slots
        if not slots.locked():
            await slots.acquire()  # a free slot: returns at once, without suspending
            return
        try:
            async with asyncio.timeout(self._slot_timeout):
                await slots.acquire()
        except BaseException as exc:
            _discard(call)
            if isinstance(exc, TimeoutError):
                raise StoreError(
                    f"{self.label} {operation}: all {self.max_connections} connections to "
                    f"{self.where} stayed busy for {self._slot_timeout} s. Raise "
                    "max_connections, or check whether Redis has slowed down."
                ) from None
            raise

    def _store_error(self, operation: str, exc: BaseException) -> StoreError:
        detail = redact(f"{type(exc).__name__}: {exc}", self._secrets).rstrip(". ")
        if isinstance(exc, self._auth_error):
            hint = "Check the user name and password in the Redis URL."
        else:
            hint = (
                "Check that Redis is running and reachable; the client reconnects by itself "
                "once it is."
            )
        return StoreError(f"{self.label} {operation} failed at {self.where}: {detail}. {hint}")


def connect_redis(
    url: str | None = None,
    *,
    client: aioredis.Redis | None = None,
    owner: str = "Redis",
    label: str = "Redis",
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_S,
    connect_timeout: float | None = None,
) -> RedisConnection:
    """A `RedisConnection` on a client built from `url` (see `create_redis_client`), or on
    `client` (bytes replies; its own timeouts and retries apply; not closed by `aclose`).

    `owner` names the caller in configuration and install messages ("RedisBackend"),
    `label` starts the messages of failed commands ("Redis cache").
    """
    if client is None:
        built = create_redis_client(
            url,
            owner=owner,
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
        )
        return _owned(built, resolve_redis_url(url), label, max_connections, socket_timeout)
    if url is not None:
        raise ConfigurationError(f"Give {owner} either url or client, not both.")
    _check_limits(max_connections, socket_timeout, connect_timeout)
    try:
        import redis  # noqa: F401 - RedisConnection needs the driver's error types
    except ImportError as exc:  # pragma: no cover - a client exists, so redis does too
        raise ImportError(install_hint(owner)) from exc
    require_bytes_replies(client, owner=owner)
    kwargs = client.connection_pool.connection_kwargs
    return RedisConnection(
        client,
        label=label,
        where=describe_client(kwargs),
        secrets=tuple(_password(kwargs)),
        max_connections=max_connections,
        slot_timeout=socket_timeout,
        owns_client=False,
    )


def describe_client(kwargs: Mapping[str, object]) -> str:
    """Where a client's connection kwargs point, without credentials."""
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def url_secrets(url: str) -> list[str]:
    """The URL's passwords as written and percent-decoded, to redact either form."""
    try:
        parts = urlsplit(url)
        found = {parts.netloc.rpartition("@")[0].partition(":")[2], parts.password or ""}
    except ValueError:
        return []
    for name, value in parse_qsl(parts.query):
        if name.lower() == "password":
            found.add(value)
    return [secret for secret in found if secret]


# --- the parts ------------------------------------------------------------------------


def _owned(
    client: aioredis.Redis, url: str, label: str, max_connections: int, socket_timeout: float
) -> RedisConnection:
    pool = client.connection_pool
    return RedisConnection(
        client,
        label=label,
        where=mask_url(url),
        secrets=tuple(url_secrets(url) + _password(pool.connection_kwargs)),
        # A max_connections in the URL's query wins inside redis-py; never queue more.
        max_connections=min(max_connections, pool.max_connections),
        slot_timeout=socket_timeout,
        owns_client=True,
    )


def _check_limits(
    max_connections: int, socket_timeout: float, connect_timeout: float | None
) -> None:
    """Refuse limits that would queue forever or never connect, naming the setting."""
    if (
        isinstance(max_connections, bool)
        or not isinstance(max_connections, int)
        or max_connections < 1
    ):
        raise ConfigurationError(
            f"max_connections must be an integer >= 1, got {max_connections!r}."
        )
    for name, value in (("socket_timeout", socket_timeout), ("connect_timeout", connect_timeout)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ConfigurationError(
                f"{name} must be a finite number of seconds > 0, got {value!r}."
            )


def _password(kwargs: Mapping[str, object]) -> list[str]:
    password = kwargs.get("password")
    return [password] if isinstance(password, str) and password else []


def _discard(call: Awaitable[object]) -> None:
    """Close a command coroutine that will never run (no 'never awaited' warning)."""
    close = getattr(call, "close", None)
    if close is not None:
        close()
