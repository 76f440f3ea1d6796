"""A small time-to-live memo: the page polls every few seconds, and a cost forecast or an
experiment analysis need not be recomputed for each poll."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from ai.core.clock import Clock


class Memo:
    """Values by key, each kept `ttl` seconds on `clock`'s monotonic time; thread-safe
    (the web app computes sections in worker threads). At most `max_entries` are kept."""

    def __init__(self, clock: Clock, ttl: float, *, max_entries: int = 64) -> None:
        self._clock = clock
        self.ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bool, Any]:
        """`(True, value)` when a fresh value is kept under `key`, else `(False, None)`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock.monotonic() - entry[0] >= entry[1]:
                return False, None
            return True, entry[2]

    def put(self, key: Hashable, value: Any, ttl: float | None = None) -> Any:
        """Keep `value` under `key` for `ttl` seconds (default: the memo's); returns it."""
        with self._lock:
            if len(self._entries) >= self._max_entries and key not in self._entries:
                oldest = min(self._entries, key=lambda k: self._entries[k][0])
                del self._entries[oldest]
            self._entries[key] = (self._clock.monotonic(), self.ttl if ttl is None else ttl, value)
        return value

    def compute(self, key: Hashable, produce: Callable[[], Any]) -> Any:
        """The fresh value under `key`, or `produce()` kept as the new one."""
        found, value = self.get(key)
        return value if found else self.put(key, produce())

    def clear(self) -> None:
        """Forget everything (after an action that changes what is shown)."""
        with self._lock:
            self._entries.clear()
