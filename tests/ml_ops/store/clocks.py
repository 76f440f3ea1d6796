"""A clock for the writer tests whose time moves only when the test says so."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from tests.ml_ops.store.factories import T0


class ManualClock:
    """`sleep` waits until `advance` has moved the clock past its deadline (no real
    waiting at all); `sleeps` records every wait asked for, as tenacity's tests do."""

    def __init__(self, start: datetime = T0) -> None:
        self._start = start
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self._elapsed + max(seconds, 0.0), future)
        self._sleepers.append(entry)
        try:
            if entry[0] > self._elapsed:
                await future
        finally:
            self._sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        """Move time on and wake every sleeper whose deadline has come."""
        self._elapsed += seconds
        for deadline, future in list(self._sleepers):
            if deadline <= self._elapsed and not future.done():
                future.set_result(None)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        return contextlib.nullcontext()


async def settle(condition: object = None, *, turns: int = 200) -> None:
    """Let the event loop run `turns` rounds, or until `condition()` holds (then stop
    early). Fails if the condition never holds: a bound on turns, not on time."""
    for _ in range(turns):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0)
    if callable(condition):
        assert condition(), "condition never held"
