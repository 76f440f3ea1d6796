"""`CostTracker.export`: every kind in CSV and JSON, to paths and open files, with no
secret in any of them."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ai.core.clock import FakeClock
from ai.core.records import GuardAction, GuardDecision
from ai.errors import ConfigurationError, ErrorType
from ml_ops.cost_tracker import Budget, CostTracker
from tests.ml_ops.cost_tracker.records import call

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz0123"
KINDS = ("records", "report", "forecast", "recommendations", "budgets")


@pytest.fixture
def tracker() -> CostTracker:
    tracker = CostTracker(clock=FakeClock(NOW))
    tracker.add_budget(Budget(name="daily", limit=1.0, period="daily", action="refuse"))
    for day in range(10):
        for minute in range(30):
            tracker.observe(call(at=NOW - timedelta(days=day, minutes=minute), user="alice"))
    leaky = dataclasses.replace(
        call(at=NOW, user="bob", tags={"team": "=SUM(A1)", "key": SECRET}, success=False),
        error_type=ErrorType.AUTHENTICATION,
        error_message=f"401: the key {SECRET} is wrong",
        guard_decisions=(
            GuardDecision("budget", GuardAction.REWRITE, {"model": ("a", "b")}, SECRET),
        ),
    )
    tracker.observe(leaky)
    return tracker


@pytest.mark.parametrize("what", KINDS)
@pytest.mark.parametrize("format", ["csv", "json"])
def test_every_kind_exports_in_both_formats_without_secrets(
    tracker: CostTracker, what: str, format: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{what}.{format}"
    count = tracker.export(path, what=what, format=format)
    text = path.read_text()
    assert SECRET not in text and "sk-live" not in text
    assert count > 0
    if format == "json":
        data = json.loads(text)
        assert count == (len(data) if isinstance(data, list) else 1)
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == count


def test_the_records_export_has_one_row_per_call(tracker: CostTracker) -> None:
    buffer = io.StringIO()
    assert tracker.export(buffer, "records", "csv", days=1) == 31
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    bob = next(row for row in rows if row["user"] == "bob")
    assert bob["outcome"] == "error" and bob["error_type"] == "authentication"
    assert json.loads(bob["guard_decisions"]) == [
        {"guard": "budget", "action": "rewrite", "changed": ["model"]}
    ]
    assert json.loads(bob["tags"])["team"] == "=SUM(A1)"  # inside JSON, not a formula cell
    assert "error_message" not in rows[0]
    assert float(rows[0]["estimated_cost"]) == pytest.approx(0.00225)


def test_csv_cells_that_would_run_as_formulas_are_quoted(tmp_path: Path) -> None:
    tracker = CostTracker(clock=FakeClock(NOW))
    tracker.observe(call(at=NOW, user="=HYPERLINK(1)", agent="+cmd"))
    buffer = io.StringIO()
    tracker.export(buffer, "records")
    row = next(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert row["user"] == "'=HYPERLINK(1)" and row["agent"] == "'+cmd"


def test_report_forecast_and_budget_rows(tracker: CostTracker) -> None:
    report = io.StringIO()
    tracker.export(report, "report", "csv")
    sections = {row["section"] for row in csv.DictReader(io.StringIO(report.getvalue()))}
    assert sections == {"totals", "model", "provider", "agent", "user", "operation", "day"}
    forecast = io.StringIO()
    assert tracker.export(forecast, "forecast", "csv", days=3) == 4  # three days and the total
    assert (
        forecast.getvalue().splitlines()[0] == "day,point,lower_80%,upper_80%,lower_95%,upper_95%"
    )
    budgets = io.StringIO()
    tracker.export(budgets, "budgets", "json")
    [status] = json.loads(budgets.getvalue())
    assert status["name"] == "daily" and status["action"] == "refuse"


def test_unknown_choices_are_configuration_errors(tracker: CostTracker) -> None:
    with pytest.raises(ConfigurationError, match="'records', 'report'"):
        tracker.export(io.StringIO(), "everything")
    with pytest.raises(ConfigurationError, match="'csv', 'json'"):
        tracker.export(io.StringIO(), "records", "xlsx")
