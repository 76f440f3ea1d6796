"""Redis cache backend: entries shared by every process and host that uses the same Redis.

redis is an optional dependency, imported when a `RedisBackend` is built, never when this
module or `ai.cache` is imported (`pip install 'devora-ai[redis]'` brings it).

Layout on the server: one string per entry, key = `prefix + cache key`, value =
`CachedResponse.to_bytes()`, expiry kept by Redis itself (`SET ... PX`). The prefix is
what lets several deployments share one Redis: `clear()` removes only keys under it.

Errors: every failure of the driver (connection refused or reset, timeouts, any
`RedisError`, `OSError`) is converted in `_guarded` — the one boundary — into
`ai.errors.StoreError`, whose message names the server without its password. A value that
cannot be decoded raises `CacheValueError(reason="corrupt")`; it is left in place, since
it may have been written by another version of devora-ai that shares the server. The
backend does not degrade by itself: `ResponseCache` catches these and serves uncached.

Recovery: the connection pool reconnects on demand, and one immediate retry covers the
first command after a restart (it finds its pooled connection dead), so the same
`RedisBackend` works again as soon as Redis answers; nothing needs to be rebuilt.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ai.cache.backend import BackendStats
from ai.cache.entry import CachedResponse, CacheValueError
from ai.errors import ConfigurationError, StoreError, mask_url, redact

if TYPE_CHECKING:
    import redis.asyncio as aioredis

T = TypeVar("T")

DEFAULT_URL = "redis://localhost:6379/0"
_INSTALL_HINT = "RedisBackend needs the redis package: pip install 'devora-ai[redis]'"
_SCAN_BATCH = 1000
_GLOB_SPECIAL = "\\*?[]"


def _glob_escape(text: str) -> str:
    """Escape SCAN MATCH wildcards so a prefix such as `app[1]:` matches only itself."""
    return "".join("\\" + char if char in _GLOB_SPECIAL else char for char in text)


class RedisBackend:
    """Cache entries in Redis under `prefix`, with expiry kept by Redis.

    Give `url` (default: `$REDIS_URL`, else `redis://localhost:6379/0`) to let the backend
    own a pool of at most `max_connections` connections, or `client` to share an existing
    `redis.asyncio.Redis` (bytes replies; it is not closed by `aclose`; its own timeouts
    and retries apply). Either way at most `max_connections` commands of this backend are
    in flight at once. `socket_timeout` bounds connecting, each reply and the wait for a
    free connection, so a dead or hung Redis fails fast instead of stalling the calls the
    cache sits in front of.

    `stats()` reports `entries`/`bytes` as None (counting keys under a prefix on a shared
    server takes a full SCAN) and 0 evictions/expirations: Redis evicts and expires by
    itself and does not tell its clients (`INFO stats` has server-wide totals).
    """

    name = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        prefix: str = "devora:cache:",
        default_ttl: float | None = 3600.0,
        socket_timeout: float = 0.5,
        max_connections: int = 50,
    ) -> None:
        try:
            import redis
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise ImportError(_INSTALL_HINT) from exc
        if not isinstance(prefix, str) or not prefix:
            # An empty prefix would make clear() delete every key on the server.
            raise ConfigurationError("prefix must be a non-empty string, e.g. 'myapp:cache:'.")
        if default_ttl is not None and not default_ttl > 0:
            raise ConfigurationError(
                f"default_ttl must be > 0 seconds or None (no expiry), got {default_ttl!r}."
            )
        if not (socket_timeout > 0 and math.isfinite(socket_timeout)):
            raise ConfigurationError(
                f"socket_timeout must be a finite number of seconds > 0, got {socket_timeout!r}."
            )
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or max_connections < 1
        ):
            raise ConfigurationError(
                f"max_connections must be an integer >= 1, got {max_connections!r}."
            )
        self.prefix = prefix
        self._default_ttl = default_ttl
        self._max_connections = max_connections
        self._slot_wait = socket_timeout
        # At most max_connections commands in flight; the rest wait (up to socket_timeout)
        # for a free slot (`_slots`, a semaphore). redis-py's BlockingConnectionPool does
        # the same, but its condition-variable handoff costs ~12 µs per command; an
        # uncontended semaphore ~1 µs, and a plain pool never sees more than it may serve.
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._auth_error: type[BaseException] = redis.AuthenticationError
        if client is not None:
            if url is not None:
                raise ConfigurationError("Give RedisBackend either url or client, not both.")
            kwargs = client.connection_pool.connection_kwargs
            if kwargs.get("decode_responses"):
                raise ConfigurationError(
                    "The Redis client given to RedisBackend must return bytes: create it "
                    "with decode_responses=False (the default)."
                )
            self._client = client
            self._owns_client = False
            self._slots = asyncio.Semaphore(max_connections)
            self._where = _describe(kwargs)
            self._secrets = _secrets(kwargs.get("password"))
            return
        url = url or os.environ.get("REDIS_URL", "").strip() or DEFAULT_URL
        self._where = mask_url(url)
        try:
            pool = aioredis.ConnectionPool.from_url(
                url,
                max_connections=max_connections,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as exc:
            raise ConfigurationError(
                f"Invalid Redis URL {self._where}: {redact(str(exc), _url_secrets(url))}. "
                "Expected redis://[user:password@]host:port/db, rediss://... or unix://..."
            ) from None
        self._secrets = _url_secrets(url) + _secrets(pool.connection_kwargs.get("password"))
        self._client = aioredis.Redis.from_pool(pool)
        self._owns_client = True
        # A max_connections in the URL's query wins inside redis-py; never queue more.
        self._max_connections = min(max_connections, pool.max_connections)
        self._slots = asyncio.Semaphore(self._max_connections)

    def __repr__(self) -> str:
        return f"RedisBackend({self._where!r}, prefix={self.prefix!r})"

    async def get(self, key: str) -> CachedResponse | None:
        """The entry for `key`, or None; Redis never returns an expired one."""
        data = await self._guarded("get", self._client.get(self.prefix + key))
        if data is None:
            return None
        if not isinstance(data, bytes):  # only a client with decode_responses=True does this
            raise CacheValueError("A cached value came back as text, not bytes.", reason="corrupt")
        return CachedResponse.from_bytes(data)

    async def set(self, key: str, value: CachedResponse, ttl: float | None) -> None:
        """Store `value` for `ttl` seconds (None: `default_ttl`; None there too: no expiry)."""
        data = value.to_bytes()
        if ttl is None:
            ttl = self._default_ttl
        if ttl is None or ttl == math.inf:
            await self._guarded("set", self._client.set(self.prefix + key, data))
        elif ttl > 0:
            # Round up: an entry may outlive its TTL by under a millisecond, never fall short.
            milliseconds = max(1, math.ceil(ttl * 1000))
            await self._guarded("set", self._client.set(self.prefix + key, data, px=milliseconds))
        else:
            raise ConfigurationError(f"ttl must be > 0 seconds or None, got {ttl!r}.")

    async def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        removed = await self._guarded("delete", self._client.unlink(self.prefix + key))
        return bool(removed)

    async def clear(self) -> None:
        """Remove the keys under this backend's prefix (SCAN + UNLINK in batches of 1,000).

        Keys of other prefixes on the same server are untouched. Entries written while the
        scan runs may survive it.
        """
        await self._guarded("clear", self._clear_prefix())

    def stats(self) -> BackendStats:
        """Entries and bytes unknown (None); evictions and expirations are Redis's own (0)."""
        return BackendStats(entries=None, bytes=None, evictions=0, expirations=0)

    async def aclose(self) -> None:
        """Close the connection pool this backend created; an injected client stays open."""
        if self._owns_client:
            await self._guarded("close", self._client.aclose())

    async def _clear_prefix(self) -> None:
        client = self._client
        batch: list[bytes] = []
        async for key in client.scan_iter(match=_glob_escape(self.prefix) + "*", count=1000):
            batch.append(key)
            if len(batch) >= _SCAN_BATCH:
                await client.unlink(*batch)
                batch.clear()
        if batch:
            await client.unlink(*batch)

    async def _guarded(self, operation: str, call: Awaitable[T]) -> T:
        """Await `call` in a connection slot, turning any driver failure into a
        `StoreError` (the one boundary)."""
        slots = self._slots
        if slots.locked():
            try:
                async with asyncio.timeout(self._slot_wait):
                    await slots.acquire()
            except BaseException as exc:
                _discard(call)
                if isinstance(exc, TimeoutError):
                    raise StoreError(
                        f"Redis cache {operation}: all {self._max_connections} connections to "
                        f"{self._where} stayed busy for {self._slot_wait} s. Raise "
                        "max_connections, or check whether Redis has slowed down."
                    ) from None
                raise
        else:
            await slots.acquire()  # a free slot: returns at once, without suspending
        try:
            return await call
        except self._errors as exc:
            detail = redact(f"{type(exc).__name__}: {exc}", self._secrets).rstrip(". ")
            if isinstance(exc, self._auth_error):
                hint = "Check the user name and password in the Redis URL."
            else:
                hint = (
                    "Check that Redis is running and reachable; the backend reconnects by "
                    "itself once it is."
                )
            raise StoreError(
                f"Redis cache {operation} failed at {self._where}: {detail}. {hint}"
            ) from exc
        finally:
            slots.release()


def _discard(call: Awaitable[object]) -> None:
    """Close a command coroutine that will never run (no 'never awaited' warning)."""
    close = getattr(call, "close", None)
    if close is not None:
        close()


def _secrets(password: object) -> list[str]:
    return [password] if isinstance(password, str) and password else []


def _url_secrets(url: str) -> list[str]:
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


def _describe(kwargs: dict[str, object]) -> str:
    """Where an injected client points, without credentials."""
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
