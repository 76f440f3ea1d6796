"""`devora monitor stats|alerts`: what the event store says about recent calls.

Reads the store that `open_event_store` finds (`--store`, `$DEVORA_EVENT_STORE`,
`$POSTGRES_CONNECTION_STRING`, or `.devora/events.db`), rebuilds a monitor from it and
prints tables on a terminal, plain `name<TAB>value` lines otherwise, or JSON with `--json`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import typer

from ai.core.command_line import one_line_errors

monitor_app = typer.Typer(
    name="monitor",
    help="Latency, errors, tokens and cost of recorded calls; alerts.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

STORE_OPTION = typer.Option(None, "--store", help="Event store location (path or URL).")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON on stdout, nothing else.")


@monitor_app.command()
def stats(
    window: str = typer.Option("5m", help="1m, 5m, 1h, 24h or all."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Request counts, latency percentiles, errors, tokens and cost over a window."""
    with one_line_errors():
        data = asyncio.run(_stats(store, window))
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    _print_pairs(_headline(data))


@monitor_app.command()
def alerts(
    active: bool = typer.Option(False, "--active", help="Only alerts still firing."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Alerts stored by monitors and budgets, newest first."""
    with one_line_errors():
        rows = asyncio.run(_alerts(store, active))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print("no alerts" if not active else "no active alerts")
        return
    columns = ("fired_at", "status", "severity", "rule", "message")
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*(str(row[c]) for c in columns))
        Console().print(table)
    else:
        for row in rows:
            print("\t".join(str(row[c]) for c in columns))


async def _stats(location: str | None, window: str) -> dict[str, Any]:
    from ml_ops.monitoring.monitor import MLMonitor
    from ml_ops.store.opening import open_event_store

    MLMonitor().get_real_time_stats(window)  # an unknown window fails before the store is read
    store = open_event_store(location, must_exist=True)  # read only: never create
    try:
        monitor = MLMonitor(store)
        await monitor.restore()
        return monitor.get_real_time_stats(window)
    finally:
        await store.aclose()


async def _alerts(location: str | None, active: bool) -> list[dict[str, Any]]:
    from ml_ops.store.base import AlertStatus, json_ready
    from ml_ops.store.opening import open_event_store

    store = open_event_store(location, must_exist=True)  # read only: never create
    try:
        found = await store.alerts(status=AlertStatus.FIRING if active else None)
    finally:
        await store.aclose()
    return [json_ready({f: getattr(a, f) for f in a.__dataclass_fields__}) for a in found]


def _headline(data: dict[str, Any]) -> list[tuple[str, str]]:
    latency = data.get("latency_ms") or {}
    return [
        ("window", str(data.get("window"))),
        ("requests", f"{data.get('total_requests', 0):,}"),
        ("success rate", _percent(data.get("success_rate"))),
        ("error rate", _percent(data.get("error_rate"))),
        ("requests/s", _number(data.get("requests_per_second"), ".3f")),
        ("latency p50 / p95 / p99 ms", " / ".join(
            _number(latency.get(k), ".0f") for k in ("p50", "p95", "p99")
        )),
        ("cache hit rate", _percent(data.get("cache_hit_rate"))),
        ("total cost", f"${data.get('total_cost', 0.0):.4f}"),
        ("cost per request", f"${data.get('cost_per_request') or 0.0:.6f}"),
        ("error types", ", ".join(f"{k} {v}" for k, v in (data.get("error_types") or {}).items())
         or "-"),
    ]  # fmt: skip


def _print_pairs(pairs: list[tuple[str, str]]) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table("metric", "value", show_header=False)
        for name, value in pairs:
            table.add_row(name, value)
        Console().print(table)
        return
    for name, value in pairs:
        print(f"{name}\t{value}")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)
