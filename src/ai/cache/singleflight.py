"""Single-flight: concurrent identical calls share one execution and its outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """The first caller for a key runs the work; the others wait for its result.

    If the work fails, every waiter gets the same exception. If the leader is cancelled,
    its waiters are not: one of them runs the work instead.
    """

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[T]] = {}

    def in_flight(self, key: str) -> bool:
        """Whether work for `key` is running now."""
        return key in self._inflight

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """(result, shared): `shared` is True when another caller's work produced it."""
        while (pending := self._inflight.get(key)) is not None:
            try:
                return await asyncio.shield(pending), True
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # we were cancelled ourselves
                # the leader was cancelled: loop and take over
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await work()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: with no waiters nobody else reads it
            raise
        else:
            future.set_result(result)
            return result, False
        finally:
            del self._inflight[key]
