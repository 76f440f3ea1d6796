"""`devora costs report|budgets|export` on a SQLite event store: plain lines in a pipe,
`--json`, one-line errors, and the lazy registration in `devora`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai.cli.app import DevoraGroup, app
from ml_ops.store import SQLiteEventStore
from tests.ml_ops.cost_tracker.records import call

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = tmp_path / "events.db"
    now = datetime.now(UTC)

    async def fill() -> None:
        async with SQLiteEventStore(path) as events:
            await events.append(
                [call(at=now - timedelta(minutes=i), user="alice" if i % 2 else "bob")
                 for i in range(20)]
            )  # fmt: skip

    asyncio.run(fill())
    return str(path)


@pytest.fixture
def budgets(tmp_path: Path) -> str:
    path = tmp_path / "budgets.yaml"
    path.write_text(
        "budgets:\n"
        "  - {name: daily_limit, limit: 10.0, period: daily, scope: global}\n"
        "  - {name: alice, limit: 0.01, period: monthly, scope: user, scope_value: alice,\n"
        "     action: refuse}\n"
    )
    return str(path)


def test_the_costs_group_is_registered_lazily() -> None:
    [spec] = [g for g in DevoraGroup.lazy_groups if g.name == "costs"]
    assert spec.target == "ml_ops.cost_tracker.cli:costs_app"
    assert (spec.load().help or "").strip() == spec.help
    result = runner.invoke(app, ["costs", "--help"])
    assert result.exit_code == 0
    for command in ("report", "budgets", "export"):
        assert command in result.output


def test_report_in_a_pipe_is_tab_separated_lines(store: str, budgets: str) -> None:
    result = runner.invoke(app, ["costs", "report", "--store", store, "--budgets", budgets])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert lines[0][:3] == ["total", "all", "20"]
    assert float(lines[0][3]) == pytest.approx(20 * 0.00225)
    assert ["user", "alice"] in [line[:2] for line in lines]
    assert ["budget", "alice"] in [line[:2] for line in lines]


def test_report_as_json(store: str) -> None:
    result = runner.invoke(app, ["costs", "report", "--store", store, "--json", "--days", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["totals"]["requests"] == 20 and report["budgets"] == []


def test_budgets_shows_each_budget_and_whether_it_is_in_effect(store: str, budgets: str) -> None:
    result = runner.invoke(app, ["costs", "budgets", "--store", store, "--budgets", budgets])
    assert result.exit_code == 0, result.output
    rows = {line.split("\t")[0]: line.split("\t") for line in result.output.splitlines()}
    assert rows["daily_limit"][1:4] == ["daily", "global", "alert"]
    assert rows["alice"][2:4] == ["user:alice", "refuse"]
    assert rows["alice"][9] == "yes"  # ten calls of $0.00225 passed its $0.01
    as_json = runner.invoke(
        app, ["costs", "budgets", "--store", store, "--budgets", budgets, "--json"]
    )
    statuses = json.loads(as_json.output)["budgets"]
    assert statuses[1]["spent"] == pytest.approx(10 * 0.00225)


def test_budgets_reads_live_counters_from_redis(
    store: str, budgets: str, redis_url: str, redis_key_prefix: str
) -> None:
    args = ["costs", "budgets", "--store", store, "--budgets", budgets, "--json"]
    result = runner.invoke(app, [*args, "--redis-url", redis_url, "--prefix", redis_key_prefix])
    assert result.exit_code == 0, result.output
    statuses = json.loads(result.output)["budgets"]
    assert statuses[0]["counters"].startswith("redis://")
    assert statuses[1]["spent"] == pytest.approx(10 * 0.00225)  # seeded from the store


def test_export_writes_a_file_or_stdout(store: str, tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    result = runner.invoke(app, ["costs", "export", "--store", store, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(out.open()))) == 20
    printed = runner.invoke(
        app, ["costs", "export", "--store", store, "--what", "report", "--format", "json"]
    )
    assert json.loads(printed.output)["totals"]["requests"] == 20
    forecast = runner.invoke(app, ["costs", "export", "--store", store, "--what", "forecast"])
    assert len(list(csv.DictReader(io.StringIO(forecast.output)))) == 8


def test_errors_are_one_line_without_a_traceback(store: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["costs", "budgets", "--store", store])
    assert result.exit_code == 1
    assert "error: no budgets defined" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: x, limit: 0}\n")
    result = runner.invoke(app, ["costs", "report", "--store", store, "--budgets", str(bad)])
    assert result.exit_code == 1 and "limit must be > 0" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["costs", "report", "--store", "ftp://x"])
    assert result.exit_code == 1 and "is not supported" in result.output


@pytest.mark.parametrize("command", ["report", "budgets", "export"])
def test_a_missing_store_is_an_error_and_is_not_created(
    command: str, budgets: str, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-dir" / "evnets.db"
    result = runner.invoke(app, ["costs", command, "--store", str(missing), "--budgets", budgets])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: no event store at '{missing}'")
    assert len(result.output.splitlines()) == 1 and "--store" in result.output
    assert not missing.parent.exists()
