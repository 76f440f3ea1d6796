"""`devora costs report|budgets|export`: spend from the event store, from a shell.

Every command reads the event store (`--store`, else `$DEVORA_EVENT_STORE`,
`$POSTGRES_CONNECTION_STRING` or `.devora/events.db`; see `open_event_store`) and the
budgets file (`--budgets`, else `$DEVORA_BUDGETS` or `.devora/budgets.yaml`; see
`budget_files`). `budgets --redis-url` reads the live counters (spend and reservations
of every process) from Redis instead of summing the store.

Output: Rich tables on a terminal; in a pipe plain tab-separated lines, no header, one
row per line; with `--json` one JSON document. Errors print one line on stderr and exit
with status 1, without a traceback or a password.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer

from ai.core.command_line import fail
from ai.errors import DevoraError
from ml_ops.cost_tracker.budget_files import find_budgets_file, load_budgets
from ml_ops.cost_tracker.counters import SpendCounters
from ml_ops.cost_tracker.export import ExportFormat, ExportKind
from ml_ops.cost_tracker.tracker import CostTracker
from ml_ops.store.opening import open_event_store

costs_app = typer.Typer(
    help="Spend reports, budgets and exports from the event store.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

STORE_OPTION = typer.Option(
    None,
    "--store",
    help="Event store: a .db file, a directory, sqlite:///..., postgresql://... (default: "
    "$DEVORA_EVENT_STORE, $POSTGRES_CONNECTION_STRING or .devora/events.db).",
)
BUDGETS_OPTION = typer.Option(
    None,
    "--budgets",
    help="YAML or JSON budgets file (default: $DEVORA_BUDGETS or .devora/budgets.yaml).",
)
TZ_OPTION = typer.Option("UTC", "--tz", help="Time zone of days, weeks and months.")
DAYS_OPTION = typer.Option(None, "--days", min=1, help="Only the last N days (today included).")
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")

T = TypeVar("T")


def _run(
    work: Callable[[CostTracker], Awaitable[T]],
    *,
    store: str | None,
    budgets: Path | None,
    tz: str,
    counters: Callable[[], SpendCounters] | None = None,
) -> T:
    """Open the store, load the budgets, restore a tracker, run `work` on it."""

    async def main() -> T:
        event_store = open_event_store(store, must_exist=True)  # read only: never create
        tracker = CostTracker(event_store, tz=tz, counters=counters() if counters else None)
        try:
            found = find_budgets_file(budgets)
            for budget in load_budgets(found) if found else []:
                tracker.add_budget(budget)
            await tracker.restore()
            return await work(tracker)
        finally:
            await tracker.aclose()
            await event_store.aclose()

    try:
        return asyncio.run(main())
    except DevoraError as error:
        fail(str(error))


def _terminal() -> bool:
    return sys.stdout.isatty()


def _rows(rows: Sequence[Sequence[object]]) -> None:
    for row in rows:
        cells = ("" if cell is None else str(cell) for cell in row)
        sys.stdout.write("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells) + "\n")


def _json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index < 2 else "right")
    for row in rows:
        table.add_row(*("-" if cell is None else escape(str(cell)) for cell in row))
    Console().print(table)


def _money(value: float | None) -> str | None:
    return None if value is None else f"{value:.6f}"


@costs_app.command("report")
def report_command(
    store: str | None = STORE_OPTION,
    budgets: Path | None = BUDGETS_OPTION,
    days: int | None = DAYS_OPTION,
    tz: str = TZ_OPTION,
    top: int = typer.Option(5, min=1, help="How many top spenders to list."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Spend totals, breakdowns by model, provider, agent, user and day, and budgets.

    In a pipe: one line per entry, tab-separated: section (total, model, provider,
    agent, user, day, budget), name, requests, cost (USD), share of cost, saved by cache.
    """

    async def work(tracker: CostTracker) -> dict[str, Any]:
        return tracker.get_report(days, top=top)

    report = _run(work, store=store, budgets=budgets, tz=tz)
    if as_json:
        _json(report)
        return
    rows = _report_rows(report)
    if _terminal():
        totals = report["totals"]
        _table(
            f"Spend {report['window']['first_day']} to {report['window']['last_day']} "
            f"({report['time_zone']}): ${totals['cost']:.4f} over {totals['requests']} requests",
            ("section", "name", "requests", "cost", "share", "saved"),
            rows,
        )
    else:
        _rows(rows)


