"""Decisions through the statistics engine: the winner only with enough data, significance
in the chosen mode and a healthy split; the reason on record; auto-complete; CUPED; a
bandit with no p-values."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from ml_ops.ab_testing import ABTester, Experiment, ExperimentStatus, MemoryExperimentStore, Variant
from ml_ops.ab_testing.totals import CovariateSums, MetricSums, VariantTotals
from tests.ml_ops.ab_testing.conftest import MakeTester

# The worked example of docs/ab-testing.md: 62% -> 64.9%, 5,933 units needed per variant.
CONTROL = VariantTotals(results=6_189, successes=3_837)
B = VariantTotals(results=6_210, successes=4_031)
WINNER_REASON = (
    "variant B beats control on success_rate: +4.7% (95% CI +1.9% to +7.5%), p=7.5e-04 "
    "after Holm; n=6,189/6,210 (control/B) >= 5,933 needed; no SRM (p=0.85)"
)


def start(tester: ABTester, **changes: object) -> None:
    settings: dict[str, object] = {
        "name": "exp",
        "variants": [Variant("control"), Variant("B")],
        "baseline": 0.62,
        "min_detectable_effect": 0.04,
    }
    settings.update(changes)
    tester.create_experiment(Experiment(**settings))  # type: ignore[arg-type]
    tester.start_experiment("exp")


def load(store: MemoryExperimentStore, **arms: VariantTotals) -> None:
    store.add_totals({("exp", name, 0): totals for name, totals in arms.items()})


@pytest.fixture
def store() -> MemoryExperimentStore:
    return MemoryExperimentStore()


@pytest.fixture
def on_store(make_tester: MakeTester, store: MemoryExperimentStore) -> ABTester:
    return make_tester(store)


def test_a_winner_with_the_engines_reason(on_store: ABTester, store: MemoryExperimentStore) -> None:
    start(on_store)
    load(store, control=CONTROL, B=B)
    summary = on_store.get_experiment_summary("exp")
    assert summary["minimum_sample_size"] == 5_933
    assert summary["planning"]["source"] == "planned"
    decision = summary["decision"]
    assert (decision["status"], decision["winner"]) == ("winner", "B")
    assert decision["reason"] == WINNER_REASON
    assert summary["winner"] == "B" and summary["status"] == "running"  # not acted on
    assert summary["bayesian"]["B"]["chance_to_beat_control"] > 0.999
    assert summary["last_decision"]["reason"] == WINNER_REASON  # recorded with the state
    json.dumps(summary)


def test_sequential_mode_uses_always_valid_intervals(
    on_store: ABTester, store: MemoryExperimentStore
) -> None:
    start(on_store, mode="sequential")
    load(store, control=CONTROL, B=B)
    decision = on_store.evaluate("exp")
    assert decision is not None and decision["winner"] == "B"
    assert "95% always-valid CI +0.4% to +9.0%" in decision["reason"]
    assert decision["sequential_tuning_n"] == 2 * 5_933


def test_no_winner_before_the_minimum_sample(
    on_store: ABTester, store: MemoryExperimentStore
) -> None:
    start(on_store)
    load(
        store,
        control=VariantTotals(results=2_050, successes=1_271),
        B=VariantTotals(results=2_071, successes=1_380),
    )
    decision = on_store.evaluate("exp")
    assert decision is not None and decision["status"] == "insufficient_sample"
    assert decision["reason"].startswith("no winner yet: n=2,050/2,071 (control/B), below the")


def test_sample_ratio_mismatch_blocks_the_winner(
    on_store: ABTester, store: MemoryExperimentStore
) -> None:
    start(on_store, auto_complete=True)
    load(
        store,
        control=VariantTotals(results=6_450, successes=4_000),
        B=VariantTotals(results=5_950, successes=3_870),
    )
    summary = on_store.get_experiment_summary("exp")
    decision = summary["decision"]
    assert decision["variants"][0]["significant"]  # B looks better
    assert (decision["status"], decision["winner"]) == ("sample_ratio_mismatch", None)
    assert decision["reason"].startswith("no winner: sample ratio mismatch (p=7.1e-06 < 0.001)")
    assert summary["periods"][0]["srm"]["mismatch"] is True
    assert summary["status"] == "running"  # auto-complete did not act


def test_an_arm_without_results_is_a_mismatch_too(tester: ABTester) -> None:
    start(tester)
    for _ in range(40):
        tester.track_result("exp", "control", True)
    decision = tester.evaluate("exp")
    assert decision is not None and decision["status"] == "sample_ratio_mismatch"


def test_auto_complete_sends_all_traffic_to_the_winner(
    on_store: ABTester, store: MemoryExperimentStore
) -> None:
    start(on_store, auto_complete=True)
    load(store, control=CONTROL, B=B)
    summary = on_store.get_experiment_summary("exp")
    assert summary["status"] == "completed" and summary["winner"] == "B"
    assert summary["weights"] == {"control": 0.0, "B": 1.0}
    assert summary["transitions"][-1]["reason"] == f"auto-complete: {WINNER_REASON}"
    assert {on_store.get_variant("exp", f"user-{n}").name for n in range(100)} == {"B"}
    state = on_store.get_experiment("exp")
    assert state.status is ExperimentStatus.COMPLETED and state.decision is not None
    assert state.promotion is None  # not a prompt experiment


def test_a_decision_is_rewritten_only_when_it_changes(
    on_store: ABTester, store: MemoryExperimentStore
) -> None:
    start(on_store)
    on_store.get_experiment_summary("exp")
    first = on_store.get_experiment("exp").revision
    on_store.get_experiment_summary("exp")
    assert on_store.get_experiment("exp").revision == first
    load(store, control=CONTROL, B=B)
    on_store.get_experiment_summary("exp")
    assert on_store.get_experiment("exp").revision == first + 1


def test_cuped_with_a_covariate(on_store: ABTester, store: MemoryExperimentStore) -> None:
    start(on_store, primary_metric="cost", covariate="last_week_cost", minimum_sample_size=500)
    rng = np.random.default_rng(11)
    arms = {}
    for name, effect in (("control", 0.0), ("B", -0.05)):
        x = rng.gamma(2.0, 0.5, size=2_000)
        y = np.maximum(x + effect + rng.normal(0, 0.2, size=2_000), 0)
        covariate = CovariateSums()
        for yi, xi in zip(y, x, strict=True):
            covariate.add(float(yi), float(xi))
        arms[name] = VariantTotals(
            results=2_000,
            successes=2_000,
            cost=MetricSums(2_000, float(y.sum()), float((y * y).sum())),
            covariate=covariate,
        )
    load(store, **arms)
    summary = on_store.get_experiment_summary("exp")
    decision = summary["decision"]
    assert decision["cuped"] is not None and decision["cuped"]["variance_reduction"] > 0.5
    assert (decision["status"], decision["winner"]) == ("winner", "B")  # lower cost wins
    assert decision["direction"] == "lower_is_better"
    assert "last_week_cost" not in summary["secondary"]
    assert set(summary["secondary"]) == {"success_rate"}
    # The Bayesian view sees the same CUPED-adjusted data, so it agrees with the decision
    # (on the raw costs, whose spread the covariate explains, its interval spans 0).
    [(name, bayes)] = summary["bayesian"].items()
    [outcome] = decision["variants"]
    welch = outcome["comparison"]["difference_ci"]
    credible = bayes["difference_interval"]
    assert name == "B" and bayes["chance_to_beat_control"] > 0.99
    assert credible["upper"] - credible["lower"] == pytest.approx(
        welch["upper"] - welch["lower"], rel=0.05
    )  # unadjusted, the interval would be 1 / sqrt(1 - reduction) ~ 1.8x wider


def test_covariates_come_from_track_result(tester: ABTester) -> None:
    start(tester, primary_metric="cost", covariate="last_week_cost", minimum_sample_size=2)
    tester.track_result("exp", "control", True, cost=0.5, metrics={"last_week_cost": 0.4})
    tester.track_result("exp", "control", True, cost=0.7, metrics={"last_week_cost": 0.6})
    tester.track_result("exp", "B", True, cost=0.3)  # no covariate: not in the CUPED sums
    decision = tester.evaluate("exp")
    assert decision is not None and decision["sample_sizes"] == {"control": 2, "B": 0}


def test_secondary_metrics_are_reported_not_acted_on(tester: ABTester) -> None:
    start(tester, minimum_sample_size=10)
    for n in range(60):
        tester.track_result("exp", "control", n % 2 == 0, latency_ms=100 + n, cost=0.01)
        tester.track_result("exp", "B", n % 2 == 0, latency_ms=300 + n, cost=0.01)
    summary = tester.get_experiment_summary("exp")
    latency = summary["secondary"]["latency_ms"]
    assert latency["direction"] == "lower_is_better"
    assert (latency["status"], latency["winner"]) == ("control_wins", "control")
    assert summary["decision"]["status"] == "not_significant"
    assert summary["winner"] is None


def test_a_bandit_reports_its_allocation_and_no_p_values(
    on_store: ABTester, store: MemoryExperimentStore
) -> None:
    start(on_store, allocation="bandit")
    load(
        store,
        control=VariantTotals(results=500, successes=250),
        B=VariantTotals(results=500, successes=300),
    )
    summary = on_store.get_experiment_summary("exp")
    assert summary["allocation"] == "bandit" and summary["decision"] is None
    assert summary["bandit"]["fixed_horizon_p_values_apply"] is False
    assert summary["bandit"]["weights"]["B"] > 0.9
    assert '"p_value"' not in json.dumps(summary)
    assert "do not apply" in summary["note"]
    on_store.refresh("exp")
    served = [on_store.get_variant("exp", f"user-{n}").name for n in range(2_000)]
    assert served.count("B") > 0.85 * len(served)  # traffic follows the bandit


def test_an_unplanned_experiment_says_what_to_give(tester: ABTester) -> None:
    start(tester, baseline=None)
    tester.track_result("exp", "control", True)
    tester.track_result("exp", "B", True)
    summary = tester.get_experiment_summary("exp")
    assert summary["minimum_sample_size"] is None
    assert "give Experiment(baseline=...)" in summary["decision"]["reason"]


def test_the_background_thread_completes_an_auto_complete_experiment(
    make_tester: MakeTester, store: MemoryExperimentStore
) -> None:
    tester = make_tester(store, flush_interval=0.01)
    start(tester, auto_complete=True)
    load(store, control=CONTROL, B=B)
    tester.track_result("exp", "B", True)  # new results: the thread flushes, then evaluates
    for _ in range(1_000):  # bounded wait, no timing asserted
        state = store.load("exp")
        if state is not None and state.status is ExperimentStatus.COMPLETED:
            break
        time.sleep(0.01)
    state = store.load("exp")
    assert state is not None and state.status is ExperimentStatus.COMPLETED
    assert state.winner == "B"


def test_an_unplanned_mismatch_names_no_made_up_sample_size(
    on_store: ABTester, store: MemoryExperimentStore
) -> None:
    start(on_store, baseline=None)
    load(
        store,
        control=VariantTotals(results=100, successes=100),  # rate 1: cannot plan
        B=VariantTotals(results=10, successes=5),
    )
    decision = on_store.evaluate("exp")
    assert decision is not None and decision["status"] == "sample_ratio_mismatch"
    assert decision["minimum_sample_size"] is None
    assert decision["reason"].startswith("no winner: sample ratio mismatch")
    assert "cannot be planned" in decision["reason"] and "needed" not in decision["reason"]
