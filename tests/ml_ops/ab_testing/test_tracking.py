"""Results, by hand and from tagged records: kept as sufficient statistics and reported
per variant with the right numbers."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from ai.core.records import RecordBus
from ai.errors import ConfigurationError
from ml_ops.ab_testing import ABTester, Experiment, MemoryExperimentStore, Variant
from tests.ml_ops.ab_testing.conftest import MakeTester
from tests.ml_ops.ab_testing.records import tagged_record


def started(tester: ABTester, **changes: object) -> Experiment:
    settings: dict[str, object] = {
        "name": "exp",
        "variants": [Variant("a", label="production"), Variant("b", label="staging")],
    }
    settings.update(changes)
    experiment = Experiment(**settings)  # type: ignore[arg-type]
    tester.create_experiment(experiment)
    tester.start_experiment("exp")
    return experiment


def test_per_variant_statistics(tester: ABTester) -> None:
    started(tester)
    rng = np.random.default_rng(3)
    latencies = rng.lognormal(6, 0.5, size=400)
    costs = rng.uniform(0.001, 0.01, size=400)
    ratings = rng.integers(1, 6, size=400).astype(float)
    successes = rng.random(400) < 0.7
    for ok, latency, cost, rating in zip(successes, latencies, costs, ratings, strict=True):
        tester.track_result(
            "exp", "a", bool(ok), float(latency), float(cost), metrics={"rating": float(rating)}
        )
    summary = tester.get_experiment_summary("exp")
    json.dumps(summary)
    a = summary["variants"]["a"]
    assert a["results"] == 400 and a["successes"] == int(successes.sum())
    assert a["success_rate"] == pytest.approx(successes.mean())
    lower, upper = proportion_confint(int(successes.sum()), 400, method="wilson")
    assert a["success_rate_ci"] == pytest.approx({"lower": lower, "upper": upper})
    assert a["latency_ms"]["mean"] == pytest.approx(latencies.mean())
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        exact = float(np.quantile(latencies, q, method="lower"))
        assert abs(a["latency_ms"][name] - exact) <= 0.011 * exact
    assert a["cost"]["total"] == pytest.approx(costs.sum())
    assert a["cost"]["mean"] == pytest.approx(costs.mean())
    assert a["metrics"]["rating"]["mean"] == pytest.approx(ratings.mean())
    assert a["metrics"]["rating"]["std"] == pytest.approx(ratings.std(ddof=1))
    assert summary["variants"]["b"]["results"] == 0


def test_feedback_adds_metrics_without_results(tester: ABTester) -> None:
    started(tester)
    tester.track_result("exp", "b", True)
    tester.track_metrics("exp", "b", {"rating": 5.0})
    tester.track_metrics("exp", "b", {"rating": 3.0})
    b = tester.get_experiment_summary("exp")["variants"]["b"]
    assert b["results"] == 1
    assert b["metrics"]["rating"] == {"count": 2, "mean": 4.0, "std": pytest.approx(math.sqrt(2))}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"latency_ms": -1.0}, "latency_ms must be >= 0"),
        ({"cost": float("nan")}, "cost must be a finite number"),
        ({"metrics": {"cost": 1.0}}, "built in"),
        ({"metrics": {"rating": "good"}}, "rating must be a finite number"),
        ({"success": 1}, "success must be True or False"),
    ],
)
def test_bad_results_are_refused(
    tester: ABTester, arguments: dict[str, object], message: str
) -> None:
    started(tester)
    settings: dict[str, object] = {"success": True}
    settings.update(arguments)
    with pytest.raises(ConfigurationError, match=message):
        tester.track_result("exp", "a", **settings)  # type: ignore[arg-type]


def test_exposures_come_from_assignments(tester: ABTester) -> None:
    started(tester)
    for n in range(300):
        tester.get_variant("exp", f"user-{n}")
    tester.get_variant("exp", "user-1")
    summary = tester.get_experiment_summary("exp")
    assert summary["exposures"] == 301
    exposures = summary["periods"][0]["exposures"]
    assert 100 <= exposures["a"] <= 200 and exposures["a"] + exposures["b"] == 301


def test_records_count_by_their_tags_once_each(tester: ABTester) -> None:
    started(tester)
    bus = RecordBus()
    tester.attach(bus)
    ok = tagged_record("exp", "a", latency_ms=200.0, cost=0.002)
    bus.emit(ok)
    bus.emit(ok)  # the same request id again (the guard's after and the bus)
    tester.observe(ok)
    bus.emit(tagged_record("exp", "staging", success=False, latency_ms=900.0))  # by label
    bus.emit(tagged_record("exp", "b", refused=True))  # never reached the variant
    bus.emit(tagged_record(None, None))  # not in an experiment
    bus.emit(tagged_record("other", "a"))  # an experiment this store does not know
    bus.emit(tagged_record("exp", "c"))  # not a variant of it
    variants = tester.get_experiment_summary("exp")["variants"]
    assert (variants["a"]["results"], variants["a"]["successes"]) == (1, 1)
    assert variants["a"]["cost"]["total"] == pytest.approx(0.002)
    assert (variants["b"]["results"], variants["b"]["successes"]) == (1, 0)
    assert variants["b"]["latency_ms"]["mean"] == 900.0


def test_results_flush_in_the_background(make_tester: MakeTester) -> None:
    store = MemoryExperimentStore()
    tester = make_tester(store, flush_interval=0.01)
    started(tester)
    tester.track_result("exp", "a", True)
    for _ in range(500):  # bounded wait for the background thread, no timing asserted
        if store.totals("exp"):
            break
        time.sleep(0.01)
    assert store.totals("exp")[("a", 0)].results == 1


def test_a_failing_flush_keeps_the_results(make_tester: MakeTester) -> None:
    class Flaky(MemoryExperimentStore):
        fail = True

        def add_totals(self, deltas):  # type: ignore[no-untyped-def]
            if self.fail:
                from ai.errors import StoreError

                raise StoreError("down")
            super().add_totals(deltas)

    store = Flaky()
    tester = make_tester(store)
    started(tester)
    tester.track_result("exp", "a", True)
    from ai.errors import StoreError

    with pytest.raises(StoreError):
        tester.flush()
    tester.track_result("exp", "a", False)
    store.fail = False
    tester.flush()
    assert store.totals("exp")[("a", 0)].results == 2


def test_records_fall_in_the_period_of_their_time(tester: ABTester) -> None:
    started(tester)
    first = tagged_record("exp", "a")
    tester.observe(first)
    from ai.core.clock import FakeClock

    clock = tester._clock
    assert isinstance(clock, FakeClock)
    clock.advance(3600)
    tester.set_weights("exp", {"a": 1, "b": 3})
    later = replace(tagged_record("exp", "b"), timestamp=clock.now())
    tester.observe(later)
    periods = tester.get_experiment_summary("exp")["periods"]
    assert [p["results"] for p in periods] == [{"a": 1, "b": 0}, {"a": 0, "b": 1}]
    assert periods[1]["weights"] == {"a": 1.0, "b": 3.0}


async def test_a_summary_from_the_event_store(tester: ABTester) -> None:
    from ml_ops.store import MemoryEventStore

    started(tester)
    events = MemoryEventStore()
    await events.append(
        [
            tagged_record("exp", "a", latency_ms=100.0),
            tagged_record("exp", "staging", success=False),
            tagged_record("exp", "b", refused=True),
            tagged_record("other", "a"),
        ]
    )
    summary = await tester.summary_from_store("exp", events)
    variants = summary["variants"]
    assert (variants["a"]["results"], variants["b"]["results"]) == (1, 1)
    assert variants["b"]["successes"] == 0 and summary["exposures"] == 0
    assert tester.get_experiment_summary("exp")["results"] == 0  # nothing was written
