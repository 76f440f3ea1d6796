"""The spec's Quick Start 5, as written, fed by Quick Starts 3 and 4 (the real classes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_ops.ab_testing import ABTester, Experiment, Variant
from ml_ops.cost_tracker import Budget, CostTracker
from ml_ops.dashboard import DashboardManager
from ml_ops.monitoring import MLMonitor


def test_quick_start_5_runs_as_written_after_quick_starts_3_and_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # ABTester() keeps its experiments in .devora/ here
    monkeypatch.delenv("DEVORA_EXPERIMENTS_STORE", raising=False)
    monkeypatch.delenv("POSTGRES_CONNECTION_STRING", raising=False)

    # --- Quick Start 3 ---
    monitor = MLMonitor()
    cost_tracker = CostTracker()
    cost_tracker.add_budget(Budget(
        name="daily_limit",
        limit=10.0,
        period="daily",
        scope="global",
    ))  # fmt: skip
    monitor.track_request(
        success=True,
        latency_ms=1500,
        cost=0.02,
        tokens=800,
        model="openai/gpt-4o-mini",
    )
    stats = monitor.get_real_time_stats()
    report = cost_tracker.get_report()

    # --- Quick Start 4 ---
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
    variant = ab_tester.get_variant("prompt_test")
    ab_tester.track_result(
        experiment_name="prompt_test",
        variant_name=variant.name,
        success=True,
        latency_ms=2000,
        cost=0.01,
    )
    summary = ab_tester.get_experiment_summary("prompt_test")

    # --- Quick Start 5 ---
    dashboard = DashboardManager(
        monitor=monitor,
        cost_tracker=cost_tracker,
        ab_tester=ab_tester,
    )
    overview = dashboard.get_overview()
    print(f"Total requests: {overview['overview']['total_requests']}")
    print(f"Total cost: ${overview['overview']['total_cost']:.2f}")
    health = dashboard.get_health_check()
    print(f"System health: {health['overall_status']}")

    printed = capsys.readouterr().out.splitlines()
    assert printed == ["Total requests: 1", "Total cost: $0.02", "System health: healthy"]
    assert stats["total_requests"] == 1 and report is not None and summary["name"] == "prompt_test"
    assert [b["name"] for b in overview["budgets"]] == ["daily_limit"]
    experiments = dashboard.get_experiments()
    assert [x["name"] for x in experiments["experiments"]] == ["prompt_test"]
    for section in (overview, health, experiments, dashboard.get_cost_analysis()):
        json.dumps(section, allow_nan=False)
    ab_tester.close()
