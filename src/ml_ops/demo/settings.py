"""What one tour runs: how long, where it listens, which seed; and its time line.

The tour is written for one minute (`FULL_TOUR_SECONDS`). A shorter run (the tests use a
few seconds) keeps the same story and the same number of calls, with everything that
takes time compressed by `pace`: upstream latency, retry delays, circuit cool-downs and
the chapters' start and end. A longer run stretches the schedule at realistic latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ai.errors import ConfigurationError

FULL_TOUR_SECONDS = 60.0
MIN_TOUR_SECONDS = 3.0
DEFAULT_PORT = 8765


@dataclass(frozen=True, slots=True)
class TourSettings:
    """One tour: `duration` seconds of traffic, served on `host`:`port` (0: any free
    port; a busy default port falls back to a free one), calls drawn from `seed`.
    `docs` is the folder of Markdown files the RAG chapter indexes (None: the
    repository's `docs/`), `state_dir` where the SQLite files go (None: a temporary
    folder removed at exit)."""

    duration: float = FULL_TOUR_SECONDS
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    seed: int = 7
    docs: Path | None = None
    state_dir: Path | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.duration) or self.duration < MIN_TOUR_SECONDS:
            raise ConfigurationError(
                f"--duration must be at least {MIN_TOUR_SECONDS:g} seconds, got {self.duration:g}."
            )
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"--port must be 0-65535, got {self.port}.")

    @property
    def pace(self) -> float:
        """How much of real time each second of the one-minute script takes (<= 1)."""
        return min(1.0, self.duration / FULL_TOUR_SECONDS)

    @property
    def stretch(self) -> float:
        """Seconds of run time per second of the one-minute script."""
        return self.duration / FULL_TOUR_SECONDS

    def at(self, fraction: float) -> float:
        """Seconds after the start of traffic at which `fraction` of the tour is done."""
        return self.duration * fraction


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the tour, as fractions of its duration."""

    start: float
    end: float

    def contains(self, fraction: float) -> bool:
        return self.start <= fraction < self.end


@dataclass(frozen=True, slots=True)
class Timeline:
    """When each chapter runs, as fractions of the tour (the story told in the README)."""

    research: Span = Span(0.02, 0.98)  # the research team spends its budget (until it
    # has seen a few calls downgraded: see `workload`)
    experiment: Span = Span(0.02, 0.80)  # support answers under the prompt experiment
    rag: Span = Span(0.03, 0.96)  # questions over the docs
    burst: Span = Span(0.20, 0.32)  # upstream 429s and 5xx at a high rate
    outage: Span = Span(0.42, 0.66)  # gpt-4o down: retries, breaker, fallback, alert

    def chapter(self, fraction: float) -> str:
        """What the progress bar says is happening at `fraction` of the tour."""
        if fraction < self.burst.start:
            return "steady traffic; research spends its budget"
        if self.burst.contains(fraction):
            return "burst of upstream 429s and 5xx"
        if self.outage.contains(fraction):
            return "gpt-4o outage: breaker and fallback"
        if fraction >= self.outage.end:
            return "recovery: breaker closes, alert resolves"
        return "steady traffic"


TIMELINE = Timeline()

__all__ = ["DEFAULT_PORT", "FULL_TOUR_SECONDS", "TIMELINE", "Span", "Timeline", "TourSettings"]
