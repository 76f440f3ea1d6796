"""Progress of an ingest, stage by stage (reading, chunking, embedding, writing), with ETA.

On a terminal, Rich bars on stderr (`RichIngestProgress`); otherwise plain lines on stderr
at most every few seconds per stage, plus one when a stage starts, first moves and ends
(`LineIngestProgress`), so a log or CI shows where a long ingest is and how long is left:

    embedding: 208/344 chunks (60%), 7.6 chunks/s, ETA 18s

Rates come from a sliding window that starts at a stage's first unit of work, so the
model load before the first batch does not drag the ETA down for the whole run.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TextIO

from ai.core.clock import Clock, SystemClock

RATE_WINDOW_S = 30.0
LINE_INTERVAL_S = 2.0


class Stage(StrEnum):
    """The stages of an ingest, in order."""

    READING = "reading"
    CHUNKING = "chunking"
    EMBEDDING = "embedding"
    WRITING = "writing"


UNITS = {
    Stage.READING: "files",
    Stage.CHUNKING: "files",
    Stage.EMBEDDING: "chunks",
    Stage.WRITING: "files",
}


class IngestProgress(Protocol):
    """What the ingest reports; `start` a stage with its total, `advance` it, `finish` it."""

    def start(self, stage: Stage, total: int) -> None:
        """A stage begins with `total` units of work."""
        ...

    def advance(self, stage: Stage, amount: int = 1) -> None:
        """`amount` more units of the stage are done."""
        ...

    def finish(self, stage: Stage) -> None:
        """The stage has ended (done, or stopped)."""
        ...

    def close(self) -> None:
        """No more progress: release the terminal."""
        ...


@dataclass(slots=True)
class _Tally:
    total: int
    started: float
    done: int = 0
    samples: deque[tuple[float, int]] = field(default_factory=deque)
    last_line: float | None = None

    def record(self, now: float) -> None:
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW_S:
            self.samples.popleft()

    def rate(self) -> float | None:
        """Units per second over the window, None before two samples."""
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None


class LineIngestProgress:
    """Plain progress lines for logs and pipes: at a stage's start, first unit of work,
    then at most every `interval_s`, and its end."""

    def __init__(
        self,
        write: Callable[[str], object] | None = None,
        *,
        clock: Clock | None = None,
        interval_s: float = LINE_INTERVAL_S,
    ) -> None:
        self._write = write or _stderr_writer
        self._clock = clock or SystemClock()
        self._interval = interval_s
        self._tallies: dict[Stage, _Tally] = {}

    def start(self, stage: Stage, total: int) -> None:
        now = self._clock.monotonic()
        tally = self._tallies[stage] = _Tally(total, now)
        self._line(stage, tally, now)

    def advance(self, stage: Stage, amount: int = 1) -> None:
        tally = self._tallies.get(stage)
        if tally is None or amount <= 0:
            return
        now = self._clock.monotonic()
        first = tally.done == 0
        tally.done += amount
        tally.record(now)  # the window starts once the first units are done
        if first or tally.last_line is None or now - tally.last_line >= self._interval:
            self._line(stage, tally, now)

    def finish(self, stage: Stage) -> None:
        tally = self._tallies.pop(stage, None)
        if tally is None:
            return
        elapsed = self._clock.monotonic() - tally.started
        unit = UNITS[stage]
        self._write(f"{stage.value}: {tally.done:,}/{tally.total:,} {unit} in {_duration(elapsed)}")

    def close(self) -> None:
        self._tallies.clear()

    def _line(self, stage: Stage, tally: _Tally, now: float) -> None:
        tally.last_line = now
        self._write(describe(stage, tally.done, tally.total, tally.rate()))


def describe(stage: Stage, done: int, total: int, rate: float | None) -> str:
    """`embedding: 208/344 chunks (60%), 7.6 chunks/s, ETA 18s`."""
    unit = UNITS[stage]
    text = f"{stage.value}: {done:,}/{total:,} {unit}"
    if total:
        text += f" ({100 * done // total}%)"
    if rate is not None and rate > 0:
        text += f", {rate:,.1f} {unit}/s, ETA {_duration(max(0, total - done) / rate)}"
    return text


class RichIngestProgress:
    """Rich bars on stderr: one per stage, with count, elapsed time and time remaining."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description:>9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            speed_estimate_period=RATE_WINDOW_S,
        )
        self._tasks: dict[Stage, TaskID] = {}
        self._progress.start()

    def start(self, stage: Stage, total: int) -> None:
        self._tasks[stage] = self._progress.add_task(stage.value, total=total, unit=UNITS[stage])

    def advance(self, stage: Stage, amount: int = 1) -> None:
        if stage in self._tasks:
            self._progress.advance(self._tasks[stage], amount)

    def finish(self, stage: Stage) -> None:
        task = self._tasks.pop(stage, None)
        if task is not None:
            self._progress.stop_task(task)

    def close(self) -> None:
        self._progress.stop()


def progress_for(stream: TextIO | None = None) -> IngestProgress:
    """Rich bars when `stream` (stderr) is a terminal, plain lines otherwise."""
    target = stream or sys.stderr
    if target.isatty():
        return RichIngestProgress()
    return LineIngestProgress(lambda line: _write_line(target, line))


def _stderr_writer(line: str) -> None:
    _write_line(sys.stderr, line)


def _write_line(stream: TextIO, line: str) -> None:
    stream.write(line + "\n")
    stream.flush()


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
