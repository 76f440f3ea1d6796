"""Single-flight: one execution per key among concurrent callers; failures shared."""

from __future__ import annotations

import asyncio

import pytest

from ai.cache.singleflight import SingleFlight


async def test_concurrent_callers_share_one_run() -> None:
    flight: SingleFlight[int] = SingleFlight()
    runs = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal runs
        runs += 1
        await gate.wait()
        return 42

    tasks = [asyncio.create_task(flight.run("k", work)) for _ in range(100)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert runs == 1
    assert [value for value, _ in results] == [42] * 100
    assert sum(shared for _, shared in results) == 99
    assert not flight.in_flight("k")


async def test_a_failure_reaches_every_waiter() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> int:
        await gate.wait()
        raise RuntimeError("provider down")

    tasks = [asyncio.create_task(flight.run("k", work)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, RuntimeError) and str(o) == "provider down" for o in outcomes)


async def test_different_keys_run_separately() -> None:
    flight: SingleFlight[str] = SingleFlight()

    async def work_for(key: str) -> str:
        await asyncio.sleep(0)
        return key

    results = await asyncio.gather(*(flight.run(k, lambda k=k: work_for(k)) for k in "abc"))  # type: ignore[misc]
    assert [value for value, _ in results] == ["a", "b", "c"]
    assert not any(shared for _, shared in results)


async def test_a_cancelled_leader_hands_over_to_a_waiter() -> None:
    flight: SingleFlight[int] = SingleFlight()
    runs = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal runs
        runs += 1
        await gate.wait()
        return runs

    leader = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    await asyncio.sleep(0)
    gate.set()
    value, shared = await waiter
    assert (value, shared, runs) == (2, False, 2)
