"""`devora experiments ...`: registered lazily, plain lines in a pipe, JSON with --json,
Rich tables on a terminal, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ai.cli.app import app
from ai.prompts.cli_output import Output
from ml_ops.ab_testing import ABTester
from ml_ops.ab_testing.cli_output import print_list, print_summary

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "experiments.db")


def devora(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["experiments", *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_life_from_the_shell(store: str) -> None:
    code, out, _ = devora(
        "create",
        "--name",
        "tone",
        "--variant",
        "a",
        "--variant",
        "b=3",
        "--description",
        "tone test",
        "--store",
        store,
    )
    assert (code, out) == (0, "created tone: draft\n")
    started = devora("start", "tone", "--reason", "go", "--store", store)[1]
    assert started == "started tone: running\n"
    with ABTester(store, flush_interval=None) as tester:
        tester.track_result("tone", "a", True, 120.0, 0.01)
        tester.track_result("tone", "b", False, 300.0, 0.02)
    code, out, _ = devora("list", "--store", store)
    assert out == "tone\trunning\tfixed\tsuccess_rate\ta, b\t2\t-\n"
    code, out, _ = devora("show", "tone", "--store", store)
    lines = out.splitlines()
    assert "status\trunning" in lines and "description\ttone test" in lines
    assert any(line.startswith("variant\ta\t1\t0\t1\t100.0%\t") for line in lines)
    assert any(line.startswith("variant\tb\t3\t0\t1\t0.0%\t") for line in lines)
    assert any(line.startswith("decision\tinsufficient_sample: no winner yet") for line in lines)
    assert sum(line.startswith("transition\t") for line in lines) == 2
    assert devora("pause", "tone", "--store", store)[1] == "paused tone: paused\n"
    code, out, _ = devora("complete", "tone", "--winner", "b", "--store", store, "--json")
    done = json.loads(out)
    assert (done["status"], done["winner"]) == ("completed", "b")
    assert [t["to"] for t in done["transitions"]] == ["draft", "running", "paused", "completed"]
    assert done["transitions"][1]["reason"] == "go"


def test_json_output(store: str) -> None:
    devora("create", "--name", "x", "--variant", "a", "--variant", "b", "--start", "--store", store)
    listed = json.loads(devora("list", "--json", "--store", store)[1])
    assert listed["experiments"][0]["name"] == "x"
    assert listed["experiments"][0]["status"] == "running"
    shown = json.loads(devora("show", "x", "--json", "--store", store)[1])
    assert shown["name"] == "x" and set(shown["variants"]) == {"a", "b"}
    assert devora("list", "--status", "draft", "--json", "--store", store)[1].count('"x"') == 0


def test_create_from_a_file(store: str, tmp_path: Path) -> None:
    definition = tmp_path / "exp.yaml"
    definition.write_text(
        yaml.safe_dump(
            {
                "name": "models",
                "description": "mini vs full",
                "primary_metric": "cost",
                "mode": "sequential",
                "variants": [
                    {"name": "mini", "model": "gpt-4o-mini"},
                    {"name": "full", "model": "gpt-4o", "parameters": {"temperature": 0.2}},
                ],
            }
        )
    )
    code, out, _ = devora("create", str(definition), "--store", store, "--start")
    assert (code, out) == (0, "created models: running\n")
    again = devora("create", str(definition), "--store", store)
    assert again[:2] == (0, "already created models: running\n")  # the same file: a no-op
    with ABTester(store, flush_interval=None) as tester:
        state = tester.get_experiment("models")
    assert state.experiment.mode.value == "sequential"
    assert state.experiment.variant("full").parameters == {"temperature": 0.2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "nope"], "error: no experiment named 'nope'"),
        (["create", "--name", "x", "--variant", "a"], "at least two --variant"),
        (["create", "--name", "x", "--variant", "a", "--variant", "b=lots"], "not a number"),
        (
            ["create", "--name", "x", "--variant", "a", "--variant", "b", "--mode", "peek"],
            "--mode 'peek'",
        ),
        (["list", "--status", "done"], "--status 'done'"),
    ],
)
def test_errors_are_one_line(store: str, args: list[str], message: str) -> None:
    devora("create", "--name", "other", "--variant", "a", "--variant", "b", "--store", store)
    code, out, err = devora(*args, "--store", store)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_an_illegal_move_is_explained(store: str) -> None:
    devora("create", "--name", "x", "--variant", "a", "--variant", "b", "--store", store)
    code, _, err = devora("pause", "x", "--store", store)
    assert code == 1
    assert "error: experiment 'x' is draft: it cannot pause; from draft it can start or stop" in err


def test_terminal_tables(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    with ABTester(store, flush_interval=None) as tester:
        from ml_ops.ab_testing import Experiment, Variant

        tester.create_experiment(Experiment(name="t", variants=[Variant("a"), Variant("b")]))
        tester.start_experiment("t")
        tester.track_result("t", "a", True, 100.0, 0.5)
        summary = tester.get_experiment_summary("t")
        states = tester.list_experiments()
    terminal = Output(as_json=False, terminal=True)
    print_list(terminal, states, {"t": 1})
    print_summary(terminal, summary)
    shown = capsys.readouterr().out
    assert "primary metric" in shown and "running" in shown and "100.0%" in shown
    assert "insufficient_sample" in shown and "from" in shown


def test_help_is_lazy_and_lists_the_commands() -> None:
    result = runner.invoke(app, ["experiments", "--help"])
    assert result.exit_code == 0
    for command in ("list", "show", "create", "start", "pause", "complete", "stop"):
        assert command in result.output


@pytest.mark.parametrize(
    "command", [["list"], ["show", "tone"], ["start", "tone"], ["complete", "tone"]]
)
def test_only_create_makes_a_store(tmp_path: Path, command: list[str]) -> None:
    """A mistyped --store would otherwise become a new, empty store listing nothing."""
    typo = tmp_path / "experimnets.db"
    code, out, err = devora(*command, "--store", str(typo))
    assert code == 1 and out == ""
    assert err.startswith("error: no experiment store at") and str(typo) in err
    assert not typo.exists()
    created = devora(
        "create", "--name", "tone", "--variant", "a", "--variant", "b", "--store", str(typo)
    )
    assert created[0] == 0
    assert typo.is_file()
