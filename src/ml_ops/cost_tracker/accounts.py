"""Internal: the counters a `CostTracker` counts budgets in, and what happens when the
shared ones (Redis) stop answering.

There is always a `LocalSpendCounters`, this process's own figure of each budget's
spend: seeded from the event store (`CostTracker.restore`), raised by every record the
tracker observes and every call the guard settles, and holding a copy of this process's
reservations in flight. With shared counters as well, the
guard reserves and settles there, and each request carries the local figure as its
`seed`, so a shared counter never reads less than what this process knows was spent.

When the shared counters fail (`StoreError`), reservations fall back to the local ones
and one warning is logged for the outage; they are tried again every `retry_interval`
seconds, and used again as soon as they answer. Spend that could not be added to them
meanwhile (calls settled locally, settles that failed) is queued and added, in order,
before their next reservation: after an outage a shared figure may count a call twice,
never miss one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ai.core.clock import Clock
from ai.errors import StoreError
from ml_ops.cost_tracker.counters import (
    Claim,
    CounterKey,
    CounterState,
    LocalSpendCounters,
    ReserveOutcome,
    SpendCounters,
)

logger = logging.getLogger("ml_ops.cost_tracker")

PENDING_LIMIT = 10_000
"""Settles kept for the shared counters while they are away; older ones are dropped
(their spend then reaches the shared counters only through the local seeds)."""


@dataclass(frozen=True, slots=True)
class Held:
    """A reservation in flight: its claims (seeded when made), amount, and where."""

    claims: tuple[Claim, ...]
    amount: int
    shared: bool


@dataclass(frozen=True, slots=True)
class _Pending:
    claims: tuple[Claim, ...]
    reserved: int
    actual: int


class SpendAccounts:
    """Local counters, optional shared ones, and the fallback between them."""

    def __init__(
        self, counters: SpendCounters | None, clock: Clock, *, retry_interval: float = 5.0
    ) -> None:
        self.local: LocalSpendCounters
        self.shared: SpendCounters | None
        if isinstance(counters, LocalSpendCounters):
            self.local, self.shared = counters, None
        else:
            self.local, self.shared = LocalSpendCounters(), counters
        self._clock = clock
        self._retry_interval = retry_interval
        self._down_since: float | None = None
        self._pending: deque[_Pending] = deque()
        self._unconfirmed: dict[tuple[str, str], int] = {}
        self.open: dict[str, Held] = {}
        """Reservations in flight by request id (the tracker skips their records)."""

    @property
    def description(self) -> str:
        """`local`, the shared counters' description, or that plus "unavailable"."""
        if self.shared is None:
            return self.local.description
        if self._down_since is not None:
            return f"local (shared {self.shared.description} unavailable)"
        return self.shared.description

    @property
    def degraded(self) -> bool:
        """True while the shared counters are away and the local ones stand in."""
        return self._down_since is not None

    def seeded(self, claims: Sequence[Claim]) -> tuple[Claim, ...]:
        """`claims` with this process's figure of each counter as its seed: what it knows
        was spent, less its own spend not yet confirmed by the shared counters (which
        would otherwise be counted twice when its own settle arrives)."""
        if self.shared is None:  # the local counters are their own figure
            return tuple(claims)
        out = []
        for claim in claims:
            state = self.local.peek(claim.key)
            spent = state.spent if state is not None else 0
            spent -= self._unconfirmed.get(claim.key.ident, 0)
            out.append(claim if spent <= claim.seed else replace(claim, seed=spent))
        return tuple(out)

    def peek(self, key: CounterKey) -> CounterState | None:
        """The freshest figure this process has, without asking anyone."""
        if self.shared is not None and self._down_since is None:
            seen = self.shared.peek(key)
            if seen is not None:
                return seen
        return self.local.peek(key)

    async def reserve(self, claims: Sequence[Claim], amount: int) -> tuple[ReserveOutcome, Held]:
        """Reserve in the shared counters if they answer, else locally."""
        seeded = self.seeded(claims)
        if self.shared is not None and self._shared_due():
            try:
                outcome = await self._reserve_shared(seeded, amount)
            except StoreError as error:
                self._outage(error)
            else:
                self._answered()
                if outcome.admitted:  # a local copy: a fallback then sees calls in flight
                    self.local.hold_now(seeded, amount)
                return outcome, Held(seeded, amount, shared=True)
        return self.local.reserve_now(seeded, amount), Held(seeded, amount, shared=False)

    async def settle(self, held: Held, actual: int) -> tuple[CounterState, ...]:
        """Settle a reservation at `actual` where it was made; the local figure always
        gets the spend, the shared one now or (queued) when it answers again."""
        if self.shared is None:
            return self.local.settle_now(held.claims, held.amount, actual)
        seeded = self.seeded(held.claims)  # before this call's spend is counted locally
        if not held.shared:
            states = self._count_locally(held.claims, held.amount, actual)
            self._queue(_Pending(seeded, 0, actual))
            return states
        self._count_locally(held.claims, held.amount, actual)
        pending = _Pending(seeded, held.amount, actual)
        if self._shared_due():
            try:
                return await asyncio.shield(self._settle_shared(pending))
            except StoreError as error:
                self._outage(error)
        self._queue(pending)
        return self.local.merge_now(held.claims)

    async def settle_elsewhere(
        self, held: Held, charged: Sequence[Claim], actual: int
    ) -> tuple[CounterState, ...]:
        """Settle a reservation whose spend belongs to other budgets as well or instead
        (a fallback model answered): the reservation is released in every claim of
        `held`, `actual` added to every claim of `charged`; returns `charged`'s states.
        Spend is added before reservations are released, so a concurrent check sees
        too much for a moment, never too little."""
        wanted = {claim.key.ident for claim in charged}
        both = tuple(claim for claim in held.claims if claim.key.ident in wanted)
        states: dict[tuple[str, str], CounterState] = {}
        if both:
            settled = await self.settle(replace(held, claims=both), actual)
            states.update((c.key.ident, s) for c, s in zip(both, settled, strict=True))
        fresh = tuple(claim for claim in charged if claim.key.ident not in states)
        if fresh:
            added = await self.add(fresh, actual)
            states.update((c.key.ident, s) for c, s in zip(fresh, added, strict=True))
        released = tuple(claim for claim in held.claims if claim.key.ident not in wanted)
        if released:
            await self.settle(replace(held, claims=released), 0)
        return tuple(states[claim.key.ident] for claim in charged)

    async def add(self, claims: Sequence[Claim], actual: int) -> tuple[CounterState, ...]:
        """Count spend nothing was reserved for, locally and in the shared counters
        (queued while they are away)."""
        seeded = self.add_locally(claims, actual)
        if seeded is None:
            return self.local.merge_now(claims)
        return await asyncio.shield(self.add_shared(seeded, actual))

    def add_locally(self, claims: Sequence[Claim], actual: int) -> tuple[Claim, ...] | None:
        """Count spend that did not go through the guard; returns the seeded claims to
        pass to `add_shared` (None when there are no shared counters)."""
        if self.shared is None:
            self.local.settle_now(claims, 0, actual)
            return None
        seeded = self.seeded(claims)
        self._count_locally(claims, 0, actual)
        return seeded

    async def add_shared(self, seeded: tuple[Claim, ...], actual: int) -> tuple[CounterState, ...]:
        """The shared half of `add_locally` (queued if the shared counters are away)."""
        pending = _Pending(seeded, 0, actual)
        if self.shared is not None and self._shared_due():
            try:
                return await self._settle_shared(pending)
            except StoreError as error:
                self._outage(error)
        self._queue(pending)
        return self.local.merge_now(seeded)

    def _count_locally(
        self, claims: Sequence[Claim], reserved: int, actual: int
    ) -> tuple[CounterState, ...]:
        """Settle in the local counters; the spend stays unconfirmed until the shared
        counters have it."""
        for claim in claims:
            ident = claim.key.ident
            self._unconfirmed[ident] = self._unconfirmed.get(ident, 0) + actual
        return self.local.settle_now(claims, reserved, actual)

    def _confirmed(self, pending: _Pending) -> None:
        for claim in pending.claims:
            ident = claim.key.ident
            left = self._unconfirmed.get(ident, 0) - pending.actual
            if left > 0:
                self._unconfirmed[ident] = left
            else:
                self._unconfirmed.pop(ident, None)

    async def merge(self, claims: Sequence[Claim]) -> tuple[CounterState, ...]:
        """Raise counters to the seeds and read them (shared if they answer)."""
        local = self.local.merge_now(claims)
        if self.shared is None or not self._shared_due():
            return local
        try:
            await self._flush_pending()
            states = await self.shared.merge(self.seeded(claims))
        except StoreError as error:
            self._outage(error)
            return local
        self._answered()
        return states

    async def claim_once(self, key: CounterKey, marker: str) -> bool:
        """First to claim `marker` this period (across processes when shared)."""
        if self.shared is not None and self._shared_due():
            try:
                first = await self.shared.claim_once(key, marker)
            except StoreError as error:
                self._outage(error)
            else:
                self._answered()
                self.local.claim_once_now(key, marker)
                return first
        return self.local.claim_once_now(key, marker)

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()

    # --- the fallback ---------------------------------------------------------------

    async def _reserve_shared(self, claims: tuple[Claim, ...], amount: int) -> ReserveOutcome:
        """Reserve in the shared counters; a caller cancelled while the reply is on its
        way does not leak the reservation: it is released once the reply arrives."""
        assert self.shared is not None
        shared = self.shared

        async def reserve() -> ReserveOutcome:
            await self._flush_pending()
            return await shared.reserve(claims, amount)

        task = asyncio.ensure_future(reserve())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(lambda done: self._release_abandoned(done, claims, amount))
            raise

    def _release_abandoned(
        self, done: asyncio.Future[ReserveOutcome], claims: tuple[Claim, ...], amount: int
    ) -> None:
        if done.cancelled() or done.exception() is not None or not done.result().admitted:
            return
        self._queue(_Pending(claims, amount, 0))

    async def _settle_shared(self, pending: _Pending) -> tuple[CounterState, ...]:
        assert self.shared is not None
        await self._flush_pending()
        states = await self.shared.settle(pending.claims, pending.reserved, pending.actual)
        self._confirmed(pending)
        self._answered()
        return states

    async def _flush_pending(self) -> None:
        """Send queued settles; concurrent flushers each take their own items, so none
        is settled twice, and one that fails goes back to the front of the queue."""
        assert self.shared is not None
        while self._pending:
            item = self._pending.popleft()
            try:
                await self.shared.settle(item.claims, item.reserved, item.actual)
            except BaseException:
                self._pending.appendleft(item)
                raise
            self._confirmed(item)

    def _queue(self, pending: _Pending) -> None:
        if len(self._pending) >= PENDING_LIMIT:
            self._confirmed(self._pending.popleft())  # its spend goes out with the seeds
            logger.warning(
                "budget counters: more than %d settles wait for the shared counters; the "
                "oldest was dropped (its spend still reaches them through local figures)",
                PENDING_LIMIT,
            )
        self._pending.append(pending)

    def _shared_due(self) -> bool:
        down = self._down_since
        return down is None or self._clock.monotonic() - down >= self._retry_interval

    def _outage(self, error: StoreError) -> None:
        if self._down_since is None:
            logger.warning(
                "budget counters: %s; budgets are enforced on this process's local counters "
                "(seeded from the event store) until they answer again (retried every %ss)",
                error,
                self._retry_interval,
            )
        self._down_since = self._clock.monotonic()

    def _answered(self) -> None:
        if self._down_since is not None:
            assert self.shared is not None
            logger.info("budget counters: %s answer again", self.shared.description)
            self._down_since = None
