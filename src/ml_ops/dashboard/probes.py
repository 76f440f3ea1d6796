"""Reachability checks of the event store and Redis, each bounded by a timeout.

They run in `DashboardManager.refresh_health()` (the web app calls it when the last
results are older than a few seconds) and in `/readyz`. A failure's message is redacted:
driver errors name the server, never its password.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ai.core.clock import Clock
from ai.errors import redact
from ml_ops.dashboard.health import ProbeResult
from ml_ops.store.base import EventStore, RecordQuery

Probe = Callable[[], Awaitable[object]]


async def run_probe(check: Probe, clock: Clock, limit: float) -> ProbeResult:
    """Await `check()` within `limit` seconds; any exception is a failed check."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit):
            await check()
    except TimeoutError:
        return _failed(clock, started, f"no answer within {limit:g} s")
    except Exception as exc:  # a probe reports failure; it never raises
        return _failed(clock, started, redact(f"{type(exc).__name__}: {exc}")[:300])
    return ProbeResult(True, clock.now(), _elapsed_ms(started))


def _failed(clock: Clock, started: float, error: str) -> ProbeResult:
    return ProbeResult(False, clock.now(), _elapsed_ms(started), error)


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def store_probe(store: EventStore, clock: Clock) -> Probe:
    """Count the records stored from now on (an indexed, near-empty query)."""

    async def check() -> object:
        return await store.count(RecordQuery(since=clock.now()))

    return check


def redis_probe(url: str, timeout: float) -> Probe:
    """PING the Redis at `url` on a connection of its own, closed afterwards."""

    async def check() -> object:
        from ai.db.redis import connect_redis

        connection = connect_redis(
            url, label="Redis health check", max_connections=1, socket_timeout=timeout,
            connect_timeout=timeout,
        )  # fmt: skip
        try:
            return await connection.run("ping", connection.client.ping())
        finally:
            await connection.aclose()

    return check
