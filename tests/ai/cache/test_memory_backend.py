"""MemoryBackend: LRU by entries and bytes, TTL on an injected clock, sweeps, exact counters.

The backend never suspends, so the stateful test drives its coroutines by hand (`_run_sync`),
which also checks that nothing on its path awaits.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ai.cache.backend import BackendStats
from ai.cache.entry import CachedResponse, CacheValueError
from ai.cache.memory import MemoryBackend
from ai.core.clock import FakeClock
from ai.errors import ConfigurationError

T = TypeVar("T")


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must finish without suspending."""
    try:
        coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    raise AssertionError("MemoryBackend suspended")


def response(text: str = "answer", size: int | None = None) -> CachedResponse:
    """A response whose size_hint is `size` when given (200 + 2 bytes per character)."""
    if size is not None:
        assert size >= 200 and size % 2 == 0
        text = "x" * ((size - 200) // 2)
    return CachedResponse(text=text, model="m", provider="p")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_get_returns_what_set_stored(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    value = response("hello")
    await backend.set("k", value, None)
    assert await backend.get("k") is value
    assert await backend.get("other") is None


async def test_real_clock_by_default() -> None:
    backend = MemoryBackend()
    await backend.set("k", response(), 60)
    assert await backend.get("k") == response()


async def test_lru_evicts_least_recently_used_and_get_refreshes(clock: FakeClock) -> None:
    backend = MemoryBackend(max_entries=3, clock=clock)
    for key in "abc":
        await backend.set(key, response(key), None)
    assert await backend.get("a") is not None  # a is now the most recent; b the least
    await backend.set("d", response("d"), None)
    assert await backend.get("b") is None
    assert [await backend.get(key) is not None for key in "acd"] == [True, True, True]
    await backend.set("a", response("a2"), None)  # overwriting refreshes too: c is least now
    await backend.set("e", response("e"), None)
    assert await backend.get("c") is None
    assert {key for key in "abcde" if await backend.get(key) is not None} == {"a", "d", "e"}
    assert backend.stats() == BackendStats(
        entries=3, bytes=202 + 202 + 204, evictions=2, expirations=0
    )


async def test_byte_bound_evicts_as_many_as_needed(clock: FakeClock) -> None:
    backend = MemoryBackend(max_entries=100, max_bytes=1000, clock=clock)
    for key in "abcd":
        await backend.set(key, response(size=200), None)
    assert backend.stats().bytes == 800
    await backend.set("big", response(size=600), None)  # 1400 bytes: a and b must go
    present = {key for key in ("a", "b", "c", "d", "big") if await backend.get(key) is not None}
    assert present == {"c", "d", "big"}
    assert backend.stats() == BackendStats(entries=3, bytes=1000, evictions=2, expirations=0)


async def test_oversized_value_is_rejected_and_changes_nothing(clock: FakeClock) -> None:
    backend = MemoryBackend(max_bytes=1000, clock=clock)
    await backend.set("k", response("old"), None)
    with pytest.raises(CacheValueError) as caught:
        await backend.set("k", response(size=1002), None)
    assert caught.value.reason == "oversized"
    assert "max_bytes" in str(caught.value)
    assert await backend.get("k") == response("old")
    assert backend.stats() == BackendStats(entries=1, bytes=206, evictions=0, expirations=0)
    await backend.set("exact", response(size=1000), None)  # exactly max_bytes fits
    assert await backend.get("exact") is not None


async def test_ttl_expiry_on_injected_clock(clock: FakeClock) -> None:
    backend = MemoryBackend(default_ttl=None, clock=clock)
    await backend.set("short", response(), 10)
    await backend.set("forever", response(), None)
    clock.advance(9.999)
    assert await backend.get("short") is not None
    clock.advance(0.001)  # at exactly 10 s the entry is gone
    assert await backend.get("short") is None
    clock.advance(10**9)
    assert await backend.get("forever") is not None
    assert backend.stats().expirations == 1


async def test_default_ttl_applies_when_ttl_is_none(clock: FakeClock) -> None:
    backend = MemoryBackend(default_ttl=5, clock=clock)
    await backend.set("default", response(), None)
    await backend.set("longer", response(), 50)
    await backend.set("infinite", response(), math.inf)
    clock.advance(5)
    assert await backend.get("default") is None
    assert await backend.get("longer") is not None
    clock.advance(10**6)
    assert await backend.get("infinite") is not None


async def test_expired_entry_is_never_served_nor_counted_live(clock: FakeClock) -> None:
    backend = MemoryBackend(default_ttl=1, sweep_interval=1000, clock=clock)
    await backend.set("k", response(), None)
    clock.advance(1)
    # No sweep has run (the interval is long); the lookup itself must refuse the entry.
    assert await backend.get("k") is None
    assert await backend.delete("k") is False
    assert backend.stats() == BackendStats(entries=0, bytes=0, evictions=0, expirations=1)


async def test_sweep_removes_expired_entries_without_gets(clock: FakeClock) -> None:
    backend = MemoryBackend(sweep_interval=1000, clock=clock)
    await backend.set("a", response(), 1)
    await backend.set("b", response(), 2)
    await backend.set("c", response(), 3)
    await backend.set("b", response(), 30)  # the old expiry of b is stale now
    clock.advance(2.5)
    assert backend.sweep() == 1  # only a: b was renewed, c is still live
    assert backend.sweep() == 0
    clock.advance(1)
    assert backend.sweep() == 1  # c
    assert backend.stats() == BackendStats(entries=1, bytes=212, evictions=0, expirations=2)
    await backend.set("d", response(), 10)
    await backend.set("d", response(), 0.5)  # shortened: the sweep must find the new time
    clock.advance(0.5)
    assert backend.sweep() == 1
    clock.advance(26.5)  # t = 30: b, renewed at t = 0 for 30 s, is due now
    assert backend.sweep() == 1
    assert backend.stats() == BackendStats(entries=0, bytes=0, evictions=0, expirations=4)


async def test_set_sweeps_once_the_interval_has_passed(clock: FakeClock) -> None:
    backend = MemoryBackend(sweep_interval=60, clock=clock)
    await backend.set("a", response(), 1)
    await backend.set("b", response(), 1)
    clock.advance(59)
    await backend.set("c", response(), 100)  # the period has not passed: nothing swept
    assert backend.sweep() == 2  # ...so an explicit sweep finds both (and restarts the period)
    await backend.set("d", response(), 1)
    clock.advance(59.5)
    await backend.set("e", response(), 100)
    clock.advance(0.5)  # 60 s since the explicit sweep
    await backend.set("f", response(), 100)  # this set sweeps d away by itself
    assert backend.sweep() == 0
    assert backend.stats() == BackendStats(entries=3, bytes=3 * 212, evictions=0, expirations=3)


async def test_expired_entries_make_room_before_live_ones_are_evicted(clock: FakeClock) -> None:
    backend = MemoryBackend(max_entries=3, sweep_interval=1000, clock=clock)
    await backend.set("live-old", response(), 100)
    await backend.set("dies", response(), 1)
    await backend.set("live-new", response(), 100)
    clock.advance(1)
    await backend.set("extra", response(), 100)
    assert await backend.get("live-old") is not None  # the LRU entry survived
    assert backend.stats() == BackendStats(entries=3, bytes=3 * 212, evictions=0, expirations=1)


async def test_overwrite_replaces_bytes_and_counts_an_expired_predecessor(
    clock: FakeClock,
) -> None:
    backend = MemoryBackend(clock=clock)
    await backend.set("k", response(size=400), 1)
    await backend.set("k", response(size=300), 1)
    assert backend.stats() == BackendStats(entries=1, bytes=300, evictions=0, expirations=0)
    clock.advance(1)
    await backend.set("k", response(size=200), 1)  # the entry it replaces had expired
    assert backend.stats() == BackendStats(entries=1, bytes=200, evictions=0, expirations=1)


async def test_delete_and_clear(clock: FakeClock) -> None:
    backend = MemoryBackend(max_entries=2, clock=clock)
    for key in "abc":
        await backend.set(key, response(), None)
    assert await backend.delete("c") is True
    assert await backend.delete("c") is False
    assert await backend.get("c") is None
    await backend.clear()
    assert await backend.get("b") is None
    # clear() empties the cache but keeps the history counters.
    assert backend.stats() == BackendStats(entries=0, bytes=0, evictions=1, expirations=0)
    assert not backend._heap  # expiry bookkeeping goes with the entries (memory, not behaviour)
    await backend.set("a", response(), 1)
    clock.advance(1)
    assert backend.sweep() == 1
    await backend.aclose()


async def test_stale_heap_items_stay_bounded(clock: FakeClock) -> None:
    backend = MemoryBackend(max_entries=10, clock=clock)
    for index in range(20_000):
        # A shorter TTL each time: every overwrite must file a new heap item, leaving the
        # old one stale; so must a delete followed by a set.
        await backend.set(f"k{index % 10}", response(), 3600 - index / 100)
        if index % 7 == 0:
            await backend.delete(f"k{(index + 3) % 10}")
    # The heap is rebuilt before stale items outgrow the live entries by much, so memory
    # follows the entry count, not the write count.
    assert len(backend._heap) <= 2 * 10 + 1024 + 1
    live = backend.stats().entries
    assert live == 9  # k2 was deleted last
    clock.advance(3600)
    assert backend.sweep() == live
    assert backend.stats() == BackendStats(entries=0, bytes=0, evictions=0, expirations=9)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_entries": 0}, "max_entries"),
        ({"max_entries": 1.5}, "max_entries"),
        ({"max_entries": True}, "max_entries"),
        ({"max_bytes": 0}, "max_bytes"),
        ({"default_ttl": 0}, "default_ttl"),
        ({"default_ttl": -1.0}, "default_ttl"),
        ({"default_ttl": math.nan}, "default_ttl"),
        ({"sweep_interval": 0}, "sweep_interval"),
        ({"sweep_interval": math.inf}, "sweep_interval"),
    ],
)
def test_invalid_arguments_are_named(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        MemoryBackend(**options)


@pytest.mark.parametrize("ttl", [0, -5, math.nan])
async def test_invalid_ttl_is_refused(clock: FakeClock, ttl: float) -> None:
    backend = MemoryBackend(clock=clock)
    with pytest.raises(ConfigurationError, match="ttl"):
        await backend.set("k", response(), ttl)
    assert backend.stats().entries == 0


# --- property test against a plain model -----------------------------------------------

KEYS = st.sampled_from("abcdef")
TTLS = st.sampled_from([None, 0.5, 1.0, 3.0, 10.0, math.inf])
STEPS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 7.0])
SIZES = st.sampled_from([200, 260, 400, 700, 1000, 1600])  # 1600: always oversized


