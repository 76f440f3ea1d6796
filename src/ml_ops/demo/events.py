"""The tour's log of what happened when: a breaker opened, an alert fired, a budget
crossed 80%, the experiment decided. Printed above the progress bar as it happens and
kept for the summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    """The kinds of moments the tour reports."""

    BREAKER = "breaker"
    ALERT = "alert"
    BUDGET = "budget"
    DOWNGRADE = "downgrade"
    EXPERIMENT = "experiment"


@dataclass(frozen=True, slots=True)
class TourEvent:
    """One moment: seconds after traffic started, its kind, and a sentence."""

    at: float
    kind: EventKind
    text: str


class EventLog:
    """Events in order; `listener` (if set) hears each one as it is added."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start = clock()
        self.events: list[TourEvent] = []
        self.listener: Callable[[TourEvent], None] | None = None

    def restart(self) -> None:
        """Count time from now (the start of traffic)."""
        self._start = self._clock()

    def elapsed(self) -> float:
        """Seconds since the start of traffic."""
        return self._clock() - self._start

    def add(self, kind: EventKind, text: str) -> TourEvent:
        event = TourEvent(self.elapsed(), kind, text)
        self.events.append(event)
        if self.listener is not None:
            self.listener(event)
        return event

    def first(self, kind: EventKind, contains: str = "") -> TourEvent | None:
        """The first event of `kind` whose text contains `contains`."""
        return next((e for e in self.events if e.kind is kind and contains in e.text), None)


__all__ = ["EventKind", "EventLog", "TourEvent"]
