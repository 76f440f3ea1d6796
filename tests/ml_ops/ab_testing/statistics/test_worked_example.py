"""The worked example of docs/ab-testing.md ("Worked example"), number for number."""

from __future__ import annotations

import pytest

from ml_ops.ab_testing.statistics import (
    AnalysisMode,
    DecisionPolicy,
    EffectScale,
    ProportionSummary,
    bayesian_proportions,
    decide,
    minimum_sample_size_proportions,
    sample_ratio_mismatch,
    sequence_multiplier,
    sequential_proportions,
    thompson_weights,
    two_proportion_ztest,
)

ARMS = {"control": ProportionSummary(6_189, 3_837), "B": ProportionSummary(6_210, 4_031)}
NEEDED = 5_933


def test_plan() -> None:
    assert minimum_sample_size_proportions(0.62, 0.04, scale=EffectScale.RELATIVE) == NEEDED


def test_fixed_horizon_numbers() -> None:
    fixed = two_proportion_ztest(ARMS["control"], ARMS["B"])
    assert (round(fixed.control_mean, 4), round(fixed.treatment_mean, 4)) == (0.62, 0.6491)
    assert round(fixed.difference, 4) == 0.0291
    assert (round(fixed.difference_ci.lower, 4), round(fixed.difference_ci.upper, 4)) == (
        0.0122,
        0.0461,
    )
    assert fixed.relative_lift == pytest.approx(0.0470, abs=5e-5)
    assert fixed.relative_lift_ci is not None
    assert fixed.relative_lift_ci.lower == pytest.approx(0.0190, abs=5e-5)
    assert fixed.relative_lift_ci.upper == pytest.approx(0.0750, abs=5e-5)
    assert round(fixed.statistic, 2) == 3.37
    assert f"{fixed.p_value:.1e}" == "7.5e-04"


def test_sequential_numbers() -> None:
    result = sequential_proportions(ARMS["control"], ARMS["B"], tuning_n=2 * NEEDED)
    assert round(sequence_multiplier(6_189 + 6_210, tuning_n=2 * NEEDED), 2) == 3.04
    assert result.difference_ci.lower == pytest.approx(0.0029, abs=5e-5)
    assert result.difference_ci.upper == pytest.approx(0.0554, abs=5e-5)
    assert result.relative_lift_ci is not None
    assert result.relative_lift_ci.lower == pytest.approx(0.0037, abs=5e-5)
    assert result.relative_lift_ci.upper == pytest.approx(0.0904, abs=5e-5)
    assert round(result.p_value, 3) == 0.019


def test_srm_bayes_and_bandit_numbers() -> None:
    srm = sample_ratio_mismatch([6_189, 6_210], [0.5, 0.5])
    assert (round(srm.chi_square, 3), round(srm.p_value, 2), srm.mismatch) == (0.036, 0.85, False)
    bayes = bayesian_proportions(ARMS["control"], ARMS["B"])
    assert round(bayes.chance_to_beat_control, 4) == 0.9995
    assert f"{bayes.expected_loss_treatment:.1e}" == "7.9e-07"
    assert round(bayes.expected_loss_control, 3) == 0.029
    weights = thompson_weights(ARMS, floor=0.05).weights
    assert (round(weights["control"], 3), round(weights["B"], 3)) == (0.05, 0.95)


def test_decision_reasons() -> None:
    fixed = decide("success_rate", ARMS, control="control", minimum_sample_size=NEEDED)
    assert fixed.reason == (
        "variant B beats control on success_rate: +4.7% (95% CI +1.9% to +7.5%), p=7.5e-04 "
        "after Holm; n=6,189/6,210 (control/B) >= 5,933 needed; no SRM (p=0.85)"
    )
    policy = DecisionPolicy(mode=AnalysisMode.SEQUENTIAL)
    sequential = decide(
        "success_rate", ARMS, control="control", minimum_sample_size=NEEDED, policy=policy
    )
    assert sequential.reason == (
        "variant B beats control on success_rate: +4.7% (95% always-valid CI +0.4% to +9.0%), "
        "always-valid p=0.019 after Holm; n=6,189/6,210 (control/B) >= 5,933 needed; no SRM "
        "(p=0.85)"
    )
    early = {"control": ProportionSummary(2_050, 1_271), "B": ProportionSummary(2_071, 1_380)}
    assert decide("success_rate", early, control="control", minimum_sample_size=NEEDED).reason == (
        "no winner yet: n=2,050/2,071 (control/B), below the 5,933 needed for control, B; no SRM "
        "(p=0.74); estimates so far (not final): B +7.5% (95% CI +2.6% to +12.4%), p=0.002 after "
        "Holm"
    )
    skewed = {"control": ProportionSummary(6_450, 3_999), "B": ProportionSummary(5_950, 3_868)}
    broken = decide("success_rate", skewed, control="control", minimum_sample_size=NEEDED)
    assert broken.reason.startswith(
        "no winner: sample ratio mismatch (p=7.1e-06 < 0.001): observed 6,450/5,950 vs expected "
        "6,200/6,200 (control/B); fix assignment or logging before trusting any comparison; "
    )
    assert "p=5.1e-04 after Holm" in broken.reason
