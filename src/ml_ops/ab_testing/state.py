"""The life of an experiment as a state machine, and everything persisted about it.

    draft ──start──> running <──pause / start──> paused
      │                 │                          │
      └──stop──┐        ├──complete──> completed <─┤
               └──────> └──stop──────> stopped <───┘

`completed` (a winner chosen, or none) and `stopped` (abandoned) are final. Asking for the
state an experiment is already in does nothing, so every process of a deployment may call
`start_experiment` at start-up; any other move not drawn above raises
`ExperimentStateError`. Every transition is kept with its UTC time and reason.

Weights live in periods: a weight change after the experiment first started opens a new
period with a fresh bucket map (`BucketMap.rebalance`), so exposures and the sample ratio
check can be read per period. Completing with a winner opens a last period that sends all
traffic to the winner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ai.errors import ConfigurationError
from ml_ops.ab_testing.buckets import BucketMap, apportion
from ml_ops.ab_testing.errors import ExperimentStateError
from ml_ops.ab_testing.experiment import Experiment


class ExperimentStatus(StrEnum):
    """Where an experiment is in its life (see the module docstring)."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"


S = ExperimentStatus
ALLOWED: Mapping[ExperimentStatus, frozenset[ExperimentStatus]] = MappingProxyType(
    {
        S.DRAFT: frozenset({S.RUNNING, S.STOPPED}),
        S.RUNNING: frozenset({S.PAUSED, S.COMPLETED, S.STOPPED}),
        S.PAUSED: frozenset({S.RUNNING, S.COMPLETED, S.STOPPED}),
        S.COMPLETED: frozenset(),
        S.STOPPED: frozenset(),
    }
)
"""The legal moves from each state."""

