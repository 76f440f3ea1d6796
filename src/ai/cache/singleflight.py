"""Single-flight: concurrent identical calls share one execution and its outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """The first caller for a key runs the work; the others wait for its result.

    If the work fails, every waiter gets the same exception, unless the failure was the
    leader's own (`shared` says which are not: a deadline of its own that passed, say);
    then, as when the leader is cancelled, one waiter runs the work instead. Each waiter
    waits at most its own `max_wait`, whoever leads.
    """

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[T]] = {}

    def in_flight(self, key: str) -> bool:
        """Whether work for `key` is running now."""
        return key in self._inflight

    async def run(
        self,
        key: str,
        work: Callable[[], Awaitable[T]],
        *,
        max_wait: float | None = None,
        shared: Callable[[BaseException], bool] | None = None,
    ) -> tuple[T, bool]:
        """(result, shared): `shared` is True when another caller's work produced it.

        `max_wait`: the most seconds this caller waits on others' work, in all (then
        `TimeoutError`); its own `work` bounds itself. `shared(error)`: whether a failure
        of this caller's work, should it lead, is handed to its waiters (default: all are).
        """
        loop = asyncio.get_running_loop()
        give_up = None if max_wait is None else loop.time() + max_wait
        while (pending := self._inflight.get(key)) is not None:
            try:
                async with asyncio.timeout_at(give_up):
                    return await asyncio.shield(pending), True
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # we were cancelled ourselves
                # the leader was cancelled or failed on its own account: loop and take over
        future: asyncio.Future[T] = loop.create_future()
        self._inflight[key] = future
        try:
            result = await work()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            if shared is None or shared(exc):
                future.set_exception(exc)
                future.exception()  # mark retrieved: with no waiters nobody else reads it
            else:
                future.cancel()  # not the waiters' answer: one of them runs the work
            raise
        else:
            future.set_result(result)
            return result, False
        finally:
            del self._inflight[key]
