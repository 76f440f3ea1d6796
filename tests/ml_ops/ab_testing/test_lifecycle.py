"""The state machine: legal moves with their UTC times and reasons, idempotent repeats,
typed errors for illegal moves, and weight periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ai.core.clock import FakeClock
from ai.errors import ConfigurationError
from ml_ops.ab_testing import (
    ABTester,
    Experiment,
    ExperimentNotFoundError,
    ExperimentStateError,
    ExperimentStatus,
    Variant,
)
from ml_ops.ab_testing.state import ALLOWED

S = ExperimentStatus
VERBS = {
    S.RUNNING: "start_experiment",
    S.PAUSED: "pause_experiment",
    S.COMPLETED: "complete_experiment",
    S.STOPPED: "stop_experiment",
}
PATHS = {
    S.DRAFT: [],
    S.RUNNING: [S.RUNNING],
    S.PAUSED: [S.RUNNING, S.PAUSED],
    S.COMPLETED: [S.RUNNING, S.COMPLETED],
    S.STOPPED: [S.STOPPED],
}


def experiment(name: str = "exp") -> Experiment:
    return Experiment(name=name, variants=[Variant("a"), Variant("b")])


def move(tester: ABTester, name: str, to: ExperimentStatus) -> None:
    if to is S.COMPLETED:
        tester.complete_experiment(name, winner="b")
    else:
        getattr(tester, VERBS[to])(name)


def test_a_full_life_is_recorded_with_times_and_reasons(tester: ABTester, clock: FakeClock) -> None:
    tester.create_experiment(experiment())
    clock.advance(60)
    tester.start_experiment("exp", reason="launch")
    clock.advance(60)
    tester.pause_experiment("exp", reason="provider incident")
    clock.advance(60)
    tester.resume_experiment("exp")
    clock.advance(60)
    state = tester.complete_experiment("exp", winner="b", reason="b is better")
    assert state.status is S.COMPLETED and state.winner == "b"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert [(t.from_status, t.to_status, t.at, t.reason) for t in state.transitions] == [
        (None, S.DRAFT, start, "created"),
        (S.DRAFT, S.RUNNING, start + timedelta(minutes=1), "launch"),
        (S.RUNNING, S.PAUSED, start + timedelta(minutes=2), "provider incident"),
        (S.PAUSED, S.RUNNING, start + timedelta(minutes=3), ""),
        (S.RUNNING, S.COMPLETED, start + timedelta(minutes=4), "b is better"),
    ]
    assert all(t.at.tzinfo is UTC for t in state.transitions)
    assert state.weights == {"a": 0.0, "b": 1.0}  # all traffic to the winner
    assert tester.get_variant("exp", "anyone").name == "b"


@pytest.mark.parametrize("start", list(S))
@pytest.mark.parametrize("to", [S.RUNNING, S.PAUSED, S.COMPLETED, S.STOPPED])
def test_every_move_is_allowed_or_refused_by_the_table(
    tester: ABTester, start: ExperimentStatus, to: ExperimentStatus
) -> None:
    tester.create_experiment(experiment())
    for step in PATHS[start]:
        move(tester, "exp", step)
    assert tester.get_experiment("exp").status is start
    if to is start or to in ALLOWED[start]:
        move(tester, "exp", to)
        assert tester.get_experiment("exp").status is to
    else:
        with pytest.raises(ExperimentStateError, match=f"is {start.value}: it cannot"):
            move(tester, "exp", to)
        assert tester.get_experiment("exp").status is start


def test_final_states_say_what_to_do(tester: ABTester) -> None:
    tester.create_experiment(experiment())
    tester.stop_experiment("exp")
    with pytest.raises(ExperimentStateError, match="create a new experiment"):
        tester.start_experiment("exp")


def test_repeating_a_move_changes_nothing(tester: ABTester) -> None:
    tester.create_experiment(experiment())
    first = tester.start_experiment("exp")
    again = tester.start_experiment("exp")
    assert again.transitions == first.transitions
    assert again.revision == first.revision


def test_creating_again_needs_the_same_definition(tester: ABTester) -> None:
    tester.create_experiment(experiment())
    assert tester.create_experiment(experiment()).status is S.DRAFT
    changed = Experiment(name="exp", variants=[Variant("a"), Variant("c")])
    with pytest.raises(ConfigurationError, match="another definition"):
        tester.create_experiment(changed)


def test_unknown_experiments_are_named(tester: ABTester) -> None:
    tester.create_experiment(experiment("known"))
    with pytest.raises(ExperimentNotFoundError, match="'nope'; known: 'known'"):
        tester.start_experiment("nope")
    with pytest.raises(ExperimentNotFoundError):
        tester.get_variant("nope")
    tester.start_experiment("known")
    with pytest.raises(ExperimentNotFoundError, match="no variant 'c'"):
        tester.complete_experiment("known", winner="c")


def test_a_draft_serves_no_variant_and_takes_no_result(tester: ABTester) -> None:
    tester.create_experiment(experiment())
    with pytest.raises(ExperimentStateError, match="draft"):
        tester.get_variant("exp")
    with pytest.raises(ExperimentStateError, match="draft"):
        tester.track_result("exp", "a", True)


def test_paused_and_stopped_serve_the_control_without_exposures(tester: ABTester) -> None:
    tester.create_experiment(experiment())
    tester.start_experiment("exp")
    tester.pause_experiment("exp")
    assert {tester.get_variant("exp", f"u{n}").name for n in range(50)} == {"a"}
    tester.track_result("exp", "b", True)  # a call that was in flight still counts
    tester.stop_experiment("exp")
    tester.track_result("exp", "b", True)  # after the end: ignored
    summary = tester.get_experiment_summary("exp")
    assert summary["exposures"] == 0
    assert summary["variants"]["b"]["results"] == 1


def test_weight_changes_open_periods_only_after_the_start(
    tester: ABTester, clock: FakeClock
) -> None:
    tester.create_experiment(experiment())
    draft = tester.set_weights("exp", {"a": 9, "b": 1})
    assert [p.index for p in draft.periods] == [0] and draft.weights == {"a": 9.0, "b": 1.0}
    tester.start_experiment("exp")
    clock.advance(3600)
    ramped = tester.set_weights("exp", {"a": 1, "b": 1})
    assert [p.index for p in ramped.periods] == [0, 1]
    assert ramped.period.started_at == datetime(2026, 1, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="a weight for each variant"):
        tester.set_weights("exp", {"a": 1})
    for bad in (float("inf"), float("nan"), -1):
        with pytest.raises(ConfigurationError, match="weight of 'a' must be a finite number"):
            tester.set_weights("exp", {"a": bad, "b": 1})
    tester.stop_experiment("exp")
    with pytest.raises(ExperimentStateError, match="final"):
        tester.set_weights("exp", {"a": 1, "b": 1})


def test_list_by_status(tester: ABTester) -> None:
    for name in ("one", "two", "three"):
        tester.create_experiment(experiment(name))
    tester.start_experiment("two")
    assert [s.name for s in tester.list_experiments()] == ["one", "three", "two"]
    assert [s.name for s in tester.list_experiments("running")] == ["two"]
