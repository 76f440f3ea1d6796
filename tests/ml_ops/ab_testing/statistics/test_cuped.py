"""CUPED: less variance, no bias."""

from __future__ import annotations

import numpy as np
import pytest

from ml_ops.ab_testing.statistics import MeanSummary, cuped_adjust, welch_ttest

EFFECT = 0.1


def experiment(rng: np.random.Generator, n: int = 1_000) -> dict[str, MeanSummary]:
    """Pre-period x and outcome y correlated at about 0.8, a true effect of 0.1."""
    arms = {}
    for name, effect in (("control", 0.0), ("treatment", EFFECT)):
        x = rng.normal(10.0, 2.0, size=n)
        y = 5.0 + 0.4 * x + rng.normal(0.0, 0.6, size=n) + effect
        arms[name] = MeanSummary.from_values(y, covariate=x)
    return arms


def test_reduces_variance_and_stays_unbiased() -> None:
    rng = np.random.default_rng(42)
    raw, adjusted, reported = [], [], []
    for _ in range(500):
        arms = experiment(rng)
        cuped = cuped_adjust(arms).adjusted
        raw.append(welch_ttest(arms["control"], arms["treatment"]).difference)
        result = welch_ttest(cuped["control"], cuped["treatment"])
        adjusted.append(result.difference)
        reported.append((result.difference_ci.upper - result.difference) / 1.96)
    raw_var, adjusted_var = np.var(raw), np.var(adjusted)
    print(f"variance of the difference: raw {raw_var:.2e}, CUPED {adjusted_var:.2e}")
    assert adjusted_var < 0.5 * raw_var
    assert np.mean(adjusted) == pytest.approx(EFFECT, abs=3 * np.std(adjusted) / np.sqrt(500))
    assert np.mean(reported) == pytest.approx(np.sqrt(adjusted_var), rel=0.1)


def test_adjusted_summaries_are_the_sums_of_adjusted_values() -> None:
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=200), rng.normal(size=300)]
    ys = [x * 2 + rng.normal(size=x.size) for x in xs]
    arms = {
        str(i): MeanSummary.from_values(y, covariate=x)
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    }
    result = cuped_adjust(arms)
    x_mean = np.concatenate(xs).mean()
    within_cov = sum(((x - x.mean()) * (y - y.mean())).sum() for x, y in zip(xs, ys, strict=True))
    within_var = sum(((x - x.mean()) ** 2).sum() for x in xs)
    assert result.theta == pytest.approx(within_cov / within_var)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        direct = MeanSummary.from_values(y - result.theta * (x - x_mean))
        assert result.adjusted[str(i)].mean == pytest.approx(direct.mean)
        assert result.adjusted[str(i)].variance == pytest.approx(direct.variance)
    assert 0.7 < result.variance_reduction < 0.9


def test_needs_covariates_everywhere() -> None:
    with_x = MeanSummary.from_values([1.0, 2.0], covariate=[1.0, 1.5])
    without = MeanSummary.from_values([1.0, 2.0])
    with pytest.raises(ValueError, match="missing"):
        cuped_adjust({"a": with_x, "b": without})
