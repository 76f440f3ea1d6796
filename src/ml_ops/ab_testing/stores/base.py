"""What an experiment store offers, synchronously: states and per-variant totals.

`ABTester`'s calls are synchronous (the spec's Quick Start calls them without `await`), so
the store contract is too. SQLite is synchronous by nature; the PostgreSQL store runs its
asyncpg pool on a private event-loop thread and blocks the caller for one round trip.
Neither is ever used on a call's path: assignments read a cached state, and results go
through a buffer that a background thread flushes (`ml_ops.ab_testing.writer`).

Two kinds of rows:

- one state per experiment (`ExperimentState.to_dict()` as JSON), changed only by
  `update`, which applies a function to the stored state inside one transaction, so two
  processes moving the same experiment at once serialise and each sees the other's move;
- totals per (experiment, variant, period) (`VariantTotals.to_dict()` as JSON), only ever
  added to (`add_totals`, one transaction per batch), so concurrent writers never lose
  counts.

Every method may raise `ai.errors.StoreError`; none raises a driver's own exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from ml_ops.ab_testing.errors import ExperimentNotFoundError
from ml_ops.ab_testing.state import ExperimentState
from ml_ops.ab_testing.totals import VariantTotals

TotalsKey = tuple[str, str, int]
"""(experiment, variant, period)."""

StateChange = Callable[[ExperimentState], ExperimentState]


@runtime_checkable
class ExperimentStore(Protocol):
    """Experiment states and totals (see the module docstring)."""

    def create(self, state: ExperimentState) -> tuple[ExperimentState, bool]:
        """Store `state` unless an experiment of that name exists; returns the stored
        state and whether it was created now."""
        ...

    def load(self, name: str) -> ExperimentState | None:
        """The stored state of `name`, or None."""
        ...

    def load_all(self) -> list[ExperimentState]:
        """Every stored state, by name."""
        ...

    def update(self, name: str, change: StateChange) -> ExperimentState:
        """Apply `change` to the stored state of `name` in one transaction and store the
        result (revision + 1) unless `change` returned its argument; the exceptions of
        `change` propagate and nothing is written. `ExperimentNotFoundError` if absent."""
        ...

    def add_totals(self, deltas: Mapping[TotalsKey, VariantTotals]) -> None:
        """Add every delta to its stored totals, in one transaction."""
        ...

    def totals(self, name: str) -> dict[tuple[str, int], VariantTotals]:
        """The totals of experiment `name` by (variant, period)."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...


def state_text(state: ExperimentState) -> str:
    """The stored JSON text of a state."""
    return json.dumps(state.to_dict(), separators=(",", ":"), sort_keys=True)


def state_from_text(text: str) -> ExperimentState:
    """A state from its stored JSON text."""
    return ExperimentState.from_dict(json.loads(text))


def totals_text(totals: VariantTotals) -> str:
    """The stored JSON text of totals."""
    return json.dumps(totals.to_dict(), separators=(",", ":"))


def totals_from_text(text: str) -> VariantTotals:
    """Totals from their stored JSON text."""
    return VariantTotals.from_dict(json.loads(text))


def merged(stored: str | None, delta: VariantTotals) -> str:
    """The JSON text of `stored` (or nothing) plus `delta`."""
    totals = VariantTotals() if stored is None else totals_from_text(stored)
    totals.merge(delta)
    return totals_text(totals)


def not_found(name: str, known: list[str]) -> ExperimentNotFoundError:
    """The error for an unknown experiment, listing the known ones."""
    listed = ", ".join(repr(n) for n in known[:20]) or "none"
    return ExperimentNotFoundError(
        f"no experiment named {name!r}; known: {listed}. Create it with "
        "ab_tester.create_experiment(Experiment(...)) or `devora experiments create`."
    )
