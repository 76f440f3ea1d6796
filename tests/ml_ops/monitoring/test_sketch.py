"""LatencySketch: percentiles within 1% of numpy's exact ones, DDSketch's own answers,
merging equal to sketching the union, and lossless snapshots."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ddsketch import DDSketch
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_ops.monitoring import LatencySketch

PERCENTILES = (50, 75, 90, 95, 99)
latencies = st.lists(
    st.floats(min_value=0.01, max_value=600_000, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=300,
)
quantiles = st.floats(min_value=0.0, max_value=1.0)


def sketch_of(values: list[float] | np.ndarray) -> LatencySketch:
    sketch = LatencySketch()
    for value in values:
        sketch.add(float(value))
    return sketch


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng: rng.lognormal(mean=6.5, sigma=0.9, size=100_000),  # ~700 ms median
        lambda rng: rng.uniform(50.0, 5_000.0, size=100_000),
    ],
    ids=["log-normal", "uniform"],
)
def test_percentiles_are_within_one_percent_of_the_exact_ones(draw: object) -> None:
    values = draw(np.random.default_rng(42))  # type: ignore[operator]
    sketch = sketch_of(values)
    summary = sketch.summary()
    assert summary["count"] == 100_000
    assert summary["avg"] == pytest.approx(float(np.mean(values)), rel=1e-9)
    for p in PERCENTILES:
        # DDSketch answers for the value at rank q * (n - 1), rounded down: numpy's "lower".
        exact = float(np.percentile(values, p, method="lower"))
        found = summary[f"p{p}"]
        assert found is not None
        assert abs(found - exact) / exact <= 0.01, (p, found, exact)


def test_an_empty_sketch_has_no_percentiles() -> None:
    summary = LatencySketch().summary()
    assert summary == {
        "count": 0, "avg": None, "p50": None, "p75": None, "p90": None, "p95": None, "p99": None,
    }  # fmt: skip
    with pytest.raises(ValueError, match="within"):
        LatencySketch().quantile(1.5)


@settings(max_examples=60, deadline=None)
@given(values=latencies, q=quantiles)
def test_quantiles_match_the_ddsketch_library(values: list[float], q: float) -> None:
    reference = DDSketch(0.01)
    for value in values:
        reference.add(value)
    ours = sketch_of(values)
    assert ours.quantile(q) == pytest.approx(reference.get_quantile_value(q), rel=1e-9)
    assert ours.to_ddsketch().get_quantile_value(q) == pytest.approx(ours.quantile(q), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(first=latencies, second=latencies, q=quantiles)
def test_merged_sketches_answer_as_one_sketch_of_both(
    first: list[float], second: list[float], q: float
) -> None:
    merged = sketch_of(first)
    merged.merge(sketch_of(second))
    union = sketch_of(first + second)
    assert merged == union
    assert merged.quantile(q) == union.quantile(q)
    assert merged.total == pytest.approx(union.total)
    exact = float(np.quantile(np.array(first + second), q, method="lower"))
    found = merged.quantile(q)
    assert found is not None
    assert abs(found - exact) <= 0.01 * exact + 1e-12


@settings(max_examples=30, deadline=None)
@given(values=latencies)
def test_snapshots_round_trip_through_json(values: list[float]) -> None:
    sketch = sketch_of(values)
    again = LatencySketch.from_dict(json.loads(json.dumps(sketch.to_dict())))
    assert again == sketch
    assert again.total == pytest.approx(sketch.total)
    assert again.summary() == sketch.summary()


def test_cumulative_counts_at_bounds() -> None:
    sketch = sketch_of([10, 20, 30, 400, 5000])
    assert sketch.cumulative_counts([5, 25, 1000, 10_000]) == [0, 2, 4, 5]
