"""What a decision does to an experiment: noted when it changes, acted on when asked.

Each evaluation (a summary, `evaluate`, or the background check of `auto_complete`
experiments) produces the engine's decision for the current period. The state keeps the
last one (`status`, `winner`, `reason`, `metric`, `at`), rewritten only when its status
or winner changes, so the reason for every step is on record. An `auto_complete`
experiment that is running and has a winner (or whose control wins) is completed in the
same transaction, which sends all traffic to the winner and plans the label move of a
prompt experiment; a process that finds it completed already leaves it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from ml_ops.ab_testing.promotion import promotion_plan
from ml_ops.ab_testing.state import ACTIVE, ExperimentState, ExperimentStatus, transition
from ml_ops.ab_testing.summary import decided_winner

StateChange = Callable[[ExperimentState], ExperimentState]


def decision_change(
    state: ExperimentState,
    decision: Mapping[str, Any] | None,
    now: datetime,
    seen_template: str | None,
) -> StateChange | None:
    """The change to store after `decision` (see the module docstring), or None when
    there is nothing to record."""
    if decision is None or state.status not in ACTIVE:
        return None
    note = {key: decision[key] for key in ("status", "winner", "reason", "metric")}
    note["at"] = now.isoformat()
    winner = decided_winner(decision)
    auto = state.experiment.auto_complete and winner is not None
    last = state.decision
    if (
        not auto
        and last is not None
        and (last["status"], last["winner"])
        == (
            note["status"],
            note["winner"],
        )
    ):
        return None

    def change(stored: ExperimentState) -> ExperimentState:
        if stored.status not in ACTIVE:
            return stored
        updated = replace(stored, decision=note)
        if not auto or stored.status is not ExperimentStatus.RUNNING or winner is None:
            return updated
        why = f"auto-complete: {note['reason']}"
        updated = transition(updated, ExperimentStatus.COMPLETED, now, reason=why, winner=winner)
        return replace(updated, promotion=promotion_plan(stored.experiment, winner, seen_template))

    return change


def completion_change(
    now: datetime, winner: str | None, reason: str, seen_template: str | None
) -> StateChange:
    """Complete by hand with `winner` (or none), planning the label move."""

    def change(stored: ExperimentState) -> ExperimentState:
        moved = transition(stored, ExperimentStatus.COMPLETED, now, reason=reason, winner=winner)
        if moved is stored or winner is None:
            return moved
        return replace(moved, promotion=promotion_plan(stored.experiment, winner, seen_template))

    return change