class Model:
    """What MemoryBackend promises, written the slow, obvious way (scans, no heap)."""

    def __init__(self, max_entries: int, max_bytes: int, default_ttl: float | None) -> None:
        self.max_entries, self.max_bytes, self.default_ttl = max_entries, max_bytes, default_ttl
        self.entries: OrderedDict[str, tuple[CachedResponse, float, int]] = OrderedDict()
        self.evictions = self.expirations = 0
        self.next_sweep = 0.0

    def drop_expired(self, now: float) -> None:
        for key in [key for key, (_, expires, _) in self.entries.items() if expires <= now]:
            del self.entries[key]
            self.expirations += 1

    def used(self) -> int:
        return sum(size for _, _, size in self.entries.values())

    def get(self, key: str, now: float) -> CachedResponse | None:
        if key not in self.entries:
            return None
        value, expires, _ = self.entries[key]
        if expires <= now:
            del self.entries[key]
            self.expirations += 1
            return None
        self.entries.move_to_end(key)
        return value

    def set(self, key: str, value: CachedResponse, ttl: float | None, now: float) -> None:
        ttl = self.default_ttl if ttl is None else ttl
        expires = math.inf if ttl is None else now + ttl
        old = self.entries.pop(key, None)
        if old is not None and old[1] <= now:
            self.expirations += 1
        self.entries[key] = (value, expires, value.size_hint())
        if len(self.entries) > self.max_entries or self.used() > self.max_bytes:
            self.drop_expired(now)
            while len(self.entries) > self.max_entries or self.used() > self.max_bytes:
                self.entries.popitem(last=False)
                self.evictions += 1
        if now >= self.next_sweep:
            self.sweep(now)

    def sweep(self, now: float) -> None:
        self.next_sweep = now + SWEEP_INTERVAL
        self.drop_expired(now)

    def delete(self, key: str, now: float) -> bool:
        old = self.entries.pop(key, None)
        if old is not None and old[1] <= now:
            self.expirations += 1
            return False
        return old is not None


