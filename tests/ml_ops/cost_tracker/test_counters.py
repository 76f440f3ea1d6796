"""The counters' contract, the same for `LocalSpendCounters` and `RedisSpendCounters`
(on a real redis-server): atomic all-or-nothing reservations, settles that never go
below zero, seeds that only raise, once-per-period markers, expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ai.errors import ConfigurationError
from ml_ops.cost_tracker import (
    Claim,
    CounterKey,
    CounterState,
    LocalSpendCounters,
    RedisSpendCounters,
    SpendCounters,
)
from ml_ops.cost_tracker.counters import UNITS_PER_USD, to_units, to_usd

EXPIRES = datetime.now(UTC) + timedelta(days=2)
A = CounterKey("a", "daily:2026-03-02@UTC", EXPIRES)
B = CounterKey("b", "daily:2026-03-02@UTC", EXPIRES)


@pytest.fixture(params=["local", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[SpendCounters]:
    if request.param == "local":
        yield LocalSpendCounters()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_key_prefix")
    # 400 reservations at once queue for 50 connections: on a loaded 2-core machine the
    # last waited over the default 0.5 s. This contract is atomicity, not the pool's wait.
    shared = RedisSpendCounters(url, prefix=prefix, socket_timeout=5.0)
    yield shared
    await shared.aclose()


def test_units_round_costs_up_and_never_negative() -> None:
    assert to_units(0.1) == UNITS_PER_USD // 10
    assert to_units(1e-12) == 1  # a tiny cost still counts
    assert to_units(-1.0) == 0 and to_units(float("nan")) == 0
    assert to_usd(to_units(2.5)) == 2.5


async def test_reserve_checks_every_limit_then_reserves_in_all(counters: SpendCounters) -> None:
    outcome = await counters.reserve([Claim(A, limit=100), Claim(B)], 60)
    assert outcome.admitted and outcome.states == (CounterState(0, 60), CounterState(0, 60))
    refused = await counters.reserve([Claim(B), Claim(A, limit=100)], 41)
    assert not refused.admitted and refused.refused_by == 1
    assert refused.states == (CounterState(0, 60), CounterState(0, 60))  # nothing changed
    exact = await counters.reserve([Claim(A, limit=100)], 40)  # spent+reserved+amount == limit
    assert exact.admitted and exact.states[0] == CounterState(0, 100)


async def test_settle_releases_the_reservation_and_adds_the_spend(counters: SpendCounters) -> None:
    await counters.reserve([Claim(A, limit=100), Claim(B)], 70)
    states = await counters.settle([Claim(A), Claim(B)], 70, 25)
    assert states == (CounterState(25, 0), CounterState(25, 0))
    again = await counters.settle([Claim(A)], 70, 0)  # a second release stops at zero
    assert again == (CounterState(25, 0),)
    assert counters.peek(A) == CounterState(25, 0)


async def test_seeds_only_ever_raise_the_spend(counters: SpendCounters) -> None:
    assert await counters.merge([Claim(A, seed=500)]) == (CounterState(500, 0),)
    assert await counters.merge([Claim(A, seed=200)]) == (CounterState(500, 0),)
    outcome = await counters.reserve([Claim(A, limit=1000, seed=900)], 101)
    assert not outcome.admitted and outcome.states[0] == CounterState(900, 0)
    assert (await counters.settle([Claim(A, seed=100)], 0, 50))[0] == CounterState(950, 0)


async def test_claim_once_is_true_once_per_marker_and_period(counters: SpendCounters) -> None:
    assert await counters.claim_once(A, "alert:0.8")
    assert not await counters.claim_once(A, "alert:0.8")
    assert await counters.claim_once(A, "alert:1")
    other_period = CounterKey("a", "daily:2026-03-03@UTC", EXPIRES)
    assert await counters.claim_once(other_period, "alert:0.8")


async def test_concurrent_reservations_never_pass_the_limit(counters: SpendCounters) -> None:
    async def reserve() -> bool:
        return (await counters.reserve([Claim(A, limit=1000)], 7)).admitted

    admitted = await asyncio.gather(*(reserve() for _ in range(400)))
    assert sum(admitted) == 1000 // 7
    assert (await counters.merge([Claim(A)]))[0] == CounterState(0, 7 * (1000 // 7))


async def test_redis_keys_expire_after_the_period(
    redis_url: str, redis_key_prefix: str, redis_client: Any
) -> None:
    counters = RedisSpendCounters(redis_url, prefix=redis_key_prefix)
    try:
        await counters.reserve([Claim(A, limit=10)], 1)
        await counters.claim_once(A, "alert:1")
        for name in (counters.key_of(A), counters.key_of(A) + "|alert:1"):
            ttl = await redis_client.ttl(name)
            assert 0 < ttl <= (EXPIRES - datetime.now(UTC)).total_seconds() + 2
        assert counters.description.startswith("redis://")
        assert "RedisSpendCounters" in repr(counters)
    finally:
        await counters.aclose()


async def test_large_amounts_stay_exact_integers(counters: SpendCounters) -> None:
    big = to_units(5_000_000.0)  # five million dollars: beyond %.14g's integer digits
    await counters.merge([Claim(A, seed=big)])
    assert (await counters.settle([Claim(A)], 0, 3))[0] == CounterState(big + 3, 0)


def test_local_counters_forget_expired_periods() -> None:
    counters = LocalSpendCounters()
    old = CounterKey("a", "daily:2026-03-01@UTC", datetime(2026, 3, 3, tzinfo=UTC))
    counters.reserve_now([Claim(old, limit=10)], 5)
    assert counters.claim_once_now(old, "alert:1")
    assert counters.prune(datetime(2026, 3, 4, tzinfo=UTC)) == 1
    assert counters.peek(old) is None
    assert counters.claim_once_now(old, "alert:1")


def test_a_prefix_must_be_text(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        RedisSpendCounters(redis_url, prefix=None)  # type: ignore[arg-type]
