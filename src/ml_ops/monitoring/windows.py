"""Sliding windows as rings of time slots that cascade into coarser ones.

Each window is a ring of slots aligned to the epoch (`WindowSpec("5m", slot_seconds=60,
slots=5)`); the windows are ordered finest first and each slot width is a multiple of the
one before. A record is counted once, in the open slot of the finest ring. When a slot
closes (the clock passes its end) its groups are merged into the slot of the next ring
that contains it, and the last ring's closing slots into the all-time totals. So:

- a window's view = its ring's slots in range + the open slot of every finer ring (the
  data not carried up yet); nothing is counted twice because a slot is carried up once,
  when it closes;
- the cost per record is one group update per dimension, whatever the number of windows;
- memory is bounded: each ring keeps `slots` slots, each slot's dimensions are bounded
  by `KeyLimits`.

A record older than the open slot of the finest ring (a slow call's record, a record read
back from a shared store) goes to every ring whose slot for its time is still in range,
stopping at the first ring whose slot is still open (that slot will carry it up).

Records are counted in batches: `add` appends a record to the pending run (consecutive
records bound for the same finest slot) and `ml_ops.monitoring.batch` counts the run with
numpy when it holds `BATCH_RECORDS`, when the next record is bound elsewhere, before any
slot closes, and before anything reads or changes the counts (`view`, `buckets`, `merge`,
`add_slot`, `footprint`, `to_dict`). So every read sees every record added before it, and
the counts are those of adding the records one by one in their order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.core.records import RequestRecord
from ai.errors import ConfigurationError
from ml_ops.monitoring.batch import count_records
from ml_ops.monitoring.groups import KeyLimits, Slot

ALL_TIME = "all"
"""The name of the window that covers everything since the monitor's origin."""

BATCH_RECORDS = 8192
"""Pending records are counted at the latest when this many have come (bounds the memory
they hold; larger batches spread numpy's fixed cost thinner)."""


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """One sliding window: `slots` slots of `slot_seconds` each, the newest one open."""

    name: str
    slot_seconds: int
    slots: int

    def __post_init__(self) -> None:
        if not self.name or self.name == ALL_TIME:
            raise ConfigurationError(f"a window needs a name other than {ALL_TIME!r}")
        if self.slot_seconds < 1 or self.slots < 1:
            raise ConfigurationError(
                f"window {self.name!r}: slot_seconds and slots must be at least 1"
            )

    @property
    def seconds(self) -> int:
        """The window's length."""
        return self.slot_seconds * self.slots


DEFAULT_WINDOWS: tuple[WindowSpec, ...] = (
    WindowSpec("1m", slot_seconds=10, slots=6),
    WindowSpec("5m", slot_seconds=60, slots=5),
    WindowSpec("1h", slot_seconds=300, slots=12),
    WindowSpec("24h", slot_seconds=3600, slots=24),
)
"""1 minute of 10 s slots, 5 minutes of 1 min, 1 hour of 5 min, 24 hours of 1 h."""


def check_windows(specs: Sequence[WindowSpec]) -> None:
    """Raise `ConfigurationError` unless the windows can cascade (finest first, each slot
    width a multiple of the previous one, distinct names)."""
    if not specs:
        raise ConfigurationError("at least one window is needed")
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"window names must be distinct, got {names}")
    for finer, coarser in itertools.pairwise(specs):
        if coarser.slot_seconds % finer.slot_seconds or coarser.slot_seconds <= finer.slot_seconds:
            raise ConfigurationError(
                f"window {coarser.name!r}: its slot_seconds ({coarser.slot_seconds}) must be a "
                f"larger multiple of {finer.name!r}'s ({finer.slot_seconds})"
            )