SWEEP_INTERVAL = 5.0


class MemoryBackendMachine(RuleBasedStateMachine):
    """Random get/set/delete/clear/sweep/advance sequences; results and counters must match."""

    @initialize(
        max_entries=st.integers(1, 5),
        max_bytes=st.sampled_from([1000, 1500, 4000]),
        default_ttl=st.sampled_from([None, 2.0]),
    )
    def setup(self, max_entries: int, max_bytes: int, default_ttl: float | None) -> None:
        self.clock = FakeClock()
        self.backend = MemoryBackend(
            max_entries=max_entries,
            max_bytes=max_bytes,
            default_ttl=default_ttl,
            clock=self.clock,
            sweep_interval=SWEEP_INTERVAL,
        )
        self.model = Model(max_entries, max_bytes, default_ttl)
        self.model.next_sweep = SWEEP_INTERVAL
        self.counter = 0

    @property
    def time(self) -> float:
        return self.clock.monotonic()

    @rule(key=KEYS, size=SIZES, ttl=TTLS)
    def set(self, key: str, size: int, ttl: float | None) -> None:
        self.counter += 1
        text = str(self.counter).ljust((size - 200) // 2)
        value = CachedResponse(text=text, model=None, provider="p")
        if value.size_hint() > self.model.max_bytes:
            with pytest.raises(CacheValueError):
                _run_sync(self.backend.set(key, value, ttl))
            return
        _run_sync(self.backend.set(key, value, ttl))
        self.model.set(key, value, ttl, self.time)

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        assert _run_sync(self.backend.get(key)) is self.model.get(key, self.time)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        assert _run_sync(self.backend.delete(key)) is self.model.delete(key, self.time)

    @rule(seconds=STEPS)
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        self.backend.sweep()
        self.model.sweep(self.time)

    @rule()
    def clear(self) -> None:
        _run_sync(self.backend.clear())
        self.model.entries.clear()

    @invariant()
    def stats_match(self) -> None:
        stats = self.backend.stats()
        self.model.drop_expired(self.time)
        assert stats == BackendStats(
            entries=len(self.model.entries),
            bytes=self.model.used(),
            evictions=self.model.evictions,
            expirations=self.model.expirations,
        )
        assert stats.entries is not None and stats.entries <= self.model.max_entries
        assert stats.bytes is not None and stats.bytes <= self.model.max_bytes


MemoryBackendMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None
)
TestMemoryBackendModel = MemoryBackendMachine.TestCase
