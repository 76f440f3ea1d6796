"""The tour (`devora demo`) run once for this package, compressed to a few seconds, on the
loopback fakes, and kept serving while the package's tests look at it: its summary
(test_tour.py), the dashboard's API and the gateway (test_tour.py), the dashboard in a
browser (test_tour_browser.py). It stops after the package's last test."""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ml_ops.demo import Tour, TourSettings, TourSummary
from ml_ops.demo.upstream import REAL_KEYS

ADMIN_KEY = "dvr-admin-demo-test-0123456789abcdef"
DURATION = 12.0
PAGES = {
    "budgets.md": "# Budgets\n\nA budget alerts at 80% of its limit and can downgrade calls to "
    "a cheaper model of the same family once 90% is used.\n\nSpend resets every period.",
    "breakers.md": "# Circuit breakers\n\nA breaker opens when most recent attempts on a model "
    "failed; calls then go to the fallback until a trial call succeeds.",
    "keys.md": "# Virtual keys\n\nThe gateway stores each key as an HMAC under a server "
    "secret; the key itself is shown once, when it is created.",
}


@dataclass(frozen=True)
class Served:
    """A finished tour that is still serving."""

    summary: TourSummary
    base_url: str
    keys: dict[str, str]
    state_dir: Path


def tour_environ() -> dict[str, str]:
    """This environment without provider keys (the tour must use the fakes) or Redis."""
    dropped = {*REAL_KEYS.values(), "REDIS_URL", "DEVORA_ADMIN_KEY"}
    environ = {k: v for k, v in os.environ.items() if k not in dropped}
    return {**environ, "DEVORA_ADMIN_KEY": ADMIN_KEY}


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Run the tour in a thread of its own (its event loop serves the gateway), hand over
    its summary once it has one, and stop it when the package's tests are done."""
    docs = tmp_path_factory.mktemp("docs")
    for name, text in PAGES.items():
        (docs / name).write_text(text, encoding="utf-8")
    ready: queue.Queue[Served | BaseException] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        settings = TourSettings(duration=DURATION, port=0, docs=docs)
        async with Tour(settings, environ=tour_environ()) as tour:
            summary = await tour.run()
            ready.put(Served(summary, tour.base_url, dict(tour.keys), tour.state_dir))
            await asyncio.to_thread(stop.wait)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:
            ready.put(error)

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REDIS_URL", raising=False)  # the runtime would share it: embedded only
        thread = threading.Thread(target=run, name="devora-demo-tour", daemon=True)
        thread.start()
        got = ready.get(timeout=180)
        if isinstance(got, BaseException):
            raise got
        yield got
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert not got.state_dir.exists()  # the temporary state folder is removed at exit
