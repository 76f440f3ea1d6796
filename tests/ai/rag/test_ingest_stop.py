"""`StopRequest`, `stop_on_signals` and `run_detached`, in this process."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from ai.rag.ingest_stop import StopRequest, run_detached, stop_on_signals

pytestmark = pytest.mark.timeout(30)


def test_a_signal_sets_the_flag_a_second_quits_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    notices: list[str] = []
    quits: list[int] = []
    stop = StopRequest()
    with stop_on_signals(stop, notices.append, quit_now=quits.append):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.exit_code == 143 and stop.signal_name == "SIGTERM"
        os.kill(os.getpid(), signal.SIGINT)
        assert quits == [130]
    assert signal.getsignal(signal.SIGTERM) is before
    assert notices[0].startswith("SIGTERM: stopping after the current batch")
    assert "Quitting now" in notices[1]


async def test_waiters_wake_when_a_stop_is_requested_from_another_thread() -> None:
    stop = StopRequest()
    waiter = asyncio.create_task(stop.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    threading.Thread(target=stop.request).start()
    await asyncio.wait_for(waiter, timeout=5)
    await asyncio.wait_for(stop.wait(), timeout=5)  # already set: returns at once
    assert stop.exit_code == 130 and stop.signal_name == "stop"


def test_run_detached_returns_without_joining_a_busy_worker_thread() -> None:
    release = threading.Event()

    async def main() -> str:
        busy = asyncio.ensure_future(asyncio.to_thread(release.wait, 20))
        await asyncio.sleep(0.05)
        busy.cancel()  # the thread goes on; asyncio.run would wait for it at the end
        return "done"

    try:
        assert run_detached(main()) == "done"
        assert not release.is_set()
    finally:
        release.set()
