"""Single-flight: one execution per key among concurrent callers; failures shared unless
they are the leader's own; each waiter bounded by its own wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

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


async def test_a_waiter_waits_at_most_its_own_max_wait() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> int:
        await gate.wait()
        return 42

    leader = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        await flight.run("k", work, max_wait=0.01)
    assert flight.in_flight("k")  # the leader goes on
    gate.set()
    assert await leader == (42, False)


async def test_a_failure_not_shared_hands_over_to_one_waiter() -> None:
    """A leader's failure of its own (`shared` says no) is not its waiters' answer: one of
    them runs the work, and the others share that run."""
    flight: SingleFlight[str] = SingleFlight()
    gate = asyncio.Event()
    runs: list[str] = []

    second_gate = asyncio.Event()

    def work_of(name: str) -> Callable[[], Awaitable[str]]:
        async def work() -> str:
            runs.append(name)
            if name == "leader":
                await gate.wait()
                raise TimeoutError("the leader's own deadline")
            await second_gate.wait()
            return f"answered by {name}"

        return work

    def shared(error: BaseException) -> bool:
        return not isinstance(error, TimeoutError)

    leader = asyncio.create_task(flight.run("k", work_of("leader"), shared=shared))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(flight.run("k", work_of(f"w{i}"))) for i in range(3)]
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(TimeoutError):
        await leader
    await asyncio.sleep(0)
    second_gate.set()
    results = await asyncio.gather(*waiters)
    assert runs == ["leader", "w0"]
    assert results == [
        ("answered by w0", False),
        ("answered by w0", True),
        ("answered by w0", True),
    ]


async def test_a_shared_failure_still_reaches_every_waiter_with_a_predicate() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> int:
        await gate.wait()
        raise RuntimeError("provider down")

    tasks = [
        asyncio.create_task(flight.run("k", work, shared=lambda e: True, max_wait=5))
        for _ in range(3)
    ]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)
