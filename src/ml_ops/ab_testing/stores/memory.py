"""Experiments in this process's memory: nothing persists (tests, notebooks, `memory:`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

from ml_ops.ab_testing.state import ExperimentState
from ml_ops.ab_testing.stores.base import (
    StateChange,
    TotalsKey,
    merged,
    not_found,
    totals_from_text,
)
from ml_ops.ab_testing.totals import VariantTotals


class MemoryExperimentStore:
    """The `ExperimentStore` contract in a dict, safe across threads; totals are kept in
    their stored (JSON) form so no caller can change them behind the store's back."""

    def __init__(self) -> None:
        self._states: dict[str, ExperimentState] = {}
        self._totals: dict[TotalsKey, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryExperimentStore()"

    def create(self, state: ExperimentState) -> tuple[ExperimentState, bool]:
        with self._lock:
            stored = self._states.get(state.name)
            if stored is not None:
                return stored, False
            self._states[state.name] = state
            return state, True

    def load(self, name: str) -> ExperimentState | None:
        with self._lock:
            return self._states.get(name)

    def load_all(self) -> list[ExperimentState]:
        with self._lock:
            return [self._states[name] for name in sorted(self._states)]

    def update(self, name: str, change: StateChange) -> ExperimentState:
        with self._lock:
            stored = self._states.get(name)
            if stored is None:
                raise not_found(name, sorted(self._states))
            changed = change(stored)
            if changed is stored:
                return stored
            changed = replace(changed, revision=stored.revision + 1)
            self._states[name] = changed
            return changed

    def add_totals(self, deltas: Mapping[TotalsKey, VariantTotals]) -> None:
        with self._lock:
            for key, delta in deltas.items():
                self._totals[key] = merged(self._totals.get(key), delta)

    def totals(self, name: str) -> dict[tuple[str, int], VariantTotals]:
        with self._lock:
            rows = [(key, text) for key, text in self._totals.items() if key[0] == name]
        return {(variant, period): totals_from_text(text) for (_, variant, period), text in rows}

    def close(self) -> None:
        """Nothing to release."""
