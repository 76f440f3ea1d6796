"""Spend counters: what a budget has spent and holds reserved in one period.

The budget guard reserves a call's worst-case cost before the call and settles the
actual cost after it. Both go through a `SpendCounters`:

- `LocalSpendCounters`: this process only, a dict under a lock;
- `RedisSpendCounters` (`redis_counters`): one Redis shared by every process, each
  operation one Lua script, so "check every limit, then reserve in every budget" is
  atomic across processes.

Amounts are integers of `UNITS_PER_USD` (nano-dollars), so sums are exact and a limit
check never depends on float rounding; costs are rounded up into units. Each counter is
keyed by budget name and `period_key`, so a new period starts at zero by itself, and it
expires `EXPIRY_MARGIN` after its period ends.

`merge` and the `seed` of each `Claim` raise a counter's spend to at least what this
process knows was spent (read from the event store, or spent while Redis was away),
never lower: `spent = max(spent, seed)`. That is how a counter created mid-period, or
after a Redis restart, starts from the store's figure instead of zero.

Public names: `SpendCounters`, `LocalSpendCounters`, `CounterKey`, `CounterState`,
`Claim`, `ReserveOutcome`, `to_units`, `to_usd`, `UNITS_PER_USD`, `EXPIRY_MARGIN`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Protocol, runtime_checkable

__all__ = [
    "EXPIRY_MARGIN",
    "UNITS_PER_USD",
    "Claim",
    "CounterKey",
    "CounterState",
    "LocalSpendCounters",
    "ReserveOutcome",
    "SpendCounters",
    "to_units",
    "to_usd",
]

UNITS_PER_USD = 1_000_000_000
"""Counters count nano-dollars: exact integer sums, and Lua's doubles hold integers
exactly up to 2**53 units (about 9 million USD per budget and period)."""
EXPIRY_MARGIN = timedelta(days=1)
"""How long a counter outlives its period: calls admitted just before the end still
settle into it."""


def to_units(usd: float) -> int:
    """`usd` in counter units, rounded up (a cost is never under-counted); the 1e-6
    slack keeps binary noise such as 0.1 * 1e9 = 100000000.00000001 from adding a unit."""
    if not math.isfinite(usd) or usd <= 0:
        return 0
    return math.ceil(usd * UNITS_PER_USD - 1e-6)


def to_usd(units: int) -> float:
    """Counter units in USD."""
    return units / UNITS_PER_USD


@dataclass(frozen=True, slots=True)
class CounterKey:
    """One budget's counter for one period; `expires_at` is the period end plus
    `EXPIRY_MARGIN` (the same for every key of a period, so not part of equality)."""

    budget: str
    period_key: str
    expires_at: datetime

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CounterKey):
            return NotImplemented
        return (self.budget, self.period_key) == (other.budget, other.period_key)

    def __hash__(self) -> int:
        return hash((self.budget, self.period_key))

    @property
    def ident(self) -> tuple[str, str]:
        return self.budget, self.period_key


@dataclass(frozen=True, slots=True)
class CounterState:
    """A counter's spend and in-flight reservations, in units."""

    spent: int = 0
    reserved: int = 0

    @property
    def committed(self) -> int:
        """Spent plus reserved: what a new reservation is checked against."""
        return self.spent + self.reserved


@dataclass(frozen=True, slots=True)
class Claim:
    """One budget's part in a reservation: its counter, its limit in units (None: not
    enforced, the reservation is only counted), and `seed`, the spend this process
    knows of (the counter is raised to at least that first)."""

    key: CounterKey
    limit: int | None = None
    seed: int = 0


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """Whether a reservation was made, the claims' counters afterwards (or, when refused,
    as they stood), and the index of the first claim whose limit refused it."""

    admitted: bool
    states: tuple[CounterState, ...]
    refused_by: int | None = None