def _report_rows(report: dict[str, Any]) -> list[list[object]]:
    totals = report["totals"]
    rows: list[list[object]] = [
        ["total", "all", totals["requests"], _money(totals["cost"]), "1.000",
         _money(totals["saved_cost"])],
    ]  # fmt: skip
    for section in ("model", "provider", "agent", "user"):
        for row in report[f"by_{section}"]:
            rows.append(
                [section, row["name"] or "-", row["requests"], _money(row["cost"]),
                 f"{row['share']:.3f}", _money(row["saved_cost"])]
            )  # fmt: skip
    for row in report["by_day"]:
        rows.append(
            ["day", row["day"], row["requests"], _money(row["cost"]), None,
             _money(row["saved_cost"])]
        )  # fmt: skip
    for status in report["budgets"]:
        rows.append(
            ["budget", status["name"], None, _money(status["spent"]),
             f"{status['fraction_used']:.3f}", None]
        )  # fmt: skip
    return rows


@costs_app.command("budgets")
def budgets_command(
    store: str | None = STORE_OPTION,
    budgets: Path | None = BUDGETS_OPTION,
    tz: str = TZ_OPTION,
    redis_url: str | None = typer.Option(
        None, "--redis-url", help="Read the live counters (every process) from this Redis."
    ),
    prefix: str = typer.Option("devora:budget:", help="Key prefix of the Redis counters."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Each budget now: spend, reserved, limit, projection and whether it is in effect.

    In a pipe: one budget per line, tab-separated: name, period, scope, action, spent,
    reserved, limit, fraction used, projected spend, in effect (yes/no), period end.
    """
    counters = None
    if redis_url is not None:

        def counters() -> SpendCounters:
            from ml_ops.cost_tracker.redis_counters import RedisSpendCounters

            return RedisSpendCounters(redis_url, prefix=prefix)

    async def work(tracker: CostTracker) -> list[dict[str, Any]]:
        if not tracker.budgets:
            fail("no budgets defined: pass --budgets FILE or set $DEVORA_BUDGETS")
        return [status.to_dict() for status in await tracker.refresh_budgets()]

    statuses = _run(work, store=store, budgets=budgets, tz=tz, counters=counters)
    if as_json:
        _json({"budgets": statuses})
        return
    rows = [
        [s["name"], s["period"], s["scope"], s["action"], _money(s["spent"]),
         _money(s["reserved"]), _money(s["limit"]), f"{s['fraction_used']:.3f}",
         _money(s["projected_spend"]), "yes" if s["in_effect"] else "no", s["period_end"]]
        for s in statuses
    ]  # fmt: skip
    if _terminal():
        columns = ("name", "period", "scope", "action", "spent", "reserved", "limit",
                   "used", "projected", "in effect", "resets")  # fmt: skip
        _table(f"Budgets (counters: {statuses[0]['counters']})", columns, rows)
    else:
        _rows(rows)


@costs_app.command("export")
def export_command(
    what: ExportKind = typer.Option(ExportKind.RECORDS, "--what", help="What to export."),
    format: ExportFormat = typer.Option(ExportFormat.CSV, "--format", help="csv or json."),
    output: str = typer.Option("-", "--output", "-o", help="File to write ('-': stdout)."),
    store: str | None = STORE_OPTION,
    budgets: Path | None = BUDGETS_OPTION,
    days: int | None = DAYS_OPTION,
    tz: str = TZ_OPTION,
) -> None:
    """Write records, the report, a forecast, recommendations or budgets as CSV or JSON.

    With --what forecast, --days is the horizon (default 7). No export carries a secret.
    """

    async def work(tracker: CostTracker) -> int:
        return tracker.export(output, what, format, days=days)

    count = _run(work, store=store, budgets=budgets, tz=tz)
    if output != "-":
        sys.stderr.write(f"wrote {count} {'rows' if format is ExportFormat.CSV else 'items'} "
                         f"to {output}\n")  # fmt: skip
