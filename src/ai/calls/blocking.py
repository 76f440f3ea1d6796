"""Async calls made blocking, for scripts and notebooks: an event loop on a thread of its
own runs them, so a blocking wrapper works where a loop is already running (Jupyter) and
where none is (a script). `SyncLLMService` is built on these.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Self, TypeVar

from ai.calls.stats import CompletionStats
from ai.calls.streaming import CompletionStream

_T = TypeVar("_T")
#: How long `stop` lets the tasks left on the loop finish before cancelling them.
_GRACE_SECONDS = 1.0


class BackgroundLoop:
    """An event loop running on a daemon thread; `run` blocks on one coroutine there."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._loop.is_running()

    def run(self, work: Awaitable[_T]) -> _T:
        """`work`'s result, awaited on the loop; Ctrl-C in the caller cancels `work` too."""
        future = asyncio.run_coroutine_threadsafe(_awaited(work), self._loop)
        try:
            return future.result()
        except BaseException:  # Ctrl-C in the caller: stop the call, not just the wait
            future.cancel()
            raise

    def stop(self) -> None:
        """Stop the loop and its thread (what runs on it should be closed first).

        What is left on the loop is finished first, as `asyncio.run` does: an async
        generator dropped mid-iteration (a stream's event readers) is closed by a task its
        finalizer schedules, which a stopped loop would destroy pending ("Task was destroyed
        but it is pending!") before the generator's clean-up ran.
        """
        self.run(_finish_pending())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class SyncStream:
    """A `CompletionStream` read without `await`: iterate for deltas, then `stats`."""

    def __init__(self, stream: CompletionStream, run: Callable[[Awaitable[Any]], Any]) -> None:
        self._stream = stream
        self._run = run

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> str:
        try:
            delta: str = self._run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None
        return delta

    @property
    def text(self) -> str:
        return self._stream.text

    @property
    def stats(self) -> CompletionStats | None:
        return self._stream.stats

    def collect(self) -> tuple[str, CompletionStats]:
        """Read the whole stream; returns the text and stats like `complete()`."""
        result: tuple[str, CompletionStats] = self._run(self._stream.collect())
        return result

    def close(self) -> None:
        """Stop reading and release the connection (recorded as cancelled)."""
        self._run(self._stream.aclose())


async def _awaited(work: Awaitable[_T]) -> _T:
    return await work


async def _finish_pending(grace: float = _GRACE_SECONDS) -> None:
    """Let every other task on the running loop finish (finalizers of dropped async
    generators among them, and any they start) for up to `grace` seconds, cancel what is
    still running then (a forgotten background task must not hang `close()`), and close
    the async generators still open."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    current = asyncio.current_task()
    while pending := [task for task in asyncio.all_tasks() if task is not current]:
        left = deadline - loop.time()
        if left <= 0:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            break
        await asyncio.wait(pending, timeout=left)
    await loop.shutdown_asyncgens()


__all__ = ["BackgroundLoop", "SyncStream"]
