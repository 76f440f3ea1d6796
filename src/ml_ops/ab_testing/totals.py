"""Per-variant sufficient statistics: what the statistics engine needs, nothing per result.

`VariantTotals` keeps, for one variant in one weight period: exposures (variants served),
results, successes, count / sum / sum of squares of latency, cost and every custom
metric, the latency's DDSketch bins (1% relative accuracy, the monitor's and the event
store's bins) for percentiles, and, when the experiment has a CUPED covariate, the joint
sums of the primary metric and the covariate over the results that carry both. Totals add
up (`merge`), so per-process buffers, periods and processes combine by addition, and they
serialise to plain JSON for the experiment store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ai.core.records import Outcome, RequestRecord
from ai.errors import ConfigurationError
from ml_ops.ab_testing.experiment import (
    BUILTIN_METRICS,
    COST,
    LATENCY,
    SUCCESS_RATE,
    Experiment,
    check_metric,
)
from ml_ops.ab_testing.statistics import MeanSummary, ProportionSummary
from ml_ops.monitoring.sketch import LatencySketch
from ml_ops.store.rollup import sketch_key


@dataclass(slots=True)
class MetricSums:
    """Count, sum and sum of squares of one numeric metric."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, value: float) -> None:
        """Count one value."""
        self.n += 1
        self.total += value
        self.squares += value * value

    def merge(self, other: MetricSums) -> None:
        """Add `other`'s values."""
        self.n += other.n
        self.total += other.total
        self.squares += other.squares

    def summary(self) -> MeanSummary:
        """The engine's `MeanSummary` of these values."""
        return MeanSummary(n=self.n, sum=self.total, sum_squares=self.squares)

    def to_list(self) -> list[float]:
        """`[n, sum, sum of squares]`."""
        return [self.n, self.total, self.squares]

    @classmethod
    def from_list(cls, data: Any) -> MetricSums:
        """Read `to_list`'s form back."""
        n, total, squares = data
        return cls(int(n), float(total), float(squares))


@dataclass(slots=True)
class CovariateSums:
    """Joint sums of the primary metric y and the covariate x over the same results."""

    n: int = 0
    sum_y: float = 0.0
    sum_y2: float = 0.0
    sum_x: float = 0.0
    sum_x2: float = 0.0
    sum_xy: float = 0.0

    def add(self, y: float, x: float) -> None:
        """Count one result with primary value `y` and covariate `x`."""
        self.n += 1
        self.sum_y += y
        self.sum_y2 += y * y
        self.sum_x += x
        self.sum_x2 += x * x
        self.sum_xy += x * y

    def merge(self, other: CovariateSums) -> None:
        """Add `other`'s sums."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> MeanSummary:
        """A `MeanSummary` of y carrying the covariate sums (CUPED applies to it)."""
        return MeanSummary(self.n, self.sum_y, self.sum_y2, self.sum_x, self.sum_x2, self.sum_xy)

    def to_list(self) -> list[float]:
        """The six sums, in field order."""
        return [getattr(self, name) for name in self.__slots__]

    @classmethod
    def from_list(cls, data: Any) -> CovariateSums:
        """Read `to_list`'s form back."""
        n, *sums = data
        return cls(int(n), *(float(s) for s in sums))


