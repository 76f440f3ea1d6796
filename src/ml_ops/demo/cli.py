"""`devora demo`: the tour from the shell, with a progress bar, the events as they
happen, the summary table, and the dashboard's address; then it keeps serving until
Ctrl-C (or stops, with `--exit`).

`ai.cli.app` loads this module by name (`ai` never imports `ml_ops`). Process-wide
matters are settled here and nowhere else: devora's and uvicorn's log lines go to
`tour.log` in the state folder instead of the terminal, and `REDIS_URL` is set aside (the
tour runs on embedded defaults: the response cache and budget counters in memory).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ai.errors import DevoraError, redact
from ml_ops.demo.events import EventKind, TourEvent
from ml_ops.demo.settings import DEFAULT_PORT, TourSettings
from ml_ops.demo.summary import TourSummary, summary_table
from ml_ops.demo.tour import Tick, Tour

_LOGGERS = ("ai", "ml_ops", "uvicorn", "httpx")
_STYLES = {
    EventKind.BREAKER: "magenta",
    EventKind.ALERT: "yellow",
    EventKind.BUDGET: "yellow",
    EventKind.DOWNGRADE: "cyan",
    EventKind.EXPERIMENT: "green",
}


@dataclass(slots=True)
class _Stage:
    """How far the command got, for its exit status on Ctrl-C."""

    summarised: bool = False


def run_tour_command(
    *,
    duration: float = 60.0,
    exit_after: bool = False,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    docs: str | Path | None = None,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> int:
    """Run the tour; the exit status: 0, 1 on a failure (one line on stderr), 130 when
    Ctrl-C stops it before the summary (after it, Ctrl-C is the way to stop: 0)."""
    console = console or Console()
    environ = dict(os.environ if environ is None else environ)
    stage = _Stage()
    try:
        folder = None if docs is None else Path(docs)
        settings = TourSettings(duration=duration, host=host, port=port, docs=folder)
        if environ.pop("REDIS_URL", None) is not None or os.environ.get("REDIS_URL"):
            os.environ.pop("REDIS_URL", None)  # the runtime reads the process environment
            console.print("[dim]REDIS_URL is set; the tour ignores it and runs embedded.[/dim]")
        asyncio.run(_tour(settings, environ, console, stage, exit_after=exit_after))
    except KeyboardInterrupt:
        console.print("\nStopped.")
        return 0 if stage.summarised else 130
    except Exception as error:
        if debug:
            traceback.print_exception(error, file=sys.stderr)
        said = str(error) if isinstance(error, DevoraError) else f"{type(error).__name__}: {error}"
        hint = "" if debug else " (--debug shows the traceback)"
        sys.stderr.write(f"devora demo: error: {' '.join(redact(said).split())}{hint}\n")
        return 1
    return 0


async def _tour(
    settings: TourSettings,
    environ: Mapping[str, str],
    console: Console,
    stage: _Stage,
    *,
    exit_after: bool,
) -> TourSummary:
    console.print(
        f"[bold]devora demo[/bold]: {settings.duration:g} s of traffic through the gateway, "
        "then the summary and the dashboard."
    )
    tour = Tour(settings, environ=environ, say=lambda line: console.print(escape(line)))
    with _logs_to(tour.state_dir / "tour.log"):
        async with tour:
            summary = await _run_with_progress(tour, console)
            stage.summarised = True
            console.print(summary_table(summary))
            _print_where(console, tour)
            if not exit_after:
                console.print("Serving until Ctrl-C (the dashboard keeps the tour's data).")
                await asyncio.Event().wait()
    return summary


async def _run_with_progress(tour: Tour, console: Console) -> TourSummary:
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    )

    def tick(state: Tick) -> None:
        stats = (
            f"{state.calls} calls, {state.in_flight} in flight, {state.errors} errors, "
            f"${state.cost:.4f}"
        )
        progress.update(
            task, completed=min(state.elapsed, state.duration), description=state.chapter,
            stats=stats,
        )  # fmt: skip

    def event(happened: TourEvent) -> None:
        style = _STYLES.get(happened.kind, "white")
        line = f"[dim]{happened.at:6.1f} s[/dim]  [{style}]{escape(happened.text)}[/{style}]"
        progress.console.print(line)

    with progress:
        task = progress.add_task("starting", total=tour.settings.duration, stats="")
        tour.events.listener = event
        try:
            return await tour.run(on_tick=tick)
        finally:
            tour.events.listener = None


def _print_where(console: Console, tour: Tour) -> None:
    example = next(iter(tour.keys.items()), ("", ""))
    # A key of the user's own (DEVORA_ADMIN_KEY) is not echoed, as `devora serve` does not.
    shown = tour.admin_key if tour.admin_key_generated else "$DEVORA_ADMIN_KEY"
    console.print(f"[bold]Dashboard:[/bold] {tour.dashboard_url}  (admin key: {shown})")
    console.print(
        f"[bold]OpenAI-compatible API:[/bold] {tour.api_url}  "
        f"(e.g. {example[0]}'s virtual key: {example[1]})"
    )
    state = tour.state_dir
    fake = tour.upstream.fake
    console.print(
        f"[bold]Gateway config:[/bold] {state / 'devora.yaml'}  "
        f"[bold]logs:[/bold] {state / 'tour.log'}"
        + ("" if fake is None else f"  [bold]fake upstream log:[/bold] {fake.log}")
    )


@contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """While the tour runs, devora's and uvicorn's log lines go to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate, logger.level))
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, propagate, level in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)
        handler.close()


__all__ = ["run_tour_command"]
