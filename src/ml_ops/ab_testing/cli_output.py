"""How `devora experiments` prints: Rich tables on a terminal, plain tab-separated lines in
a pipe (no header, no markup, one row per line), one JSON document with `--json`.

The three forms come from `ai.prompts.cli_output.Output`, shared by every `devora`
command group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from ai.prompts.cli_output import Output
from ml_ops.ab_testing.state import ExperimentState

LIST_COLUMNS = ("name", "status", "allocation", "primary metric", "variants", "results", "winner")
VARIANT_COLUMNS = (
    "variant",
    "weight",
    "exposures",
    "results",
    "success rate",
    "95% CI",
    "latency mean",
    "p50",
    "p95",
    "cost mean",
    "cost total",
)


def print_list(out: Output, states: Sequence[ExperimentState], results: Mapping[str, int]) -> None:
    """`devora experiments list`."""
    if out.as_json:
        out.json({"experiments": [_list_item(s, results.get(s.name, 0)) for s in states]})
        return
    rows = [
        [
            s.name,
            s.status.value,
            s.experiment.allocation.value,
            s.experiment.primary_metric,
            ", ".join(s.experiment.variant_names),
            str(results.get(s.name, 0)),
            s.winner or "-",
        ]
        for s in states
    ]
    if not out.terminal:
        out.rows(rows)
        return
    table = Table(*LIST_COLUMNS)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    out.console().print(table)


def _list_item(state: ExperimentState, results: int) -> dict[str, Any]:
    return {
        "name": state.name,
        "status": state.status.value,
        "allocation": state.experiment.allocation.value,
        "primary_metric": state.experiment.primary_metric,
        "variants": state.experiment.variant_names,
        "results": results,
        "winner": state.winner,
        "created_at": state.created_at.isoformat(),
    }


def print_summary(out: Output, summary: Mapping[str, Any]) -> None:
    """`devora experiments show`: the header, a row per variant, the decision, the
    transitions."""
    if out.as_json:
        out.json(summary)
        return
    header = _header(summary)
    rows = [_variant_row(name, data) for name, data in summary["variants"].items()]
    transitions = [
        [t["at"], t["from"] or "-", t["to"], t["reason"]] for t in summary["transitions"]
    ]
    if not out.terminal:
        out.rows([[key, value] for key, value in header])
        out.rows([["variant", *row] for row in rows])
        out.rows([["transition", *row] for row in transitions])
        return
    console = out.console()
    console.print(f"[bold]{escape(summary['name'])}[/bold] ({escape(summary['status'])})")
    for key, value in header[2:]:
        console.print(f"{escape(key)}: {escape(value)}", highlight=False)
    table = Table(*VARIANT_COLUMNS)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    history = Table("at (UTC)", "from", "to", "reason")
    for row in transitions:
        history.add_row(*(escape(cell) for cell in row))
    console.print(history)


def _header(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    decision = summary.get("decision")
    bandit = summary.get("bandit")
    lines = [
        ("name", summary["name"]),
        ("status", summary["status"]),
        ("description", summary["description"] or "-"),
        ("primary metric", f"{summary['primary_metric']} ({summary['direction']})"),
        ("mode", summary["mode"]),
        ("allocation", summary["allocation"]),
        ("control", summary["control"]),
        ("minimum sample size", _number(summary["minimum_sample_size"])),
        ("winner", summary.get("winner") or "-"),
    ]
    if decision is not None:
        lines.append(("decision", f"{decision['status']}: {decision['reason']}"))
    if bandit is not None:
        weights = ", ".join(f"{k}={v:.3f}" for k, v in bandit["weights"].items())
        lines.append(("bandit weights", f"{weights} ({bandit['note']})"))
    promotion = summary.get("promotion")
    if promotion is not None:
        state = "done" if promotion["done"] else f"pending: {promotion['error'] or 'in progress'}"
        lines.append(
            ("label move", f"{promotion['template']} production -> {promotion['from']} ({state})")
        )
    return lines


def _variant_row(name: str, data: Mapping[str, Any]) -> list[str]:
    ci = data["success_rate_ci"]
    return [
        name,
        f"{data['weight']:g}",
        str(data["exposures"]),
        str(data["results"]),
        _percent(data["success_rate"]),
        "-" if ci is None else f"{_percent(ci['lower'])} to {_percent(ci['upper'])}",
        _number(data["latency_ms"]["mean"], " ms"),
        _number(data["latency_ms"]["p50"], " ms"),
        _number(data["latency_ms"]["p95"], " ms"),
        _money(data["cost"]["mean"]),
        _money(data["cost"]["total"] if data["cost"]["count"] else None),
    ]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}{unit}"
    return f"{value:.2f}{unit}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:.6f}"
