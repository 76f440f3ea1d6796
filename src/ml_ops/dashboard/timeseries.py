"""Chart data: the window's requests, errors, latency and TTFT percentiles, cost, tokens by
model and cache hit rate per time bucket, as columns (one list per series, uPlot's shape).

The event store is the source: the records of the window (newest first, at most
`max_records`, 50,000 by default; `truncated` says when the oldest were left out) plus the
store's hourly rollups for any part of the window older than raw retention. Each bucket is
summed with the monitor's own `GroupStats` (DDSketch percentiles, 1% relative error), so
the charts and the overview cards agree. Without a store, the monitor's per-slot request
and error counts are all there is (`source: "monitor"`).

Buckets are a "nice" width (5 s ... 1 week) giving about `TARGET_BUCKETS` points, aligned to
the epoch; empty buckets have zero counts and null rates (a gap in the line).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ai.core.records import RequestRecord
from ml_ops.monitoring.groups import Contribution, GroupStats, KeyLimits
from ml_ops.store.base import EventStore, RecordQuery, Rollup

TARGET_BUCKETS = 60
NICE_WIDTHS: tuple[int, ...] = (
    5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172800, 604800,
)  # fmt: skip
"""Bucket widths in seconds, finest first."""
TOP_MODELS = 6
"""Models drawn in the tokens chart; the rest are summed as "other"."""
DEFAULT_MAX_RECORDS = 50_000
"""Records read per chart at most (the newest): reading one takes ~130 us from SQLite."""
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def window_seconds(window: str) -> int | None:
    """`"5m"` -> 300, `"24h"` -> 86400, `"all"` -> None; ValueError for anything else."""
    if window == "all":
        return None
    amount, unit = window[:-1], window[-1:]
    if not amount.isdigit() or unit not in _UNITS or int(amount) < 1:
        raise ValueError(f"unknown window {window!r}: use a number and s, m, h, d or w")
    return int(amount) * _UNITS[unit]


def bucket_width(span_seconds: float, target: int = TARGET_BUCKETS) -> int:
    """The finest nice width that covers `span_seconds` in at most `target` buckets."""
    for width in NICE_WIDTHS:
        if span_seconds / width <= target:
            return width
    return NICE_WIDTHS[-1] * math.ceil(span_seconds / target / NICE_WIDTHS[-1])


@dataclass(slots=True)
class _Bucket:
    total: GroupStats = field(default_factory=GroupStats)
    tokens: dict[str, int] = field(default_factory=dict)

    def add_tokens(self, model: str, tokens: int) -> None:
        self.tokens[model] = self.tokens.get(model, 0) + tokens


@dataclass(slots=True)
class _Grid:
    """Buckets of `width` seconds from `first` (an epoch-aligned start) to `end`."""

    first: int
    width: int
    count: int
    limits: KeyLimits
    buckets: list[_Bucket] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.buckets = [_Bucket() for _ in range(self.count)]

    def at(self, moment: float) -> _Bucket | None:
        index = int((moment - self.first) // self.width)
        return self.buckets[index] if 0 <= index < self.count else None


def _grid(start: datetime, end: datetime, limits: KeyLimits) -> _Grid:
    span = max((end - start).total_seconds(), 1.0)
    width = bucket_width(span)
    first = int(start.timestamp() // width) * width
    count = max(1, math.ceil((end.timestamp() - first) / width))
    return _Grid(first, width, count, limits)


async def window_start(store: EventStore, window: str, now: datetime) -> datetime:
    """Where the window begins: `now` minus its length, or the oldest data for `"all"`."""
    seconds = window_seconds(window)
    if seconds is not None:
        return now - timedelta(seconds=seconds)
    oldest = await store.query(RecordQuery(limit=1))
    start = oldest[0].timestamp if oldest else now - timedelta(hours=1)
    earlier = await store.rollups(until=start)
    if earlier:
        start = min(start, min(r.bucket_start for r in earlier))
    return min(start, now - timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class WindowRecords:
    """What the store holds for a window: its records (newest first, at most the limit
    asked for; `truncated` when older ones were left out) and the rollups of what
    retention pruned. Read once, it serves the charts and the routing view."""

    window: str
    start: datetime
    end: datetime
    records: list[RequestRecord]
    rollups: list[Rollup]
    truncated: bool


async def read_window(
    store: EventStore, *, window: str, now: datetime, max_records: int = DEFAULT_MAX_RECORDS
) -> WindowRecords:
    """The records and rollups of `window` up to `now`."""
    start = await window_start(store, window, now)
    query = RecordQuery(since=start, until=now, limit=max_records, newest_first=True)
    records = await store.query(query)
    rollups = await store.rollups(since=start, until=now)
    return WindowRecords(window, start, now, records, rollups, len(records) >= max_records)


async def window_series(data: WindowRecords, limits: KeyLimits | None = None) -> dict[str, Any]:
    """The chart columns of records read with `read_window` (see the module docstring),
    summed in a worker thread: a large window must not hold up the event loop."""
    start, now = data.start, data.end
    payload = await asyncio.to_thread(
        _summed, data.records, data.rollups, start, now, limits or KeyLimits()
    )
    payload.update(
        window=data.window,
        source="store",
        start=start.isoformat(),
        end=now.isoformat(),
        records=len(data.records),
        truncated=data.truncated,
    )
    return payload


async def store_series(
    store: EventStore,
    *,
    window: str,
    now: datetime,
    limits: KeyLimits | None = None,
    max_records: int = DEFAULT_MAX_RECORDS,
) -> dict[str, Any]:
    """The window's chart columns from the store: `read_window`, then `window_series`."""
    data = await read_window(store, window=window, now=now, max_records=max_records)
    return await window_series(data, limits)


