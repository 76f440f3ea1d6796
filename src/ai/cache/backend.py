"""The small protocol every cache backend implements, and what it reports about itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ai.cache.entry import CachedResponse


@dataclass(frozen=True, slots=True)
class BackendStats:
    """Counters a backend keeps; `entries`/`bytes` may be None where unknown (Redis)."""

    entries: int | None
    bytes: int | None
    evictions: int
    expirations: int


class CacheBackend(Protocol):
    """Key -> `CachedResponse` with a time to live. Failures raise `ai.errors.StoreError`."""

    name: str

    async def get(self, key: str) -> CachedResponse | None:
        """The live entry for `key`, or None (never an expired one)."""
        ...

    async def set(self, key: str, value: CachedResponse, ttl: float | None) -> None:
        """Store `value` for `ttl` seconds (None: the backend's default)."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        ...

    async def clear(self) -> None:
        """Remove every entry of this cache (only its own keys on a shared server)."""
        ...

    def stats(self) -> BackendStats:
        """Current counters."""
        ...

    async def aclose(self) -> None:
        """Release connections and background tasks."""
        ...