@dataclass(slots=True)
class VariantTotals:
    """Everything counted for one variant in one period (see the module docstring)."""

    exposures: int = 0
    results: int = 0
    successes: int = 0
    latency: MetricSums = field(default_factory=MetricSums)
    latency_bins: dict[int, int] = field(default_factory=dict)
    cost: MetricSums = field(default_factory=MetricSums)
    metrics: dict[str, MetricSums] = field(default_factory=dict)
    covariate: CovariateSums | None = None

    def merge(self, other: VariantTotals) -> None:
        """Add `other`'s counts and sums to these."""
        self.exposures += other.exposures
        self.results += other.results
        self.successes += other.successes
        self.latency.merge(other.latency)
        for key, count in other.latency_bins.items():
            self.latency_bins[key] = self.latency_bins.get(key, 0) + count
        self.cost.merge(other.cost)
        for name, sums in other.metrics.items():
            self.metrics.setdefault(name, MetricSums()).merge(sums)
        if other.covariate is not None:
            if self.covariate is None:
                self.covariate = CovariateSums()
            self.covariate.merge(other.covariate)

    def proportion(self) -> ProportionSummary:
        """Results and successes, for success_rate."""
        return ProportionSummary(n=self.results, successes=self.successes)

    def mean(self, metric: str) -> MeanSummary:
        """The `MeanSummary` of `metric` (latency_ms, cost or a custom one)."""
        if metric == LATENCY:
            return self.latency.summary()
        if metric == COST:
            return self.cost.summary()
        if metric == SUCCESS_RATE:
            return self.proportion().to_mean_summary()
        return self.metrics.get(metric, MetricSums()).summary()

    def sketch(self) -> LatencySketch:
        """The latency sketch (percentiles within 1%)."""
        return LatencySketch(self.latency_bins, self.latency.total)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (bins as `[[key, count], ...]`)."""
        return {
            "exposures": self.exposures,
            "results": self.results,
            "successes": self.successes,
            "latency": self.latency.to_list(),
            "latency_bins": [[k, c] for k, c in sorted(self.latency_bins.items())],
            "cost": self.cost.to_list(),
            "metrics": {name: sums.to_list() for name, sums in sorted(self.metrics.items())},
            "covariate": None if self.covariate is None else self.covariate.to_list(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VariantTotals:
        """Read `to_dict`'s form back."""
        covariate = data.get("covariate")
        return cls(
            exposures=int(data["exposures"]),
            results=int(data["results"]),
            successes=int(data["successes"]),
            latency=MetricSums.from_list(data["latency"]),
            latency_bins={int(k): int(c) for k, c in data["latency_bins"]},
            cost=MetricSums.from_list(data["cost"]),
            metrics={str(k): MetricSums.from_list(v) for k, v in data["metrics"].items()},
            covariate=None if covariate is None else CovariateSums.from_list(covariate),
        )


def exposure() -> VariantTotals:
    """The totals of one exposure (a variant served)."""
    return VariantTotals(exposures=1)


def result_totals(
    experiment: Experiment,
    *,
    success: bool,
    latency_ms: float | None = None,
    cost: float | None = None,
    metrics: Mapping[str, float] | None = None,
) -> VariantTotals:
    """The totals of one result; `ConfigurationError` for a value that is not a finite
    number (latency and cost must also be >= 0) or a custom metric named like a built-in."""
    if not isinstance(success, bool):
        raise ConfigurationError(f"success must be True or False, got {success!r}")
    totals = VariantTotals(results=1, successes=int(success))
    if latency_ms is not None:
        value = _number(latency_ms, LATENCY, non_negative=True)
        totals.latency.add(value)
        totals.latency_bins[sketch_key(value)] = 1
    if cost is not None:
        totals.cost.add(_number(cost, COST, non_negative=True))
    custom = _custom_metrics(metrics or {})
    for name, value in custom.items():
        totals.metrics[name] = MetricSums(1, value, value * value)
    _add_covariate(totals, experiment, success, latency_ms, cost, custom)
    return totals


def metric_totals(metrics: Mapping[str, float]) -> VariantTotals:
    """Totals carrying custom metric values only (feedback that arrives later, such as a
    user's rating): no result is counted."""
    totals = VariantTotals()
    for name, value in _custom_metrics(metrics).items():
        totals.metrics[name] = MetricSums(1, value, value * value)
    return totals


def record_totals(experiment: Experiment, record: RequestRecord) -> VariantTotals | None:
    """The result a `RequestRecord` stands for: success, latency and cost (None for a
    call a guard refused: it never reached the variant)."""
    if record.outcome is Outcome.REFUSED:
        return None
    return result_totals(
        experiment,
        success=record.success,
        latency_ms=max(record.latency_ms, 0.0),
        cost=None if record.estimated_cost is None else max(record.estimated_cost, 0.0),
    )


def _add_covariate(
    totals: VariantTotals,
    experiment: Experiment,
    success: bool,
    latency_ms: float | None,
    cost: float | None,
    custom: Mapping[str, float],
) -> None:
    if experiment.covariate is None or experiment.covariate not in custom:
        return
    primary = experiment.primary_metric
    builtin = {SUCCESS_RATE: float(success), LATENCY: latency_ms, COST: cost}
    y = builtin[primary] if primary in builtin else custom.get(primary)
    if y is not None:
        totals.covariate = CovariateSums()
        totals.covariate.add(float(y), custom[experiment.covariate])


def _custom_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise ConfigurationError("metrics must map metric names to numbers")
    checked = {}
    for name, value in metrics.items():
        check_metric(name)
        if name in BUILTIN_METRICS:
            raise ConfigurationError(
                f"metric {name!r} is built in; pass it as its own argument of track_result"
            )
        checked[name] = _number(value, name, non_negative=False)
    return checked


def _number(value: object, name: str, *, non_negative: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number, got {value!r}")
    if non_negative and value < 0:
        raise ConfigurationError(f"{name} must be >= 0, got {value!r}")
    return float(value)
