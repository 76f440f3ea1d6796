"""Experiments survive restarts and are shared by processes: the same contract on SQLite
and PostgreSQL, a new `ABTester` on the same store, concurrent writers, and assignment that
agrees across processes with no coordination."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from ai.core.clock import FakeClock
from ai.errors import ConfigurationError, StoreError
from ml_ops.ab_testing import (
    Experiment,
    ExperimentNotFoundError,
    ExperimentStateError,
    ExperimentStatus,
    ExperimentStore,
    MemoryExperimentStore,
    SQLiteExperimentStore,
    Variant,
    open_experiment_store,
)
from ml_ops.ab_testing.state import new_state, transition
from ml_ops.ab_testing.totals import VariantTotals, result_totals
from tests.ml_ops.ab_testing.conftest import MakeTester

durable = pytest.mark.parametrize("location", ["sqlite", "postgres"], indirect=True)
every_store = pytest.mark.parametrize("location", ["memory", "sqlite", "postgres"], indirect=True)
ROOT = Path(__file__).resolve().parents[3]


def experiment(name: str = "exp") -> Experiment:
    return Experiment(
        name=name,
        variants=[Variant("a", model="gpt-4o-mini"), Variant("b", prompt_template="Hi {x}")],
        description="persisted",
    )


@every_store
def test_the_store_contract(durable_store: ExperimentStore, clock: FakeClock) -> None:
    state = new_state(experiment(), clock.now())
    stored, created = durable_store.create(state)
    assert created and stored == state
    again, created = durable_store.create(new_state(experiment(), clock.now()))
    assert not created and again == state
    assert durable_store.load("exp") == state and durable_store.load("nope") is None
    clock.advance(5)
    running = durable_store.update(
        "exp", lambda s: transition(s, ExperimentStatus.RUNNING, clock.now(), reason="go")
    )
    assert running.revision == 1 and running.status is ExperimentStatus.RUNNING
    assert durable_store.update("exp", lambda s: s) == running  # no change, no write
    with pytest.raises(ExperimentStateError):
        durable_store.update("exp", lambda s: transition(s, ExperimentStatus.DRAFT, clock.now()))
    assert durable_store.load("exp") == running
    with pytest.raises(ExperimentNotFoundError, match="'nope'; known: 'exp'"):
        durable_store.update("nope", lambda s: s)
    delta = result_totals(
        experiment(), success=True, latency_ms=120.0, cost=0.5, metrics={"rating": 4.0}
    )
    durable_store.add_totals({("exp", "a", 0): delta, ("exp", "b", 1): VariantTotals(exposures=2)})
    durable_store.add_totals({("exp", "a", 0): delta})
    totals = durable_store.totals("exp")
    assert set(totals) == {("a", 0), ("b", 1)}
    assert (totals[("a", 0)].results, totals[("a", 0)].successes) == (2, 2)
    assert totals[("a", 0)].metrics["rating"].total == 8.0
    assert totals[("b", 1)].exposures == 2
    assert durable_store.totals("nope") == {}
    durable_store.create(new_state(experiment("another"), clock.now()))
    assert [s.name for s in durable_store.load_all()] == ["another", "exp"]


@durable
def test_a_new_tester_sees_everything(location: str, make_tester: MakeTester) -> None:
    first = make_tester(location)
    first.create_experiment(experiment())
    first.start_experiment("exp", reason="launch")
    first.set_weights("exp", {"a": 1, "b": 3})
    chosen = first.get_variant("exp", "user-1").name
    first.track_result("exp", "a", True, 100.0, 0.01, metrics={"rating": 5.0})
    first.track_result("exp", "b", False, 300.0, 0.02)
    before = first.get_experiment_summary("exp")
    first.close()
    second = make_tester(location)
    state = second.get_experiment("exp")
    assert state.experiment == experiment()
    assert [t.to_status for t in state.transitions] == [
        ExperimentStatus.DRAFT,
        ExperimentStatus.RUNNING,
    ]
    assert state.transitions[1].reason == "launch"
    assert state.weights == {"a": 1.0, "b": 3.0} and len(state.periods) == 2
    after = second.get_experiment_summary("exp")
    assert after["variants"] == before["variants"]
    assert second.get_variant("exp", "user-1").name == chosen


@durable
def test_two_testers_share_state_and_results(location: str, make_tester: MakeTester) -> None:
    one, two = make_tester(location), make_tester(location)
    one.create_experiment(experiment())
    assert two.get_experiment("exp").status is ExperimentStatus.DRAFT  # cached as a draft
    one.start_experiment("exp")
    with pytest.raises(ExperimentStateError):
        two.track_result("exp", "a", True)  # its cache is older than the start
    two.refresh("exp")
    two.track_result("exp", "a", True)
    one.track_result("exp", "a", False)
    two.flush()
    summary = one.get_experiment_summary("exp")
    assert (summary["variants"]["a"]["results"], summary["variants"]["a"]["successes"]) == (2, 1)
    two.pause_experiment("exp")
    one.refresh("exp")
    assert {one.get_variant("exp", f"user-{n}").name for n in range(20)} == {"a"}  # control
    resumed = one.start_experiment("exp")  # from the pause the other tester stored
    assert [t.to_status.value for t in resumed.transitions][-2:] == ["paused", "running"]


@durable
def test_concurrent_writers_lose_no_counts(location: str) -> None:
    stores = [open_experiment_store(location) for _ in range(4)]
    try:
        stores[0].create(new_state(experiment(), FakeClock().now()))
        one = result_totals(experiment(), success=True, latency_ms=10.0)

        def write(store: ExperimentStore) -> None:
            for _ in range(25):
                store.add_totals(
                    {("exp", "a", 0): one, ("exp", "b", 0): VariantTotals(exposures=1)}
                )

        threads = [threading.Thread(target=write, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        totals = stores[0].totals("exp")
        assert totals[("a", 0)].results == 100 and totals[("b", 0)].exposures == 100
        assert totals[("a", 0)].latency_bins == {next(iter(one.latency_bins)): 100}
    finally:
        for store in stores:
            store.close()


@durable
def test_concurrent_transitions_serialise(location: str, clock: FakeClock) -> None:
    stores = [open_experiment_store(location) for _ in range(2)]
    try:
        stores[0].create(new_state(experiment(), clock.now()))
        stores[0].update("exp", lambda s: transition(s, ExperimentStatus.RUNNING, clock.now()))
        outcomes: list[str] = []

        def complete(store: ExperimentStore, winner: str) -> None:
            def change(s):  # type: ignore[no-untyped-def]
                return transition(s, ExperimentStatus.COMPLETED, clock.now(), winner=winner)

            try:
                outcomes.append(store.update("exp", change).winner or "")
            except ExperimentStateError:
                outcomes.append("refused")

        threads = [
            threading.Thread(target=complete, args=(s, w))
            for s, w in zip(stores, "ab", strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = stores[0].load("exp")
        assert final is not None and final.status is ExperimentStatus.COMPLETED
        # the second to commit saw the first's completion: a no-op (same state) or refused
        completions = [t for t in final.transitions if t.to_status is ExperimentStatus.COMPLETED]
        assert final.winner in outcomes and len(completions) == 1
    finally:
        for store in stores:
            store.close()


ASSIGN = """
import json, sys
from ml_ops.ab_testing import ABTester, Experiment, Variant
tester = ABTester("memory:", flush_interval=None)
tester.create_experiment(Experiment(name="split", variants=[
    Variant("a", weight=1), Variant("b", weight=2), Variant("c", weight=1)]))
