"""A latency sketch: the bins of a DDSketch with 1% relative accuracy, kept sparse.

Why our own bins rather than a `ddsketch.DDSketch` object per group: the event store's
rollups already keep latencies as bins of exactly this mapping
(`ml_ops.store.rollup.sketch_key`), so a monitor restored from rollups adds their bins
as they are; bins merge across slots and processes by adding counts and serialise as
plain `[key, count]` pairs without reading DDSketch's private `_store`. The quantile is
DDSketch's own rule (`DDSketch.get_quantile_value`: the lower key at rank
`q * (count - 1)`), checked against the library in the tests, and `to_ddsketch()` hands
the same data to the library's public API for anyone who wants a `DDSketch`.

Memory is one dict entry per occupied bin: with 1% accuracy, latencies from 1 ms to one
hour span about 760 bins, whatever the number of values added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ddsketch import DDSketch

from ml_ops.store.rollup import RELATIVE_ACCURACY, bin_value, sketch_key

QUANTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.50),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
)
"""The percentiles every latency summary reports, by name."""


class LatencySketch:
    """Mergeable bins of positive values (milliseconds here) with their exact sum.

    `add` a value, `merge` another sketch, read `quantile(q)` (within 1% of the true
    value at that rank) or `summary()`; `to_dict`/`from_dict` for snapshots.
    """

    __slots__ = ("bins", "count", "total")

    def __init__(self, bins: Mapping[int, int] | None = None, total: float = 0.0) -> None:
        self.bins: dict[int, int] = dict(bins) if bins else {}
        self.count: int = sum(self.bins.values()) if bins else 0
        self.total: float = total

    def add(self, value: float) -> None:
        """Count one value."""
        self.add_key(sketch_key(value), value)

    def add_key(self, key: int, value: float, count: int = 1) -> None:
        """Count `count` values of bin `key` whose sum is `value` (key precomputed)."""
        self.bins[key] = self.bins.get(key, 0) + count
        self.count += count
        self.total += value

    def merge(self, other: LatencySketch) -> None:
        """Add `other`'s values to this sketch (the result is as if both saw every value)."""
        bins = self.bins
        for key, count in other.bins.items():
            bins[key] = bins.get(key, 0) + count
        self.count += other.count
        self.total += other.total

    def copy(self) -> LatencySketch:
        """An independent sketch with the same values."""
        twin = LatencySketch.__new__(LatencySketch)
        twin.bins = dict(self.bins)
        twin.count = self.count
        twin.total = self.total
        return twin

    @property
    def average(self) -> float | None:
        """The exact mean, or None when empty."""
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The value at quantile `q` (0..1) within 1% relative error; None when empty."""
        return self.quantiles([q])[0]

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        """Several quantiles in one pass over the sorted bins (DDSketch's lower-rank rule)."""
        if any(q < 0 or q > 1 for q in qs):
            raise ValueError(f"quantiles must be within [0, 1], got {list(qs)}")
        if not self.count:
            return [None] * len(qs)
        ranks = sorted((q * (self.count - 1), index) for index, q in enumerate(qs))
        found: list[float | None] = [None] * len(qs)
        position = 0
        running = 0
        for key in sorted(self.bins):
            running += self.bins[key]
            while position < len(ranks) and running > ranks[position][0]:
                found[ranks[position][1]] = bin_value(key)
                position += 1
            if position == len(ranks):
                break
        return found

    def summary(self) -> dict[str, float | int | None]:
        """`count`, `avg` and the `QUANTILES` by name (None when empty): the stats shape."""
        values = self.quantiles([q for _, q in QUANTILES])
        result: dict[str, float | int | None] = {"count": self.count, "avg": self.average}
        result.update({name: value for (name, _), value in zip(QUANTILES, values, strict=True)})
        return result

    def cumulative_counts(self, bounds: Iterable[float]) -> list[int]:
        """How many values lie at or below each of `bounds` (ascending), judging each bin
        by its representative value: Prometheus histogram buckets from the bins."""
        ordered = sorted(self.bins.items())
        counts: list[int] = []
        running = 0
        index = 0
        for bound in bounds:
            while index < len(ordered) and bin_value(ordered[index][0]) <= bound:
                running += ordered[index][1]
                index += 1
            counts.append(running)
        return counts

    def to_ddsketch(self) -> DDSketch:
        """The same data as a `ddsketch.DDSketch` (built through its public `add`)."""
        sketch = DDSketch(RELATIVE_ACCURACY)
        for key, count in self.bins.items():
            sketch.add(bin_value(key), count)
        return sketch

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: `{"bins": [[key, count], ...], "total": sum}`."""
        return {"bins": [[key, count] for key, count in sorted(self.bins.items())],
                "total": self.total}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencySketch:
        """Rebuild a sketch written by `to_dict`."""
        return cls({int(key): int(count) for key, count in data["bins"]}, float(data["total"]))

    @classmethod
    def from_bins(cls, bins: Mapping[int, int], total: float | None = None) -> LatencySketch:
        """A sketch from store rollup bins; the sum is estimated from the bins if unknown."""
        if total is None:
            total = sum(bin_value(key) * count for key, count in bins.items())
        return cls(bins, total)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencySketch):
            return NotImplemented
        return self.bins == other.bins and self.count == other.count

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LatencySketch(count={self.count}, bins={len(self.bins)})"