def _floor(moment: float, width: int) -> int:
    return int(moment // width) * width


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time slot of a window, summed over every group: the error trend's points."""

    start: int
    seconds: int
    requests: int
    errors: int
    error_types: Mapping[str, int]


class _Ring:
    __slots__ = ("boundary", "slots", "spec")

    def __init__(self, spec: WindowSpec, boundary: int) -> None:
        self.spec = spec
        self.boundary = boundary  # start of the open slot; earlier slots are closed
        self.slots: dict[int, Slot] = {}

    @property
    def oldest(self) -> int:
        return self.boundary - (self.spec.slots - 1) * self.spec.slot_seconds

    def open_slot(self) -> Slot | None:
        return self.slots.get(self.boundary)


class WindowSet:
    """Every window of one monitor, plus all-time totals; see the module docstring."""

    def __init__(self, specs: Sequence[WindowSpec], limits: KeyLimits, now: float) -> None:
        check_windows(specs)
        self.specs = tuple(specs)
        self.limits = limits
        self.rings = [_Ring(spec, _floor(now, spec.slot_seconds)) for spec in specs]
        self.all_time = Slot(0, limits)
        self.now = now
        self.origin = now  # the earliest moment the totals cover
        self._run: list[RequestRecord] = []  # records not counted yet, all bound for
        self._run_labels: dict[int, str] = {}  # the finest slot at `_run_start`
        self._run_start: int | None = None
        self.open_start = 0.0  # the finest ring's open slot: [open_start, open_end)
        self.open_end = 0.0
        self._open_slot = 0  # its start, as slots are keyed
        self._opened()

    def _opened(self) -> None:
        finest = self.rings[0]
        self._open_slot = finest.boundary
        self.open_start = float(finest.boundary)
        self.open_end = float(finest.boundary + finest.spec.slot_seconds)

    @property
    def names(self) -> tuple[str, ...]:
        return (*(spec.name for spec in self.specs), ALL_TIME)

    def advance(self, now: float) -> None:
        """Move to `now`: close (carry up) every slot that ended, drop slots out of range."""
        if now <= self.now:
            return
        self.now = now
        if now < self.open_end:
            return  # no slot of any ring ends before the finest open one does
        self.count_pending()
        for index, ring in enumerate(self.rings):
            width = ring.spec.slot_seconds
            new_boundary = _floor(now, width)
            if new_boundary <= ring.boundary:
                continue
            for start in sorted(s for s in ring.slots if ring.boundary <= s < new_boundary):
                self._carry_up(index, ring.slots[start])
            ring.boundary = new_boundary
            for start in [s for s in ring.slots if s < ring.oldest]:
                del ring.slots[start]
        self._opened()

    def _carry_up(self, index: int, slot: Slot) -> None:
        if index + 1 == len(self.rings):
            self.all_time.merge(slot)
            return
        upper = self.rings[index + 1]
        self._slot(upper, _floor(slot.start, upper.spec.slot_seconds)).merge(slot)

    def _slot(self, ring: _Ring, start: int) -> Slot:
        slot = ring.slots.get(start)
        if slot is None:
            slot = ring.slots[start] = Slot(start, self.limits)
        return slot

    def add(self, record: RequestRecord, moment: float, error_label: str | None = None) -> None:
        """Count `record`, which happened at `moment` (later than `now` counts as now);
        `error_label` is its own error label, if any. Call `advance` first when `moment`
        is outside `[open_start, open_end)`. Counted in a batch (see the module docstring)."""
        if moment >= self.open_start:
            start = self._open_slot
        else:
            start = _floor(moment, self.rings[0].spec.slot_seconds)
            self.origin = min(self.origin, moment)  # a record older than the monitor
        if start != self._run_start:
            self.count_pending()
            self._run_start = start
        if error_label is not None:
            self._run_labels[len(self._run)] = error_label
        self._run.append(record)
        if len(self._run) >= BATCH_RECORDS:
            self.count_pending()

    def count_pending(self) -> None:
        """Count the pending records into their slots now."""
        if not self._run:
            return
        records, labels, start = self._run, self._run_labels, self._run_start
        self._run, self._run_labels = [], {}
        finest = self.rings[0]
        if start is None or start >= finest.boundary:
            targets = [self._slot(finest, finest.boundary)]
        else:
            targets = self._targets(float(start), 0)
        count_records(records, labels, targets)

    def add_slot(self, slot: Slot, resolution: int) -> None:
        """Add pre-aggregated groups covering `resolution` seconds from `slot.start` (a store
        rollup) to the rings whose slots are at least that coarse, and to all-time."""
        self.count_pending()
        for target in self._targets(float(slot.start), resolution):
            target.merge(slot)
        self.origin = min(self.origin, float(slot.start))

    def _targets(self, moment: float, resolution: int) -> list[Slot]:
        moment = min(moment, self.now)
        targets: list[Slot] = []
        for ring in self.rings:
            width = ring.spec.slot_seconds
            if resolution and (resolution > width or width % resolution):
                continue  # this ring's slots are finer than the data
            start = _floor(moment, width)
            if start >= ring.boundary:
                targets.append(self._slot(ring, start))
                return targets  # an open slot carries it further up when it closes
            if start >= ring.oldest:
                targets.append(self._slot(ring, start))
        targets.append(self.all_time)
        return targets

    def _index(self, name: str) -> int:
        for index, spec in enumerate(self.specs):
            if spec.name == name:
                return index
        if name == ALL_TIME:
            return len(self.specs)
        raise ConfigurationError(f"unknown window {name!r}; choose one of {list(self.names)}")

    def view(self, name: str) -> tuple[Slot, float]:
        """The merged groups of window `name` and the moment its data starts from."""
        index = self._index(name)
        self.count_pending()
        merged = Slot(0, self.limits)
        if index == len(self.rings):
            parts: list[Slot] = [self.all_time]
            start = self.origin
        else:
            ring = self.rings[index]
            parts = [ring.slots[s] for s in sorted(ring.slots) if s >= ring.oldest]
            start = max(float(ring.oldest), self.origin)
        parts.extend(slot for slot in self._open_below(index) if slot is not None)
        for part in parts:
            merged.merge(part)
        return merged, start

    def _open_below(self, index: int) -> Iterable[Slot | None]:
        return (ring.open_slot() for ring in self.rings[:index])

    def buckets(self, name: str) -> list[Bucket]:
        """The window's slots oldest first, each summed over its series, empty ones too;
        the all-time window uses the coarsest ring's slots."""
        index = min(self._index(name), len(self.rings) - 1)
        self.count_pending()
        ring = self.rings[index]
        width = ring.spec.slot_seconds
        found: list[Bucket] = []
        for start in range(ring.oldest, ring.boundary + width, width):
            parts = [ring.slots.get(start)]
            if start == ring.boundary:
                parts.extend(self._open_below(index))
            found.append(_bucket(start, width, [p for p in parts if p is not None]))
        return found

    def merge(self, other: WindowSet) -> None:
        """Add another window set's counts (another process's snapshot) to this one."""
        if other.specs != self.specs:
            raise ConfigurationError("only monitors with the same windows can be merged")
        self.count_pending()
        other.count_pending()
        moment = max(self.now, other.now)
        self.advance(moment)
        other.advance(moment)
        for mine, theirs in zip(self.rings, other.rings, strict=True):
            for start, slot in theirs.slots.items():
                self._slot(mine, start).merge(slot)
        self.all_time.merge(other.all_time)
        self.origin = min(self.origin, other.origin)

    def footprint(self) -> dict[str, int]:
        """How many slots, groups and sketch bins are held: bounded whatever the volume."""
        self.count_pending()
        slots = [slot for ring in self.rings for slot in ring.slots.values()]
        slots.append(self.all_time)
        return {
            "slots": len(slots),
            "groups": sum(slot.group_count() for slot in slots),
            "sketch_bins": sum(slot.bin_count() for slot in slots),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state; `from_dict` rebuilds it in another process."""
        self.count_pending()
        return {
            "version": 1,
            "windows": [[s.name, s.slot_seconds, s.slots] for s in self.specs],
            "now": self.now,
            "origin": self.origin,
            "rings": [
                {"boundary": ring.boundary, "slots": [s.to_dict() for s in ring.slots.values()]}
                for ring in self.rings
            ],
            "all_time": self.all_time.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], limits: KeyLimits) -> WindowSet:
        """Rebuild a window set written by `to_dict` (any process, same windows)."""
        if data.get("version") != 1:
            raise ConfigurationError(f"unknown monitor snapshot version {data.get('version')!r}")
        specs = [WindowSpec(str(n), int(w), int(k)) for n, w, k in data["windows"]]
        windows = cls(specs, limits, float(data["now"]))
        windows.origin = float(data["origin"])
        for ring, saved in zip(windows.rings, data["rings"], strict=True):
            ring.boundary = int(saved["boundary"])
            for slot_data in saved["slots"]:
                slot = Slot.from_dict(slot_data, limits)
                ring.slots[slot.start] = slot
        windows.all_time = Slot.from_dict(data["all_time"], limits)
        windows._opened()
        return windows


def _bucket(start: int, seconds: int, parts: list[Slot]) -> Bucket:
    requests = errors = 0
    types: dict[str, int] = {}
    for part in parts:
        for group in part.series.values():
            requests += group.requests
            errors += group.failures
            for label, count in group.error_types.items():
                types[label] = types.get(label, 0) + count
    return Bucket(start, seconds, requests, errors, types)
