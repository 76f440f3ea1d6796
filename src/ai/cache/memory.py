"""In-process cache backend: LRU bounded by entries and bytes, with a TTL per entry.

The default backend, so it sits on every cached call's path and has to be cheap:
`get` is one dict lookup, one clock read and one `move_to_end`; `set` adds at most one
heap push (none when it renews a key).
Expired entries are never served (checked on `get`) and are also removed without a
background thread: a min-heap of `(expires_at, key)` lets `sweep()` pop exactly the
entries that have expired (O(expired · log n), not a scan of the whole cache), and `set`
runs a sweep by itself once `sweep_interval` has passed on the injected clock.

The heap is lazy. Every expiring entry has a heap item due no later than the entry
itself; removing a key leaves its item behind (a sweep skips it), and renewing a key to a
later expiry pushes nothing: when the old item comes due, the sweep finds the entry still
live and re-files it at its current expiry. So the common overwrite costs no heap work,
and the heap is rebuilt from the live entries when stale items outnumber them, keeping it
O(entries).
"""

from __future__ import annotations

import heapq
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from ai.cache.backend import BackendStats
from ai.cache.entry import CachedResponse, CacheValueError
from ai.core.clock import Clock
from ai.errors import ConfigurationError

_NEVER = math.inf
# (value, expires_at, size): a plain tuple is the cheapest record to build on every set.
_Entry = tuple[CachedResponse, float, int]
# Rebuild the heap once it holds this many items more than twice the live entries.
_HEAP_SLACK = 1024


class MemoryBackend:
    """LRU + TTL cache in this process's memory.

    `max_entries` and `max_bytes` bound the cache together (bytes as estimated by
    `CachedResponse.size_hint`); the least recently used entries go first, but only after
    every expired entry has gone. `default_ttl` applies when `set` gets `ttl=None`;
    `default_ttl=None` keeps entries until they are evicted. `clock` is injectable so TTLs
    are testable without waiting.
    """

    name = "memory"

    def __init__(
        self,
        max_entries: int = 10_000,
        max_bytes: int = 256 * 2**20,
        default_ttl: float | None = 3600.0,
        clock: Clock | None = None,
        sweep_interval: float = 60.0,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigurationError(f"max_entries must be an integer >= 1, got {max_entries!r}.")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ConfigurationError(f"max_bytes must be an integer >= 1, got {max_bytes!r}.")
        if default_ttl is not None and not default_ttl > 0:
            raise ConfigurationError(
                f"default_ttl must be > 0 seconds or None (no expiry), got {default_ttl!r}."
            )
        if not (sweep_interval > 0 and math.isfinite(sweep_interval)):
            raise ConfigurationError(
                f"sweep_interval must be a finite number of seconds > 0, got {sweep_interval!r}."
            )
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._default_ttl = default_ttl
        self._sweep_interval = float(sweep_interval)
        # Without an injected clock read perf_counter directly (what SystemClock reads):
        # one C call per operation instead of a Python method call.
        self._now: Callable[[], float] = time.perf_counter if clock is None else clock.monotonic
        self._data: OrderedDict[str, _Entry] = OrderedDict()
        self._heap: list[tuple[float, str]] = []
        self._bytes = 0
        self._evictions = 0
        self._expirations = 0
        self._next_sweep = self._now() + self._sweep_interval

    async def get(self, key: str) -> CachedResponse | None:
        """The live value for `key` (now the most recently used), or None."""
        data = self._data
        entry = data.get(key)
        if entry is None:
            return None
        if entry[1] <= self._now():
            del data[key]
            self._bytes -= entry[2]
            self._expirations += 1
            return None
        data.move_to_end(key)
        return entry[0]

    async def set(self, key: str, value: CachedResponse, ttl: float | None) -> None:
        """Store `value` for `ttl` seconds (None: `default_ttl`), evicting LRU entries to fit.

        A value larger than `max_bytes` on its own raises `CacheValueError("oversized")`
        and changes nothing.
        """
        size = value.size_hint()
        if size > self._max_bytes:
            raise CacheValueError(
                f"The response is too large to cache ({size} bytes > max_bytes="
                f"{self._max_bytes}); raise max_bytes to cache answers this large.",
                reason="oversized",
            )
        if ttl is None:
            ttl = self._default_ttl
        now = self._now()
        if ttl is None or ttl == _NEVER:
            expires = _NEVER
        elif ttl > 0:
            expires = now + ttl
        else:
            raise ConfigurationError(f"ttl must be > 0 seconds or None, got {ttl!r}.")
        data = self._data
        old = data.pop(key, None)
        data[key] = (value, expires, size)
        if old is None:
            self._bytes += size
            push = expires != _NEVER
        else:
            self._bytes += size - old[2]
            if old[1] <= now:
                self._expirations += 1
            # The heap item that covered the old expiry covers a later one too (a sweep
            # re-files it), so the common overwrite with the same TTL pushes nothing.
            push = expires < old[1]
        if push:
            heap = self._heap
            heapq.heappush(heap, (expires, key))
            if len(heap) > 2 * len(data) + _HEAP_SLACK:
                self._rebuild_heap()
        if len(data) > self._max_entries or self._bytes > self._max_bytes:
            self._make_room(now)
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_interval
            self._drop_expired(now)

    async def delete(self, key: str) -> bool:
        """Remove `key`; True if a live entry was there (an expired one counts as absent)."""
        entry = self._data.pop(key, None)
        if entry is None:
            return False
        self._bytes -= entry[2]
        if entry[1] <= self._now():
            self._expirations += 1
            return False
        return True

    async def clear(self) -> None:
        """Remove every entry. The eviction and expiration counters are kept."""
        self._data.clear()
        self._heap.clear()
        self._bytes = 0

    def sweep(self) -> int:
        """Remove every expired entry now and restart the sweep period; returns how many."""
        now = self._now()
        self._next_sweep = now + self._sweep_interval
        return self._drop_expired(now)

    def stats(self) -> BackendStats:
        """Counters; expired entries are dropped first, so `entries`/`bytes` count live ones."""
        self._drop_expired(self._now())
        return BackendStats(
            entries=len(self._data),
            bytes=self._bytes,
            evictions=self._evictions,
            expirations=self._expirations,
        )

    async def aclose(self) -> None:
        """Nothing to release: no connections, no background task."""

    def _make_room(self, now: float) -> None:
        """Drop expired entries, then least recently used ones, until both bounds hold.

        The entry just written is the most recent and fits on its own, so it stays.
        """
        heap = self._heap
        if heap and heap[0][0] <= now:
            self._drop_expired(now)
        data = self._data
        while len(data) > self._max_entries or self._bytes > self._max_bytes:
            _, entry = data.popitem(last=False)
            self._bytes -= entry[2]
            self._evictions += 1

    def _drop_expired(self, now: float) -> int:
        """Pop heap items due by `now`, removing the entries they still describe."""
        heap, data = self._heap, self._data
        removed = 0
        while heap and heap[0][0] <= now:
            key = heapq.heappop(heap)[1]
            entry = data.get(key)
            if entry is None:
                continue  # removed meanwhile: a stale item
            if entry[1] <= now:
                del data[key]
                self._bytes -= entry[2]
                removed += 1
            elif entry[1] != _NEVER:
                heapq.heappush(heap, (entry[1], key))  # renewed since: file it again
        self._expirations += removed
        return removed

    def _rebuild_heap(self) -> None:
        """Replace the heap by one item per live expiring entry (drops stale items)."""
        self._heap = [(entry[1], key) for key, entry in self._data.items() if entry[1] != _NEVER]
        heapq.heapify(self._heap)
