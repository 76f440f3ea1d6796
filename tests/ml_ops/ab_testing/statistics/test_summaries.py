"""Summaries: built from raw arrays, validated, mergeable by addition."""

from __future__ import annotations

import numpy as np
import pytest

from ml_ops.ab_testing.statistics import MeanSummary, ProportionSummary


def test_proportion_summary_from_outcomes() -> None:
    summary = ProportionSummary.from_outcomes([True, False, True, True])
    assert summary == ProportionSummary(n=4, successes=3)
    assert summary.rate == 0.75
    assert summary.variance == pytest.approx(0.1875)
    assert ProportionSummary.from_outcomes(np.array([0, 1, 1])) == ProportionSummary(3, 2)


@pytest.mark.parametrize(("n", "successes"), [(-1, 0), (3, 4), (3, -1)])
def test_proportion_summary_rejects_impossible_counts(n: int, successes: int) -> None:
    with pytest.raises(ValueError, match=r"must be >= 0|exceed"):
        ProportionSummary(n, successes)


def test_outcomes_must_be_binary() -> None:
    with pytest.raises(ValueError, match="0/1"):
        ProportionSummary.from_outcomes([0, 2])


def test_mean_summary_matches_numpy() -> None:
    values = np.random.default_rng(0).lognormal(size=500)
    summary = MeanSummary.from_values(values)
    assert summary.mean == pytest.approx(values.mean(), rel=1e-12)
    assert summary.variance == pytest.approx(values.var(ddof=1), rel=1e-9)
    assert not summary.has_covariate


def test_mean_summary_with_covariate() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=100)
    y = 2 * x + rng.normal(size=100)
    summary = MeanSummary.from_values(y, covariate=x)
    assert summary.has_covariate
    assert summary.sum_xy == pytest.approx(float((x * y).sum()))
    with pytest.raises(ValueError, match="shape"):
        MeanSummary.from_values(y, covariate=x[:50])


def test_covariate_sums_come_all_or_none() -> None:
    with pytest.raises(ValueError, match="all of sum_x"):
        MeanSummary(n=2, sum=1.0, sum_squares=1.0, sum_x=1.0)


def test_summaries_merge_by_addition() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=30), rng.normal(size=40)
    merged = MeanSummary.from_values(a) + MeanSummary.from_values(b)
    whole = MeanSummary.from_values(np.concatenate([a, b]))
    assert merged.n == whole.n
    assert merged.mean == pytest.approx(whole.mean)
    assert merged.variance == pytest.approx(whole.variance)
    assert ProportionSummary(10, 3) + ProportionSummary(5, 5) == ProportionSummary(15, 8)


def test_proportion_as_mean_summary() -> None:
    as_mean = ProportionSummary(10, 4).to_mean_summary()
    outcomes = MeanSummary.from_values([1.0] * 4 + [0.0] * 6)
    assert as_mean == outcomes