@runtime_checkable
class SpendCounters(Protocol):
    """Where budgets are counted. Every operation on several claims is atomic: a
    reservation is made in all of them or in none. Implementations raise
    `ai.errors.StoreError` when their backend fails, nothing else."""

    @property
    def shared(self) -> bool:
        """True when other processes see the same counters."""
        ...

    @property
    def description(self) -> str:
        """How the counters are kept, for status lines (`local`, `redis://host:6379/0`)."""
        ...

    async def reserve(self, claims: Sequence[Claim], amount: int) -> ReserveOutcome:
        """Reserve `amount` in every claim if, for each claim with a limit,
        spent + reserved + amount <= limit; otherwise change nothing."""
        ...

    async def settle(
        self, claims: Sequence[Claim], reserved: int, actual: int
    ) -> tuple[CounterState, ...]:
        """Release `reserved` (never below zero) and add `actual` to the spend."""
        ...

    async def merge(self, claims: Sequence[Claim]) -> tuple[CounterState, ...]:
        """Raise each counter's spend to its claim's seed (if lower) and read it."""
        ...

    async def claim_once(self, key: CounterKey, marker: str) -> bool:
        """True for the first caller (of any process sharing the counters) to claim
        `marker` in this period; used so each alert fires once."""
        ...

    def peek(self, key: CounterKey) -> CounterState | None:
        """The counter as last seen by this process, without asking the backend."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class LocalSpendCounters:
    """Counters in this process: a dict under a `threading.Lock` (a `SyncLLMService`
    calls from its own thread). Every method is also available synchronously (`*_now`),
    which is how `CostTracker` counts records it observes outside an event loop."""

    shared: ClassVar[bool] = False
    description: ClassVar[str] = "local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._expiry: dict[tuple[str, str], datetime] = {}
        self._markers: set[tuple[str, str, str]] = set()

    def __repr__(self) -> str:
        return f"LocalSpendCounters({len(self._counts)} counters)"

    def _entry(self, claim: Claim) -> list[int]:
        ident = claim.key.ident
        entry = self._counts.get(ident)
        if entry is None:
            entry = self._counts[ident] = [0, 0]
            self._expiry[ident] = claim.key.expires_at
        if entry[0] < claim.seed:
            entry[0] = claim.seed
        return entry

    def reserve_now(self, claims: Sequence[Claim], amount: int) -> ReserveOutcome:
        """`reserve`, synchronously."""
        with self._lock:
            entries = [self._entry(claim) for claim in claims]
            for index, (claim, entry) in enumerate(zip(claims, entries, strict=True)):
                if claim.limit is not None and entry[0] + entry[1] + amount > claim.limit:
                    return ReserveOutcome(False, _states(entries), index)
            for entry in entries:
                entry[1] += amount
            return ReserveOutcome(True, _states(entries))

    def hold_now(self, claims: Sequence[Claim], amount: int) -> None:
        """Add `amount` to the reservations without checking limits: the local copy of a
        reservation made in shared counters."""
        with self._lock:
            for claim in claims:
                self._entry(claim)[1] += amount

    def settle_now(
        self, claims: Sequence[Claim], reserved: int, actual: int
    ) -> tuple[CounterState, ...]:
        """`settle`, synchronously."""
        with self._lock:
            entries = [self._entry(claim) for claim in claims]
            for entry in entries:
                entry[1] = max(entry[1] - reserved, 0)
                entry[0] += actual
            return _states(entries)

    def merge_now(self, claims: Sequence[Claim]) -> tuple[CounterState, ...]:
        """`merge`, synchronously."""
        with self._lock:
            return _states([self._entry(claim) for claim in claims])

    def claim_once_now(self, key: CounterKey, marker: str) -> bool:
        """`claim_once`, synchronously."""
        with self._lock:
            ident = (*key.ident, marker)
            if ident in self._markers:
                return False
            self._markers.add(ident)
            self._expiry.setdefault(key.ident, key.expires_at)
            return True

    def peek(self, key: CounterKey) -> CounterState | None:
        with self._lock:
            entry = self._counts.get(key.ident)
            return None if entry is None else CounterState(entry[0], entry[1])

    def prune(self, now: datetime) -> int:
        """Forget counters (and alert markers) whose expiry has passed; returns how many."""
        with self._lock:
            gone = {ident for ident, expiry in self._expiry.items() if expiry <= now}
            for ident in gone:
                self._counts.pop(ident, None)
                del self._expiry[ident]
            self._markers = {m for m in self._markers if m[:2] not in gone}
            return len(gone)

    async def reserve(self, claims: Sequence[Claim], amount: int) -> ReserveOutcome:
        return self.reserve_now(claims, amount)

    async def settle(
        self, claims: Sequence[Claim], reserved: int, actual: int
    ) -> tuple[CounterState, ...]:
        return self.settle_now(claims, reserved, actual)

    async def merge(self, claims: Sequence[Claim]) -> tuple[CounterState, ...]:
        return self.merge_now(claims)

    async def claim_once(self, key: CounterKey, marker: str) -> bool:
        return self.claim_once_now(key, marker)

    async def aclose(self) -> None:
        return None


def _states(entries: Sequence[list[int]]) -> tuple[CounterState, ...]:
    return tuple(CounterState(entry[0], entry[1]) for entry in entries)
