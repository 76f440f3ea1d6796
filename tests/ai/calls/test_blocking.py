"""BackgroundLoop: blocking calls on a loop thread of their own, stopped cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ai.calls.blocking import BackgroundLoop


def test_stop_finishes_the_clean_up_of_a_dropped_async_generator(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stream's event readers are async generators; one dropped mid-iteration is closed
    by a task its finalizer schedules. Stopping the loop before that task ran destroyed it
    pending (logged as an asyncio error) and cut the generator's clean-up short."""
    steps: list[str] = []

    async def events() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            steps.append("closing")
            await asyncio.sleep(0)  # clean-up that awaits, as closing a response does
            steps.append("closed")

    async def read_one_and_drop() -> None:
        reader = events()
        await reader.__anext__()

    loop = BackgroundLoop("test-blocking")
    loop.run(read_one_and_drop())
    loop.stop()

    assert steps == ["closing", "closed"]
    assert not [r for r in caplog.records if "destroyed but it is pending" in r.getMessage()]


def test_stop_closes_an_async_generator_left_open() -> None:
    steps: list[str] = []

    async def events() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            steps.append("closed")

    async def read_one() -> AsyncIterator[int]:
        reader = events()
        await reader.__anext__()
        return reader

    loop = BackgroundLoop("test-blocking")
    reader = loop.run(read_one())  # still held: only the loop's shutdown can close it
    loop.stop()
    assert steps == ["closed"]
    del reader


def test_stop_cancels_a_task_that_would_never_end() -> None:
    """A background task someone forgot (a poller, say) is cancelled after the grace
    period instead of hanging `stop()`."""
    cancelled: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def start() -> None:
        asyncio.get_running_loop().create_task(forever())

    loop = BackgroundLoop("test-blocking")
    loop.run(start())
    loop.stop()
    assert cancelled == [True]
