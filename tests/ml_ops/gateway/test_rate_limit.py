"""The token buckets: the Python arithmetic, the Redis scripts held to it, the headers,
and the fall-back to per-process buckets when Redis stops answering."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from ai.db.redis import connect_redis
from ml_ops.gateway.rate_limit import (
    PERIOD_MS,
    LimitKind,
    LocalRateLimiter,
    RedisRateLimiter,
    SharedRateLimiter,
    format_reset,
    gcra_admit,
    gcra_charge,
)


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000.0

    def __call__(self) -> float:
        return self.ms


def test_requests_bucket_bursts_a_minute_then_refills_steadily() -> None:
    tat, now = 0.0, 1000.0
    for remaining in (2, 1, 0):
        decision, tat = gcra_admit(tat, 0.0, now, 3, None)
        assert decision.allowed and decision.requests is not None
        assert decision.requests.remaining == remaining
    refused, same = gcra_admit(tat, 0.0, now, 3, None)
    assert not refused.allowed and same == tat
    assert refused.refused is LimitKind.REQUESTS
    assert refused.retry_after == pytest.approx(20.0)  # one request every 20 s at 3/min
    later, _ = gcra_admit(tat, 0.0, now + 20_000, 3, None)
    assert later.allowed


def test_tokens_are_charged_after_and_may_overdraw() -> None:
    now = 0.0
    tok = gcra_charge(0.0, now, 60, 90)  # 90 tokens at 60/min: 30 s into debt
    decision, _ = gcra_admit(0.0, tok, now, None, 60)
    assert not decision.allowed and decision.refused is LimitKind.TOKENS
    assert decision.retry_after == pytest.approx(31.0)  # debt paid, plus one token
    assert decision.tokens is not None and decision.tokens.remaining < 0


def test_headers_and_reset_format() -> None:
    decision, _ = gcra_admit(0.0, 0.0, 0.0, 60, 1000)
    headers = decision.headers()
    assert headers["x-ratelimit-limit-requests"] == "60"
    assert headers["x-ratelimit-remaining-requests"] == "59"
    assert headers["x-ratelimit-reset-requests"] == "1s"
    assert headers["x-ratelimit-remaining-tokens"] == "1000"
    assert headers["x-ratelimit-reset-tokens"] == "0ms"
    assert [format_reset(ms) for ms in (20, 1000, 360_000, 3_723_000)] == [
        "20ms",
        "1s",
        "6m0s",
        "1h2m3s",
    ]


async def test_local_limiter_follows_the_arithmetic() -> None:
    clock = Clock()
    limiter = LocalRateLimiter(clock)
    assert (await limiter.admit("k", 2, None)).allowed
    assert (await limiter.admit("k", 2, None)).allowed
    assert not (await limiter.admit("k", 2, None)).allowed
    clock.ms += PERIOD_MS / 2
    assert (await limiter.admit("k", 2, None)).allowed
    assert (await limiter.admit("other", None, None)).allowed


async def test_redis_scripts_match_the_python_reference(redis_url: str) -> None:
    connection = connect_redis(redis_url)
    limiter = RedisRateLimiter(connection, prefix=f"devora-test:{uuid.uuid4().hex}:")
    tat = tok = 0.0
    try:
        for step in range(8):
            reply = await limiter.admit("key", 5, 100)
            # The scripts read Redis's clock; steps are microseconds apart, so compare with
            # "now" equal to the start of the sequence.
            expected, tat = gcra_admit(tat, tok, 0.0, 5, 100)
            assert reply.allowed == expected.allowed
            assert reply.refused == expected.refused
            assert reply.requests is not None and expected.requests is not None
            assert reply.requests.remaining == expected.requests.remaining
            if not reply.allowed:
                assert reply.retry_after == pytest.approx(expected.retry_after, abs=0.05)
            if step == 2:
                await limiter.charge("key", 100, 150)
                tok = gcra_charge(tok, 0.0, 100, 150)
    finally:
        await limiter.aclose()


async def test_redis_down_falls_back_to_per_process_buckets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection = connect_redis("redis://127.0.0.1:1/0", socket_timeout=0.2)
    limiter = SharedRateLimiter(RedisRateLimiter(connection), retry_after=30)
    with caplog.at_level(logging.WARNING, logger="ml_ops.gateway"):
        assert (await limiter.admit("k", 1, None)).allowed
        assert not (await limiter.admit("k", 1, None)).allowed  # still limited, locally
        await limiter.charge("k", 10, 5)
    assert not limiter.distributed
    warnings = [r for r in caplog.records if "per-process" in r.getMessage()]
    assert len(warnings) == 1
    await limiter.aclose()


async def test_owed_tokens_reach_other_processes_by_the_next_admit_or_flush(
    redis_url: str,
) -> None:
    prefix = f"devora-test:{uuid.uuid4().hex}:"
    first = RedisRateLimiter(connect_redis(redis_url), prefix=prefix, flush_interval=0.01)
    second = RedisRateLimiter(connect_redis(redis_url), prefix=prefix)
    try:
        assert (await first.admit("key", None, 60)).allowed
        await first.charge("key", 60, 100)  # owed in memory, flushed shortly
        for _ in range(100):
            if not (await second.admit("key", None, 60)).allowed:
                break
            await asyncio.sleep(0.01)
        refused = await second.admit("key", None, 60)
        assert not refused.allowed and refused.retry_after == pytest.approx(41, abs=1)
    finally:
        await first.aclose()
        await second.aclose()
