"""The clock and the sleep, injected so retries, TTLs and periods are testable without waiting."""

from __future__ import annotations

import asyncio
import contextlib
import time
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What time-dependent code needs: a monotonic reading, wall time and a sleep."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""
        ...

    def now(self) -> datetime:
        """Current wall time, UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a fake clock advances instead)."""
        ...

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        """Cut the block off with `TimeoutError` after `seconds` (a fake clock never does:
        its time only moves when slept on, so it cannot interrupt real I/O)."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.perf_counter()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        return asyncio.timeout(seconds)


class FakeClock:
    """A clock that only moves when slept on or advanced; records every sleep.

    Used by tests to check backoff waits exactly, and by users to test their own
    budget or TTL logic.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._elapsed = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        from datetime import timedelta

        return self._start + timedelta(seconds=self._elapsed)

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep."""
        self._elapsed += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._elapsed += max(0.0, seconds)
        await asyncio.sleep(0)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        return contextlib.nullcontext()
