"""decide(): a winner only with enough units, significance in the chosen mode and no SRM."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml_ops.ab_testing.statistics import (
    AnalysisMode,
    DecisionPolicy,
    DecisionStatus,
    Direction,
    MeanSummary,
    ProportionSummary,
    decide,
    holm_adjust,
    minimum_sample_size_proportions,
    two_proportion_ztest,
)

NEEDED = minimum_sample_size_proportions(0.62, 0.04)  # 5,933 per variant
ARMS = {"control": ProportionSummary(6_189, 3_837), "B": ProportionSummary(6_210, 4_031)}


def test_minimum_sample_size_of_the_example() -> None:
    assert NEEDED == 5_933


def test_winner_when_every_condition_holds() -> None:
    decision = decide("success_rate", ARMS, control="control", minimum_sample_size=NEEDED)
    assert decision.status is DecisionStatus.WINNER
    assert decision.winner == "B"
    assert decision.reason == (
        "variant B beats control on success_rate: +4.7% (95% CI +1.9% to +7.5%), "
        "p=7.5e-04 after Holm; n=6,189/6,210 (control/B) >= 5,933 needed; no SRM (p=0.85)"
    )
    payload = json.loads(json.dumps(decision.to_dict(), allow_nan=False))
    assert payload["winner"] == "B"
    assert payload["status"] == "winner"
    assert payload["variants"][0]["comparison"]["method"] == "two_proportion_z"


def test_no_winner_below_the_minimum_sample_size() -> None:
    early = {"control": ProportionSummary(2_050, 1_271), "B": ProportionSummary(2_071, 1_380)}
    decision = decide("success_rate", early, control="control", minimum_sample_size=NEEDED)
    assert two_proportion_ztest(early["control"], early["B"]).p_value < 0.05  # significant
    assert decision.status is DecisionStatus.INSUFFICIENT_SAMPLE
    assert decision.winner is None
    assert decision.reason.startswith("no winner yet: n=2,050/2,071 (control/B), below the 5,933")
    assert "not final" in decision.reason


def test_no_winner_with_sample_ratio_mismatch() -> None:
    skewed = {"control": ProportionSummary(6_450, 3_999), "B": ProportionSummary(5_950, 3_868)}
    decision = decide("success_rate", skewed, control="control", minimum_sample_size=NEEDED)
    assert decision.variants[0].significant  # B looks better, but the split is broken
    assert decision.status is DecisionStatus.SAMPLE_RATIO_MISMATCH
    assert decision.winner is None
    assert decision.srm.mismatch
    assert "sample ratio mismatch (p=7.1e-06 < 0.001)" in decision.reason
    assert "observed 6,450/5,950 vs expected 6,200/6,200" in decision.reason


def test_configured_weights_are_what_srm_checks() -> None:
    unequal = {"control": ProportionSummary(8_000, 4_960), "B": ProportionSummary(2_000, 1_300)}
    weights = {"control": 0.8, "B": 0.2}
    ok = decide(
        "success_rate", unequal, control="control", minimum_sample_size=1_500, weights=weights
    )
    assert not ok.srm.mismatch
    assert decide(
        "success_rate", unequal, control="control", minimum_sample_size=1_500
    ).srm.mismatch


def test_not_significant_is_no_winner() -> None:
    flat = {"control": ProportionSummary(6_000, 3_720), "B": ProportionSummary(6_000, 3_740)}
    decision = decide("success_rate", flat, control="control", minimum_sample_size=NEEDED)
    assert decision.status is DecisionStatus.NOT_SIGNIFICANT
    assert decision.winner is None
    assert decision.reason.startswith("no winner: no variant differs significantly from control")


def test_holm_across_several_variants() -> None:
    arms = {**ARMS, "C": ProportionSummary(6_175, 3_890), "D": ProportionSummary(6_200, 3_900)}
    decision = decide("success_rate", arms, control="control", minimum_sample_size=NEEDED)
    raw = [v.comparison.p_value for v in decision.variants]
    assert [v.adjusted_p_value for v in decision.variants] == list(holm_adjust(raw))
    assert decision.winner == "B"
    assert "others: C" in decision.reason
    assert "n=6,189/6,210/6,175/6,200 (control/B/C/D)" in decision.reason


def test_sequential_mode_uses_always_valid_p_values() -> None:
    policy = DecisionPolicy(mode=AnalysisMode.SEQUENTIAL)
    decision = decide(
        "success_rate", ARMS, control="control", minimum_sample_size=NEEDED, policy=policy
    )
    assert decision.winner == "B"
    assert decision.sequential_tuning_n == 2 * NEEDED
    assert "always-valid p=0.019 after Holm" in decision.reason
    fixed = decide("success_rate", ARMS, control="control", minimum_sample_size=NEEDED)
    assert decision.variants[0].comparison.p_value > fixed.variants[0].comparison.p_value


def test_control_wins_when_every_variant_is_worse() -> None:
    worse = {"control": ProportionSummary(6_210, 4_031), "B": ProportionSummary(6_189, 3_837)}
    decision = decide("success_rate", worse, control="control", minimum_sample_size=NEEDED)
    assert decision.status is DecisionStatus.CONTROL_WINS
    assert decision.winner == "control"
    assert decision.reason.startswith("control beats every variant on success_rate: B -4.")


def test_lower_is_better_means_with_cuped() -> None:
    rng = np.random.default_rng(12)
    arms = {}
    for name, effect in (("control", 0.0), ("cheap", -0.0004)):
        before = rng.gamma(2.0, 0.005, size=3_000)  # last month's cost per user
        cost = 0.8 * before + rng.gamma(2.0, 0.001, size=3_000) + effect
        arms[name] = MeanSummary.from_values(cost, covariate=before)
    policy = DecisionPolicy(direction=Direction.LOWER_IS_BETTER)
    decision = decide("cost", arms, control="control", minimum_sample_size=2_000, policy=policy)
    assert decision.cuped is not None
    assert decision.cuped.variance_reduction > 0.8
    assert decision.winner == "cheap"
    assert decision.reason.startswith("variant cheap beats control on cost: -")
    without = decide(
        "cost",
        arms,
        control="control",
        minimum_sample_size=2_000,
        policy=DecisionPolicy(direction=Direction.LOWER_IS_BETTER, use_cuped=False),
    )
    assert without.cuped is None
    assert without.variants[0].comparison.p_value > decision.variants[0].comparison.p_value
    json.dumps(decision.to_dict(), allow_nan=False)


def test_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="control"):
        decide("m", ARMS, control="A", minimum_sample_size=10)
    with pytest.raises(TypeError, match="same kind"):
        decide(
            "m",
            {"control": ProportionSummary(10, 1), "B": MeanSummary(10, 1.0, 1.0)},
            control="control",
            minimum_sample_size=10,
        )
    with pytest.raises(ValueError, match="weights"):
        decide("m", ARMS, control="control", minimum_sample_size=10, weights={"control": 1.0})
    with pytest.raises(ValueError, match="alpha"):
        DecisionPolicy(alpha=0.0)
