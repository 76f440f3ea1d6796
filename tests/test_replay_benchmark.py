"""`benchmarks/replay.py --short` runs both arms and reports every figure.

No timing or ratio is asserted: the claims live in docs/benchmarks.md, measured there.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "replay.py"
ARM_FIGURES = {
    "requests",
    "cost_usd",
    "cost_per_answer_usd",
    "answered",
    "matched_cost_usd",
    "p50_latency_s",
    "p95_latency_s",
    "p50_ttft_s",
    "p95_ttft_s",
    "p95_latency_outside_outage_s",
    "p95_ttft_outside_outage_s",
    "error_rate",
    "error_rate_outside_outage",
    "faults_absorbed",
    "fallback_answers",
    "cache_hits",
    "cheap_model_share",
}


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--short", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_both_arms_report_every_figure_as_median_and_range(result: dict[str, Any]) -> None:
    arms = result["headline"]["arms"]
    assert set(arms) == {"naive", "devora"}
    for arm, figures in arms.items():
        assert set(figures) == ARM_FIGURES, arm
        for name, value in figures.items():
            assert set(value) == {"median", "min", "max"}, (arm, name)
            assert all(is_number(v) for v in value.values()), (arm, name)
            assert value["min"] <= value["median"] <= value["max"], (arm, name)
        assert figures["requests"]["median"] == result["params"]["requests"]
        assert figures["cost_usd"]["median"] > 0
        # the requests both arms answered are a subset of each arm's own
        assert 0 < figures["matched_cost_usd"]["max"] <= figures["cost_usd"]["max"]
        assert figures["answered"]["max"] <= figures["requests"]["max"]


def test_the_run_reports_ratios_targets_load_and_sources(result: dict[str, Any]) -> None:
    headline = result["headline"]
    assert set(headline["ratios"]) == {
        "cost_saving_total",
        "cost_saving_per_answer",
        "cost_saving_matched",
        "p50_latency_reduction",
        "p95_latency_reduction",
        "p95_ttft_reduction",
    }
    for value in headline["ratios"].values():
        assert all(is_number(v) and math.isfinite(v) for v in value.values())
    targets = headline["targets"]
    for name in (
        "cost_saving_at_least_40pct",
        "p95_latency_reduction_at_least_30pct",
        "devora_errors_below_0.1pct",
        "naive_shows_injected_rate",
    ):
        assert isinstance(targets[name], bool), name
    assert set(headline["load_average"]) == {"min", "max"}
    assert result["mode"] == "short" and result["repetitions"] >= 1
    assert result["sources"] and result["latency"]
    assert math.isclose(sum(result["params"]["shares"].values()), 1.0)


def test_the_sensitivity_grid_covers_duplicates_and_mix(result: dict[str, Any]) -> None:
    grid = result["sensitivity"]
    cells = {(row["duplicate_rate"], row["simple_share"]) for row in grid}
    assert cells == {(d, s) for d in (0.0, 0.1, 0.3, 0.5) for s in (0.3, 0.6, 0.8)}
    for row in grid:
        assert row["seeds"] == 2
        assert row["naive_cost_usd"] > 0 and row["devora_cost_usd"] > 0
        assert is_number(row["cost_saving_total"])
        assert_pooled_estimates(row)


def test_the_cost_study_pools_seeds_with_an_interval(result: dict[str, Any]) -> None:
    study = result["cost_study"]
    assert study["seeds"] == 3 and study["requests_per_seed"] > 0
    assert is_number(study["load_average"])
    assert_pooled_estimates(study)


def assert_pooled_estimates(study: dict[str, Any]) -> None:
    for name in ("per_answer", "matched"):
        figure = study[name]
        low, high = figure["ci95"]
        assert all(is_number(v) and math.isfinite(v) for v in (figure["pooled"], low, high))
        assert low <= high, name
        each = figure["per_seed"]
        assert each["min"] <= each["median"] <= each["max"], name
    # matched pools one ratio (sum of bills over sum of bills): a mediant lies within the
    # seeds' own ratios (per answer is a ratio of two such ratios, so it need not)
    matched = study["matched"]
    each = matched["per_seed"]
    assert each["min"] - 1e-9 <= matched["pooled"] <= each["max"] + 1e-9
