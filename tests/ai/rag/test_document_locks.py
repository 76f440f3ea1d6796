"""Per-document locks: overlapping holds take turns, disjoint ones do not wait."""

from __future__ import annotations

import asyncio

import pytest

from ai.rag.document_locks import DocumentLocks


async def test_holds_sharing_an_id_take_turns_and_the_map_empties() -> None:
    locks = DocumentLocks()
    events: list[str] = []
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def hold(name: str, ids: list[str], wait: bool) -> None:
        async with locks.hold(ids):
            events.append(f"{name} in")
            if wait:
                inside.set()
                await leave.wait()
            events.append(f"{name} out")

    first = asyncio.create_task(hold("first", ["b", "a"], wait=True))
    await inside.wait()
    shared = asyncio.create_task(hold("shared", ["a", "c"], wait=False))
    disjoint = asyncio.create_task(hold("disjoint", ["d"], wait=False))
    await disjoint
    for _ in range(5):
        await asyncio.sleep(0)
    assert events == ["first in", "disjoint in", "disjoint out"]  # "shared" waits for "a"
    leave.set()
    await asyncio.gather(first, shared)
    assert events[3:] == ["first out", "shared in", "shared out"]
    assert len(locks) == 0


async def test_a_failing_holder_releases_and_cleans_up() -> None:
    locks = DocumentLocks()
    with pytest.raises(RuntimeError):
        async with locks.hold(["a", "a"]):
            raise RuntimeError("boom")
    assert len(locks) == 0
    async with locks.hold(["a"]):
        assert len(locks) == 1
