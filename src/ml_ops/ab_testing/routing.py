"""Which variant a unit gets, from a cached state, without touching the store.

`StateCache` keeps each experiment's state (and, for a bandit, its current bucket map)
for `refresh_interval` seconds of the injected clock; an experiment never seen is loaded
on first use (and its absence remembered for the same time). Changes this process makes
are put in at once; other processes' changes show within `refresh_interval`.

`route` is the rule of each state:

    running     the bucket map: the unit's hashed bucket (sticky), or a random bucket
    completed   the winner (the control when there is none), not counted as an exposure
    paused      the control, not counted (templates and the guard leave the call alone)
    stopped     the control, not counted (idem)
    draft       nothing: the experiment has not started
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ai.core.clock import Clock
from ml_ops.ab_testing import analysis
from ml_ops.ab_testing.buckets import BucketMap, bucket_of, random_bucket
from ml_ops.ab_testing.experiment import Allocation
from ml_ops.ab_testing.state import ExperimentState, ExperimentStatus
from ml_ops.ab_testing.stores.base import ExperimentStore
from ml_ops.ab_testing.summary import per_variant
from ml_ops.ab_testing.variant import Variant

S = ExperimentStatus


@dataclass(frozen=True, slots=True)
class Routed:
    """A variant chosen for a unit, and whether that counts as an exposure (only while
    the experiment runs)."""

    variant: Variant
    counted: bool


def route(
    state: ExperimentState, buckets: BucketMap, unit: str | None, rng: random.Random
) -> Routed | None:
    """The variant `unit` gets in `state` (see the module docstring)."""
    experiment = state.experiment
    if state.status is S.RUNNING:
        salt = experiment.salt or experiment.name
        bucket = random_bucket(rng) if unit is None else bucket_of(salt, unit)
        return Routed(experiment.variant(buckets.variant_at(bucket)), True)
    if state.status is S.COMPLETED:
        return Routed(experiment.variant(state.winner or experiment.control_name), False)
    if state.status in (S.PAUSED, S.STOPPED):
        return Routed(experiment.variant(experiment.control_name), False)
    return None


def period_at(state: ExperimentState, moment: datetime) -> int:
    """The weight period that was in force at `moment`."""
    index = state.periods[0].index
    for period in state.periods:
        if period.started_at <= moment:
            index = period.index
    return index


@dataclass(slots=True)
class _Entry:
    state: ExperimentState | None
    buckets: BucketMap | None
    loaded_at: float


class StateCache:
    """States (and routing maps) by experiment name, refreshed after `ttl` seconds."""

    def __init__(self, store: ExperimentStore, clock: Clock, ttl: float) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[str, _Entry] = {}
        self._index: tuple[list[str], float] | None = None
        self._lock = threading.Lock()

    def stale(self, name: str) -> bool:
        """Whether reading `name` now would go to the store."""
        with self._lock:
            entry = self._entries.get(name)
        return entry is None or self._clock.monotonic() - entry.loaded_at >= self._ttl

    def get(self, name: str) -> ExperimentState | None:
        """The state of `name` (None: no such experiment), loaded when stale."""
        return self.routing(name)[0]

    def routing(self, name: str) -> tuple[ExperimentState | None, BucketMap | None]:
        """The state of `name` and the bucket map to route with."""
        with self._lock:
            entry = self._entries.get(name)
        if entry is None or self._clock.monotonic() - entry.loaded_at >= self._ttl:
            entry = self._load(name)
        return entry.state, entry.buckets

    def refresh(self, name: str) -> ExperimentState | None:
        """Load `name` from the store now."""
        return self._load(name).state

    def put(self, state: ExperimentState) -> None:
        """Use `state` from now on (this process changed it)."""
        entry = _Entry(state, self._buckets(state), self._clock.monotonic())
        with self._lock:
            self._entries[state.name] = entry

    def forget(self) -> None:
        """Drop everything: the next read of each experiment goes to the store."""
        with self._lock:
            self._entries.clear()
            self._index = None

    def names(self) -> list[str]:
        """The names of every stored experiment (re-listed when stale)."""
        with self._lock:
            index = self._index
        if index is None or self._clock.monotonic() - index[1] >= self._ttl:
            states = self._store.load_all()
            for state in states:
                self.put(state)
            index = ([s.name for s in states], self._clock.monotonic())
            with self._lock:
                self._index = index
        return list(index[0])

    def names_stale(self) -> bool:
        """Whether `names()` would go to the store."""
        with self._lock:
            index = self._index
        return index is None or self._clock.monotonic() - index[1] >= self._ttl

    def _load(self, name: str) -> _Entry:
        state = self._store.load(name)
        entry = _Entry(
            state, None if state is None else self._buckets(state), self._clock.monotonic()
        )
        with self._lock:
            self._entries[name] = entry
        return entry

    def _buckets(self, state: ExperimentState) -> BucketMap:
        """The map to route with: the stored one, or for a running bandit the stored one
        rebalanced to the current Thompson-sampling weights."""
        experiment = state.experiment
        if experiment.allocation is not Allocation.BANDIT or state.status is not S.RUNNING:
            return state.buckets
        current = per_variant(experiment, self._store.totals(state.name), state.period.index)
        weights: Mapping[str, float] = analysis.bandit(experiment, current)["weights"]
        return state.buckets.rebalance(weights)
