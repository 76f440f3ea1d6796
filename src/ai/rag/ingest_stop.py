"""Stopping a long ingest on SIGINT or SIGTERM: finish the batch in hand, commit, exit.

`StopRequest` is the flag the ingest checks between files, documents and embedding
batches, and can await while a batch is being encoded in a worker thread. `stop_on_signals`
sets it from SIGINT/SIGTERM handlers (Python-level handlers run on the main thread between
bytecodes, so even a synchronous loop sees the flag at once, and a sleeping event loop is
woken through `call_soon_threadsafe`). A second signal quits at once: every commit is
atomic, so nothing committed is lost by that.

`run_detached` runs a coroutine on a fresh event loop and, unlike `asyncio.run`, does not
wait at the end for worker threads still busy (an encode the ingest gave up on): the
caller then leaves with `os._exit` instead of joining them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """A stop flag that synchronous code can poll and coroutines can await."""

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._lock = threading.Lock()
        self.signal_number: int | None = None

    @property
    def requested(self) -> bool:
        """Whether a stop has been asked for."""
        return self._flag.is_set()

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 for SIGINT)."""
        return 128 + (self.signal_number or signal.SIGINT)

    @property
    def signal_name(self) -> str:
        """ "SIGINT", "SIGTERM", or "stop" when asked for without a signal."""
        return signal.Signals(self.signal_number).name if self.signal_number else "stop"

    def request(self, signal_number: int | None = None) -> None:
        """Ask for a stop (safe from a signal handler and from any thread)."""
        if self.signal_number is None:
            self.signal_number = signal_number
        self._flag.set()
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        """Return once a stop has been asked for."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.append(entry)
        try:
            if not self._flag.is_set():
                await event.wait()
        finally:
            with self._lock:
                self._waiters.remove(entry)


@contextlib.contextmanager
def stop_on_signals(
    stop: StopRequest, notice: Callable[[str], None], *, quit_now: Callable[[int], None]
) -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM set `stop` (and `notice` says so); a second
    signal calls `quit_now(exit code)`. Outside the main thread this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signal_number: int, frame: FrameType | None) -> None:
        if stop.requested:
            notice("Quitting now; the last committed batch is kept.")
            quit_now(128 + signal_number)
            return
        stop.request(signal_number)
        notice(
            f"{signal.Signals(signal_number).name}: stopping after the current batch "
            "(again to quit at once)."
        )

    previous = {number: signal.signal(number, handle) for number in _SIGNALS}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_detached(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` without waiting for busy worker threads when the loop closes."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()  # shuts the default executor down without waiting (wait=False)


def signal_safe_notice(message: str) -> None:
    """Write a line to stderr from a signal handler: straight to the file descriptor, since
    the handler may interrupt a write to `sys.stderr`'s buffer (which is not reentrant)."""
    data = (message + "\n").encode("utf-8", "replace")
    try:
        os.write(sys.stderr.fileno(), data)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        with contextlib.suppress(Exception):
            sys.stderr.write(message + "\n")


def exit_now(code: int) -> None:
    """Leave at once, without joining worker threads (streams are flushed first)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
