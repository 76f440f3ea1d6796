"""`devora experiments ...`: list, show, create, start, pause, complete and stop experiments.

Every command works on the default store (`$DEVORA_EXPERIMENTS_STORE`,
`$POSTGRES_CONNECTION_STRING`, else `.devora/experiments.db`) or on `--store` (a .db file,
a directory, `sqlite:///...`, `postgresql://...`). Output: Rich tables on a terminal,
tab-separated lines in a pipe, one JSON document with `--json` (see `cli_output`).
Errors print one line on stderr and exit 1, never a traceback or a password.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml

from ai.core.command_line import fail
from ai.errors import ConfigurationError, DevoraError
from ai.prompts.cli_output import Output
from ml_ops.ab_testing.cli_output import print_list, print_summary
from ml_ops.ab_testing.experiment import Experiment
from ml_ops.ab_testing.state import ExperimentState
from ml_ops.ab_testing.statistics import AnalysisMode
from ml_ops.ab_testing.stores.opening import open_experiment_store
from ml_ops.ab_testing.tester import ABTester
from ml_ops.ab_testing.variant import Variant

experiments_app = typer.Typer(
    help="A/B experiments: create, start, pause, complete them and read their results.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

STORE_OPTION = typer.Option(
    None,
    "--store",
    help="A .db file, a directory, sqlite:///file.db or postgresql://... (default: "
    "$DEVORA_EXPERIMENTS_STORE, $POSTGRES_CONNECTION_STRING or .devora/experiments.db).",
)
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")
REASON_OPTION = typer.Option("", "--reason", help="Why (kept with the transition).")

T = TypeVar("T")


def _run(work: Callable[[ABTester], T], store: str | None, *, creates: bool = False) -> T:
    """Run `work` on a tester over `store`; a DevoraError becomes one line and exit 1.
    Only a command that `creates` may create the store: for the others a mistyped path
    is an error, not a new empty store."""
    try:
        opened = open_experiment_store(store, must_exist=not creates)
        try:
            with ABTester(opened, flush_interval=None) as tester:
                return work(tester)
        finally:
            opened.close()
    except DevoraError as exc:
        fail(str(exc))


@experiments_app.command("list")
def list_command(
    status: str | None = typer.Option(None, help="Only experiments in this state."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List experiments. In a pipe: one a line, tab-separated: name, status, allocation,
    primary metric, variants, results, winner (- if none)."""

    def work(tester: ABTester) -> None:
        states = tester.list_experiments(status)
        results = {
            s.name: sum(t.results for t in tester.store.totals(s.name).values()) for s in states
        }
        print_list(Output.for_stdout(as_json), states, results)

    if status is not None and status not in {"draft", "running", "paused", "completed", "stopped"}:
        fail(f"--status {status!r} is not one of draft, running, paused, completed, stopped")
    _run(work, store)


@experiments_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Experiment name."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show an experiment: per-variant results, the decision and why, the transitions.
    In a pipe: `key<TAB>value` lines, then `variant<TAB>...` and `transition<TAB>...`."""
    summary = _run(lambda tester: tester.get_experiment_summary(name), store)
    print_summary(Output.for_stdout(as_json), summary)


@experiments_app.command("create")
def create_command(
    definition: Path | None = typer.Argument(
        None, help="A YAML or JSON file with the experiment (the fields of Experiment)."
    ),
    name: str | None = typer.Option(None, help="Name (without a file)."),
    variant: list[str] = typer.Option(
        [],
        "--variant",
        help="NAME or NAME=WEIGHT, repeated (without a file); the first is "
        "the control unless --control says otherwise.",
    ),
    metric: str = typer.Option("success_rate", "--metric", help="The primary metric."),
    description: str = typer.Option("", help="What the experiment tests."),
    mode: str = typer.Option("fixed_horizon", help="fixed_horizon or sequential."),
    control: str | None = typer.Option(None, help="The control variant."),
    start: bool = typer.Option(False, "--start", help="Start it at once."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an experiment from a file, or from --name and --variant options."""
    try:
        experiment = (
            _from_file(definition)
            if definition is not None
            else _from_options(name, variant, metric, description, mode, control)
        )
    except DevoraError as exc:
        fail(str(exc))

    existed = False

    def work(tester: ABTester) -> ExperimentState:
        nonlocal existed
        existed = experiment.name in (state.name for state in tester.list_experiments())
        state = tester.create_experiment(experiment)  # the same definition again: no-op
        return tester.start_experiment(state.name) if start else state

    state = _run(work, store, creates=True)
    _done(state, "already created" if existed else "created", as_json)


@experiments_app.command("start")
def start_command(
    name: str = typer.Argument(..., help="Experiment name."),
    reason: str = REASON_OPTION,
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Start (or resume) an experiment."""
    _done(_run(lambda t: t.start_experiment(name, reason=reason), store), "started", as_json)


@experiments_app.command("pause")
def pause_command(
    name: str = typer.Argument(..., help="Experiment name."),
    reason: str = REASON_OPTION,
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Pause a running experiment: everyone gets the control until it starts again."""
    _done(_run(lambda t: t.pause_experiment(name, reason=reason), store), "paused", as_json)


@experiments_app.command("complete")
def complete_command(
    name: str = typer.Argument(..., help="Experiment name."),
    winner: str | None = typer.Option(
        None, help="The winning variant (default: the one the decision picks, if any)."
    ),
    reason: str = REASON_OPTION,
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Complete an experiment; all traffic then goes to the winner."""
    state = _run(lambda t: t.complete_experiment(name, winner=winner, reason=reason), store)
    _done(state, "completed", as_json)


@experiments_app.command("stop")
def stop_command(
    name: str = typer.Argument(..., help="Experiment name."),
    reason: str = REASON_OPTION,
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Abandon an experiment (final): everyone gets the control."""
    _done(_run(lambda t: t.stop_experiment(name, reason=reason), store), "stopped", as_json)


def _done(state: ExperimentState, verb: str, as_json: bool) -> None:
    winner = f", winner {state.winner}" if state.winner else ""
    payload = {
        "name": state.name,
        "status": state.status.value,
        "winner": state.winner,
        "transitions": [t.to_dict() for t in state.transitions],
    }
    Output.for_stdout(as_json).done(f"{verb} {state.name}: {state.status.value}{winner}", payload)


def _from_file(path: Path) -> Experiment:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read the experiment: {exc}") from exc
    return Experiment.from_dict(data)


def _from_options(
    name: str | None,
    variants: list[str],
    metric: str,
    description: str,
    mode: str,
    control: str | None,
) -> Experiment:
    if name is None or len(variants) < 2:
        raise ConfigurationError("give a definition file, or --name and at least two --variant")
    parsed = []
    for item in variants:
        label, _, weight = item.partition("=")
        try:
            parsed.append(Variant(name=label, weight=float(weight) if weight else 1.0))
        except ValueError:
            raise ConfigurationError(f"--variant {item!r}: the weight is not a number") from None
    if mode not in {m.value for m in AnalysisMode}:
        raise ConfigurationError(f"--mode {mode!r} is not one of fixed_horizon, sequential")
    return Experiment(
        name=name,
        variants=parsed,
        primary_metric=metric,
        description=description,
        mode=AnalysisMode(mode),
        control=control,
    )
