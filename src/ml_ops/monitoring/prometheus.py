"""Prometheus exposition of a monitor, read at scrape time (no second set of counters).

`MonitorCollector(monitor)` is a custom collector: each scrape reads the monitor's
all-time groups per `(provider, model, operation)` and renders

    devora_requests_total{provider,model,operation,status}     status: success, error,
                                                                cancelled, refused
    devora_errors_total{provider,model,operation,error_type}
    devora_request_latency_seconds{provider,model,operation}    histogram
    devora_time_to_first_token_seconds{provider,model,operation} histogram
    devora_tokens_total{provider,model,operation,type}          type: input, output
                                                                (totals), cached_input,
                                                                cache_creation, reasoning
                                                                (subsets of them)
    devora_cost_usd_total{provider,model}
    devora_saved_cost_usd_total{provider,model}
    devora_cache_hits_total{provider,model,operation}

Histogram buckets come from the latency sketches: the count at each bound is the number
of values whose sketch bin lies at or below it (exact to the sketch's 1%). Labels come only
from bounded sets (providers, models and operations, capped by `KeyLimits.series` with the
rest under `__other__`); user ids never become labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from ai.core.records import Outcome
from ml_ops.monitoring.groups import GroupStats, SeriesKey
from ml_ops.monitoring.sketch import LatencySketch

if TYPE_CHECKING:
    from ml_ops.monitoring.monitor import MLMonitor

DEFAULT_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
)  # fmt: skip
"""Histogram bucket bounds in seconds (LLM calls take from tens of ms to minutes)."""

_SERIES_LABELS = ("provider", "model", "operation")
_TOKEN_TYPES = ("input", "output", "cached_input", "cache_creation", "reasoning")


class MonitorCollector(Collector):
    """Renders `monitor`'s all-time statistics at each scrape (see the module docstring)."""

    def __init__(
        self,
        monitor: MLMonitor,
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        namespace: str = "devora",
    ) -> None:
        if list(buckets) != sorted(set(buckets)) or not buckets:
            raise ValueError("histogram buckets must be distinct and ascending")
        self._monitor = monitor
        self._buckets = tuple(float(b) for b in buckets)
        self._ns = namespace

    def describe(self) -> Iterable[Metric]:
        """The metric families (without samples), so registries can check name clashes."""
        return self._render([])

    def collect(self) -> Iterable[Metric]:
        return self._render(sorted(self._monitor.series("all").items()))

    def _render(self, series: list[tuple[SeriesKey, GroupStats]]) -> list[Metric]:
        ns, labels = self._ns, list(_SERIES_LABELS)
        requests = CounterMetricFamily(
            f"{ns}_requests", "Requests by outcome.", labels=[*labels, "status"]
        )
        errors = CounterMetricFamily(
            f"{ns}_errors", "Failed requests by error type.", labels=[*labels, "error_type"]
        )
        latency = HistogramMetricFamily(
            f"{ns}_request_latency_seconds", "Request latency (1%-accurate sketches).",
            labels=labels,
        )  # fmt: skip
        ttft = HistogramMetricFamily(
            f"{ns}_time_to_first_token_seconds", "Time to the first streamed token.",
            labels=labels,
        )  # fmt: skip
        tokens = CounterMetricFamily(
            f"{ns}_tokens", "Tokens by type (cached_input, cache_creation and reasoning are "
            "subsets of input and output).", labels=[*labels, "type"],
        )  # fmt: skip
        hits = CounterMetricFamily(
            f"{ns}_cache_hits", "Requests answered from the response cache.", labels=labels
        )
        for key, group in series:
            for outcome in Outcome:
                requests.add_metric([*key, outcome.value], group.outcomes.get(outcome.value, 0))
            for label, count in sorted(group.error_types.items()):
                errors.add_metric([*key, label], count)
            self._histogram(latency, key, group.latency)
            if group.ttft.count:
                self._histogram(ttft, key, group.ttft)
            for kind in _TOKEN_TYPES:
                tokens.add_metric([*key, kind], getattr(group, f"{kind}_tokens"))
            hits.add_metric(list(key), group.cached)
        cost, saved = self._money(series)
        return [requests, errors, latency, ttft, tokens, cost, saved, hits]

    def _money(self, series: list[tuple[SeriesKey, GroupStats]]) -> tuple[Metric, Metric]:
        """Spend and savings per `(provider, model)`, summed over operations."""
        spent: dict[tuple[str, str], float] = {}
        saved: dict[tuple[str, str], float] = {}
        for (provider, model, _), group in series:
            spent[(provider, model)] = spent.get((provider, model), 0.0) + group.cost
            saved[(provider, model)] = saved.get((provider, model), 0.0) + group.saved_cost
        families = []
        for name, help_text, values in (
            ("cost_usd", "Estimated spend in USD.", spent),
            ("saved_cost_usd", "Spend avoided by the response cache, in USD.", saved),
        ):
            family = CounterMetricFamily(
                f"{self._ns}_{name}", help_text, labels=["provider", "model"]
            )
            for labels, value in sorted(values.items()):
                family.add_metric(list(labels), value)
            families.append(family)
        return families[0], families[1]

    def _histogram(
        self, family: HistogramMetricFamily, key: SeriesKey, sketch: LatencySketch
    ) -> None:
        counts = sketch.cumulative_counts([bound * 1000.0 for bound in self._buckets])
        buckets: list[tuple[str, float]] = [
            (_bound_label(bound), count) for bound, count in zip(self._buckets, counts, strict=True)
        ]
        buckets.append(("+Inf", sketch.count))
        family.add_metric(list(key), buckets, sketch.total / 1000.0)


def _bound_label(bound: float) -> str:
    return repr(float(bound))


def register_prometheus(
    monitor: MLMonitor,
    registry: CollectorRegistry | None = None,
    *,
    buckets: Sequence[float] = DEFAULT_BUCKETS,
    namespace: str = "devora",
) -> CollectorRegistry:
    """Register a `MonitorCollector` for `monitor` in `registry` (a new one if None; pass
    `prometheus_client.REGISTRY` for the process default) and return the registry."""
    target = registry if registry is not None else CollectorRegistry()
    target.register(MonitorCollector(monitor, buckets=buckets, namespace=namespace))
    return target