tester.start_experiment("split")
print(json.dumps({f"user-{n}": tester.get_variant("split", f"user-{n}").name
                  for n in range(int(sys.argv[1]))}))
tester.close()
"""


def test_two_processes_assign_alike_without_coordination() -> None:
    def run() -> dict[str, str]:
        result = subprocess.run(
            [sys.executable, "-c", ASSIGN, "400"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return dict(json.loads(result.stdout))

    first, second = run(), run()
    assert first == second
    shares = {v: list(first.values()).count(v) / len(first) for v in "abc"}
    assert 0.17 <= shares["a"] <= 0.33 and 0.4 <= shares["b"] <= 0.6


def test_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVORA_EXPERIMENTS_STORE", raising=False)
    monkeypatch.delenv("POSTGRES_CONNECTION_STRING", raising=False)
    assert isinstance(open_experiment_store("memory:"), MemoryExperimentStore)
    default = open_experiment_store()
    assert isinstance(default, SQLiteExperimentStore)
    assert default.path == Path(".devora/experiments.db")
    folder = open_experiment_store(tmp_path)
    assert isinstance(folder, SQLiteExperimentStore)
    assert folder.path == tmp_path / "experiments.db"
    url = open_experiment_store(f"sqlite:///{tmp_path}/x.db")
    assert isinstance(url, SQLiteExperimentStore) and url.path == tmp_path / "x.db"
    monkeypatch.setenv("DEVORA_EXPERIMENTS_STORE", "memory:")
    assert isinstance(open_experiment_store(), MemoryExperimentStore)
    for bad in ("redis://localhost", "experiments.txt", "sqlite://x.db", "memory:x"):
        with pytest.raises(ConfigurationError):
            open_experiment_store(bad)


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = SQLiteExperimentStore(tmp_path / "x.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.load("exp")


def test_an_unwritable_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = SQLiteExperimentStore(blocker / "x.db")
    with pytest.raises(StoreError, match="SQLite experiment store"):
        store.load("exp")
    store.close()


def test_memory_states_are_values(clock: FakeClock) -> None:
    store = MemoryExperimentStore()
    state = new_state(experiment(), clock.now())
    store.create(state)
    assert replace(state, revision=5) != store.load("exp")
