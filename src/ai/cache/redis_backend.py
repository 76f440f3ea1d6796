"""Redis cache backend: entries shared by every process and host that uses the same Redis.

redis is an optional dependency, imported when a `RedisBackend` is built, never when this
module or `ai.cache` is imported (`pip install 'devora-ai[redis]'` brings it).

Layout on the server: one string per entry, key = `prefix + cache key`, value =
`CachedResponse.to_bytes()`, expiry kept by Redis itself (`SET ... PX`). The prefix is
what lets several deployments share one Redis: `clear()` removes only keys under it.

Connections: the client, its pool and timeouts come from `ai.db.redis.connect_redis`,
shared with the other Redis users. Errors: every failure of the driver (connection
refused or reset, timeouts, any `RedisError`, `OSError`) is converted in `_guarded`
(`RedisConnection.run`, the one boundary) into `ai.errors.StoreError`, whose message
names the server without its password. A value that
cannot be decoded, or a key under the prefix that is not a string (Redis's WRONGTYPE:
someone else's list or hash, not an outage), raises `CacheValueError(reason="corrupt")`;
the backend leaves it in place, and `ResponseCache` counts it, deletes it and serves the
call uncached. The backend does not degrade by itself: `ResponseCache` catches these and
serves uncached.

Recovery: the connection pool reconnects on demand, and one immediate retry covers the
first command after a restart (it finds its pooled connection dead), so the same
`RedisBackend` works again as soon as Redis answers; nothing needs to be rebuilt.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from ai.cache.backend import BackendStats
from ai.cache.entry import CachedResponse, CacheValueError
from ai.db.redis import DEFAULT_REDIS_URL, connect_redis
from ai.errors import ConfigurationError
from ai.errors import mask_url as mask_url  # re-exported: it used to live here

if TYPE_CHECKING:
    import redis.asyncio as aioredis

T = TypeVar("T")

DEFAULT_URL = DEFAULT_REDIS_URL
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
        socket_timeout: float = 0.25,
        max_connections: int = 50,
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            # An empty prefix would make clear() delete every key on the server.
            raise ConfigurationError("prefix must be a non-empty string, e.g. 'myapp:cache:'.")
        if default_ttl is not None and not default_ttl > 0:
            raise ConfigurationError(
                f"default_ttl must be > 0 seconds or None (no expiry), got {default_ttl!r}."
            )
        self.prefix = prefix
        self._default_ttl = default_ttl
        # Pool, timeouts, password masking, the bytes check and the error boundary are
        # ai.db.redis's, shared with every other Redis user.
        self._redis = connect_redis(
            url,
            client=client,
            owner="RedisBackend",
            label="Redis cache",
            max_connections=max_connections,
            socket_timeout=socket_timeout,
        )
        self._client = self._redis.client
        from redis.exceptions import ResponseError  # present: connect_redis needed it

        self._response_error: type[Exception] = ResponseError

    def __repr__(self) -> str:
        return f"RedisBackend({self._redis.where!r}, prefix={self.prefix!r})"

    async def get(self, key: str) -> CachedResponse | None:
        """The entry for `key`, or None; Redis never returns an expired one."""
        data = await self._guarded("get", self._get_string(self.prefix + key))
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
        await self._redis.aclose()

    async def _get_string(self, name: str) -> object:
        """GET `name`; a key of another type is a bad value (`CacheValueError`), not a
        failing server, so the cache deletes it and stays up."""
        try:
            return await self._client.get(name)
        except self._response_error as exc:
            if not str(exc).startswith("WRONGTYPE"):
                raise
            raise CacheValueError(
                "A key under the cache prefix holds a value of another Redis type.",
                reason="corrupt",
            ) from exc

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

    def _guarded(self, operation: str, call: Awaitable[T]) -> Awaitable[T]:
        """Await `call` in a connection slot; driver failures leave as `StoreError`."""
        return self._redis.run(operation, call)