def _summed(
    records: Sequence[RequestRecord],
    rollups: Sequence[Rollup],
    start: datetime,
    now: datetime,
    limits: KeyLimits,
) -> dict[str, Any]:
    grid = _grid(start, now, limits)
    for record in records:
        bucket = grid.at(record.timestamp.timestamp())
        if bucket is not None:
            contribution = Contribution(record)
            bucket.total.add(contribution, grid.limits)
            bucket.add_tokens(contribution.series[1], _tokens(contribution))
    _add_rollups(grid, rollups)
    return _columns(grid)


def _tokens(contribution: Contribution) -> int:
    return contribution.input_tokens + contribution.output_tokens


def _add_rollups(grid: _Grid, rollups: Iterable[Rollup]) -> None:
    for rollup in rollups:
        bucket = grid.at(rollup.bucket_start.timestamp())
        if bucket is None:
            continue
        group = GroupStats.from_rollup(rollup)
        bucket.total.merge(group, grid.limits)
        bucket.add_tokens(rollup.model or "unknown", group.input_tokens + group.output_tokens)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _columns(grid: _Grid) -> dict[str, Any]:
    totals = [bucket.total for bucket in grid.buckets]
    series: dict[str, list[Any]] = {
        "requests": [g.requests for g in totals],
        "errors": [g.failures for g in totals],
        "error_rate": [_ratio(g.failures, g.requests) for g in totals],
        "cost": [g.cost for g in totals],
        "cache_hit_rate": [_ratio(g.cached, g.requests) for g in totals],
    }
    for prefix, sketch_of in (("latency", "latency"), ("ttft", "ttft")):
        values = [getattr(g, sketch_of).quantiles([q for _, q in _QUANTILES]) for g in totals]
        for index, (name, _) in enumerate(_QUANTILES):
            series[f"{prefix}_{name}"] = [row[index] for row in values]
    return {
        "bucket_seconds": grid.width,
        "t": [grid.first + i * grid.width for i in range(grid.count)],
        "series": series,
        "tokens_by_model": _tokens_by_model([bucket.tokens for bucket in grid.buckets]),
    }


def _tokens_by_model(per_bucket: Sequence[Mapping[str, int]]) -> dict[str, list[int]]:
    totals: dict[str, int] = {}
    for tokens in per_bucket:
        for model, count in tokens.items():
            totals[model] = totals.get(model, 0) + count
    ranked = sorted(totals, key=lambda m: (-totals[m], m))
    shown, rest = ranked[:TOP_MODELS], set(ranked[TOP_MODELS:])
    columns = {model: [tokens.get(model, 0) for tokens in per_bucket] for model in shown}
    if rest:
        columns["other"] = [sum(v for m, v in tokens.items() if m in rest) for tokens in per_bucket]
    return columns


def monitor_series(stats: Mapping[str, Any], window: str) -> dict[str, Any]:
    """Chart columns from the monitor alone: requests and errors per slot (its
    `error_trends`); every other series is null."""
    trend = list(stats.get("error_trends") or [])
    count = len(trend)
    starts = [int(datetime.fromisoformat(point["start"]).timestamp()) for point in trend]
    nothing: list[Any] = [None] * count
    series: dict[str, list[Any]] = {
        "requests": [point["requests"] for point in trend],
        "errors": [point["errors"] for point in trend],
        "error_rate": [point["error_rate"] for point in trend],
        "cost": list(nothing),
        "cache_hit_rate": list(nothing),
    }
    for prefix in ("latency", "ttft"):
        for name, _ in _QUANTILES:
            series[f"{prefix}_{name}"] = list(nothing)
    return {
        "window": window,
        "source": "monitor",
        "bucket_seconds": trend[0]["seconds"] if trend else None,
        "t": starts,
        "series": series,
        "tokens_by_model": {},
        "records": None,
        "truncated": False,
    }


async def daily_cost(
    store: EventStore, *, days: int, now: datetime, max_records: int = DEFAULT_MAX_RECORDS
) -> dict[date, float]:
    """Spend per UTC day over the last `days` days (today included), zeros included."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    spend = {first + timedelta(days=i): 0.0 for i in range(days)}
    query = RecordQuery(since=start, until=now, limit=max_records, newest_first=True)
    for record in await store.query(query):
        day = record.timestamp.astimezone(UTC).date()
        if day in spend:
            spend[day] += record.estimated_cost or 0.0
    for rollup in await store.rollups(since=start, until=now):
        day = rollup.bucket_start.astimezone(UTC).date()
        if day in spend:
            spend[day] += rollup.cost
    return spend