_VERBS = {
    S.DRAFT: "return to draft",
    S.RUNNING: "start",
    S.PAUSED: "pause",
    S.COMPLETED: "complete",
    S.STOPPED: "stop",
}
ACTIVE = frozenset({S.RUNNING, S.PAUSED})
"""States in which results are still counted (a paused experiment's calls in flight)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of the state machine: from, to, when (UTC) and why."""

    from_status: ExperimentStatus | None
    to_status: ExperimentStatus
    at: datetime
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The transition as plain JSON types."""
        return {
            "from": None if self.from_status is None else self.from_status.value,
            "to": self.to_status.value,
            "at": self.at.isoformat(),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        """Read `to_dict`'s form back."""
        origin = data["from"]
        return cls(
            None if origin is None else S(origin),
            S(data["to"]),
            datetime.fromisoformat(data["at"]),
            str(data.get("reason", "")),
        )


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of the experiment with one set of weights, from `started_at` on."""

    index: int
    started_at: datetime
    weights: Mapping[str, float] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The period as plain JSON types."""
        return {
            "index": self.index,
            "started_at": self.started_at.isoformat(),
            "weights": dict(self.weights),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Period:
        """Read `to_dict`'s form back."""
        weights = {str(k): float(v) for k, v in data["weights"].items()}
        return cls(int(data["index"]), datetime.fromisoformat(data["started_at"]), weights)


@dataclass(frozen=True, slots=True)
class ExperimentState:
    """An experiment's definition with everything that happened to it: status, the bucket
    map and weight periods, transitions, the last decision (with its reason), the winner
    and, for prompt experiments, whether the template's label followed the winner.
    `revision` counts stored updates."""

    experiment: Experiment
    status: ExperimentStatus
    buckets: BucketMap
    periods: tuple[Period, ...]
    transitions: tuple[Transition, ...]
    created_at: datetime
    winner: str | None = None
    decision: Mapping[str, Any] | None = field(default=None, hash=False)
    promotion: Mapping[str, Any] | None = field(default=None, hash=False)
    revision: int = 0

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.experiment.name

    @property
    def period(self) -> Period:
        """The current weight period."""
        return self.periods[-1]

    @property
    def analysis_period(self) -> Period:
        """The period a decision reads: the current one, except after completion with a
        winner, whose last period (all traffic to the winner) compares nothing."""
        if self.status is S.COMPLETED and self.winner is not None and len(self.periods) > 1:
            return self.periods[-2]
        return self.periods[-1]

    @property
    def weights(self) -> dict[str, float]:
        """The weights in force now."""
        return dict(self.period.weights)

    @property
    def started(self) -> bool:
        """Whether the experiment has ever run."""
        return any(t.to_status is S.RUNNING for t in self.transitions)

    def to_dict(self) -> dict[str, Any]:
        """The state as plain JSON types (the stored form)."""
        return {
            "experiment": self.experiment.to_dict(),
            "status": self.status.value,
            "buckets": self.buckets.to_dict(),
            "periods": [p.to_dict() for p in self.periods],
            "transitions": [t.to_dict() for t in self.transitions],
            "created_at": self.created_at.isoformat(),
            "winner": self.winner,
            "decision": None if self.decision is None else dict(self.decision),
            "promotion": None if self.promotion is None else dict(self.promotion),
            "revision": self.revision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentState:
        """Read `to_dict`'s form back."""
        return cls(
            experiment=Experiment.from_dict(data["experiment"]),
            status=S(data["status"]),
            buckets=BucketMap.from_dict(data["buckets"]),
            periods=tuple(Period.from_dict(p) for p in data["periods"]),
            transitions=tuple(Transition.from_dict(t) for t in data["transitions"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            winner=data.get("winner"),
            decision=data.get("decision"),
            promotion=data.get("promotion"),
            revision=int(data.get("revision", 0)),
        )


def new_state(experiment: Experiment, now: datetime) -> ExperimentState:
    """A draft: the definition's weights as period 0, one transition (created)."""
    weights = experiment.weights
    return ExperimentState(
        experiment=experiment,
        status=S.DRAFT,
        buckets=BucketMap.build(weights),
        periods=(Period(0, now, weights),),
        transitions=(Transition(None, S.DRAFT, now, "created"),),
        created_at=now,
    )


def transition(
    state: ExperimentState,
    to: ExperimentStatus,
    now: datetime,
    *,
    reason: str = "",
    winner: str | None = None,
) -> ExperimentState:
    """`state` moved to `to` at `now`; unchanged if it is there already (see the module
    docstring); `ExperimentStateError` for a move the machine does not allow. Completing
    with a `winner` sends all traffic to it."""
    if state.status is to:
        return state
    if to not in ALLOWED[state.status]:
        raise ExperimentStateError(_refusal(state, to))
    if winner is not None:
        state.experiment.variant(winner)  # raises for an unknown name
    moved = replace(
        state,
        status=to,
        transitions=(*state.transitions, Transition(state.status, to, now, reason)),
    )
    if to is S.COMPLETED:
        moved = replace(moved, winner=winner)
        if winner is not None:
            only = {name: 1.0 if name == winner else 0.0 for name in state.weights}
            moved = with_weights(moved, only, now, allow_final=True)
    return moved


def with_weights(
    state: ExperimentState,
    weights: Mapping[str, float],
    now: datetime,
    *,
    allow_final: bool = False,
) -> ExperimentState:
    """`state` with new traffic weights: the bucket map moves the fewest units; after the
    first start a new period begins (before it, period 0 is simply replaced)."""
    if state.status in (S.COMPLETED, S.STOPPED) and not allow_final:
        raise ExperimentStateError(
            f"experiment {state.name!r} is {state.status.value}; its weights are final. "
            "Create a new experiment to change the split."
        )
    checked = _checked_weights(state, weights)
    buckets = state.buckets.rebalance(checked)
    if not state.started:
        first = Period(0, state.period.started_at, checked)
        return replace(state, buckets=buckets, periods=(first,))
    period = Period(state.period.index + 1, now, checked)
    return replace(state, buckets=buckets, periods=(*state.periods, period))


def _checked_weights(state: ExperimentState, weights: Mapping[str, float]) -> dict[str, float]:
    names = state.experiment.variant_names
    if set(weights) != set(names):
        raise ConfigurationError(
            f"experiment {state.name!r}: give a weight for each variant {names}, got "
            f"{sorted(weights)}"
        )
    checked = {}
    for name in names:
        value = weights[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0 <= value < math.inf:
            raise ConfigurationError(
                f"weight of {name!r} must be a finite number >= 0, got {value!r}"
            )
        checked[name] = float(value)
    apportion(checked)  # a positive sum
    return checked


def _refusal(state: ExperimentState, to: ExperimentStatus) -> str:
    allowed = sorted(ALLOWED[state.status])
    can = (
        " or ".join(_VERBS[s] for s in allowed)
        if allowed
        else "do nothing more: it is final; create a new experiment to run it again"
    )
    return (
        f"experiment {state.name!r} is {state.status.value}: it cannot {_VERBS[to]}; "
        f"from {state.status.value} it can {can}"
    )
