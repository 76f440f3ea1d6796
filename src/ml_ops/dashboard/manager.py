"""`DashboardManager`: one read-only view over monitoring, costs, experiments, alerts and
health, as plain JSON-ready dicts (the spec's Quick Start 5).

    dashboard = DashboardManager(monitor=monitor, cost_tracker=cost_tracker,
                                 ab_tester=ab_tester)
    overview = dashboard.get_overview()
    print(overview["overview"]["total_requests"], overview["overview"]["total_cost"])
    print(dashboard.get_health_check()["overall_status"])

Every source is optional; a section whose source is missing is empty, and a source that
fails is reported in that section (`{"error": ...}`) without breaking the others. The sync
methods read what is in memory; the async ones read the event store (time series, daily
cost, alert history) or check reachability (`refresh_health`). See docs/dashboard.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from ai.accounting.pricing import PricingTable
from ai.core.clock import Clock, SystemClock
from ai.errors import ConfigurationError
from ml_ops.dashboard import costs, experiments, health, routing, timeseries
from ml_ops.dashboard.health import (
    CircuitSource,
    ComponentHealth,
    HealthStatus,
    HealthThresholds,
    ProbeResult,
)
from ml_ops.dashboard.memo import Memo
from ml_ops.dashboard.overview import build_overview, top_by_cost
from ml_ops.dashboard.plain import to_plain
from ml_ops.dashboard.probes import redis_probe, run_probe, store_probe
from ml_ops.dashboard.sections import async_section, judged, message, named_services, section
from ml_ops.store.base import AlertStatus, EventStore

if TYPE_CHECKING:
    from ai.cache import ResponseCache
    from ml_ops.ab_testing import ABTester
    from ml_ops.cost_tracker import CostTracker
    from ml_ops.monitoring import MLMonitor
    from ml_ops.runtime import Runtime

logger = logging.getLogger(__name__)

DEFAULT_WINDOWS = ("5m", "1h", "24h", "all")
"""The windows offered when there is no monitor to ask."""


class DashboardManager:
    """Read-only views for the dashboard (see the module docstring).

    `monitor` gives requests, latency, cost and alerts; `cost_tracker` budgets, the report,
    forecasts and recommendations; `ab_tester` experiments; `cache` the response cache's
    counters; `store` time series and reachability; `services` (LLM services by name, or a
    sequence of them) their circuit breakers; `redis_url` a Redis to check. `thresholds`
    tune the health rules; `cache_seconds` how long computed sections are reused (the page
    polls); `forecast_days` and `history_days` size the cost chart; `pricing` prices what
    model routing saved (default: the cost tracker's, else the packaged table).
    """

    def __init__(
        self,
        monitor: MLMonitor | None = None,
        cost_tracker: CostTracker | None = None,
        ab_tester: ABTester | None = None,
        cache: ResponseCache | None = None,
        store: EventStore | None = None,
        services: Mapping[str, CircuitSource] | Sequence[CircuitSource] | None = None,
        *,
        redis_url: str | None = None,
        thresholds: HealthThresholds | None = None,
        clock: Clock | None = None,
        cache_seconds: float = 5.0,
        forecast_days: int = 7,
        history_days: int = 14,
        max_series_records: int = timeseries.DEFAULT_MAX_RECORDS,
        pricing: PricingTable | None = None,
    ) -> None:
        if forecast_days < 1 or history_days < 1 or cache_seconds < 0 or max_series_records < 1:
            raise ConfigurationError(
                "forecast_days, history_days and max_series_records must be >= 1, "
                "cache_seconds >= 0"
            )
        self.monitor = monitor
        self.cost_tracker = cost_tracker
        self.ab_tester = ab_tester
        self.cache = cache
        self.store = store
        self.services = named_services(services)
        self.redis_url = redis_url
        self.thresholds = thresholds or HealthThresholds()
        self.clock: Clock = clock or SystemClock()
        self.forecast_days = forecast_days
        self.history_days = history_days
        self.max_series_records = max_series_records
        self._pricing = pricing
        self._memo = Memo(self.clock, cache_seconds)
        self._slow_memo = Memo(self.clock, max(cache_seconds, 30.0))
        self._probes: dict[str, ProbeResult] = {}

    @classmethod
    def from_runtime(cls, runtime: Runtime, **sources: Any) -> Self:
        """A manager over a `Runtime`'s monitor and store, and its Redis when one is
        configured (`RuntimeSettings.redis_url`, else `$REDIS_URL`); `sources` add or
        override (`cost_tracker=`, `ab_tester=`, `cache=`, `services=`...)."""
        defaults: dict[str, Any] = {
            "monitor": runtime.monitor,
            "store": runtime.store,
            "redis_url": runtime.settings.redis_url or os.environ.get("REDIS_URL") or None,
            "clock": runtime.clock,
        }
        for name in ("cost_tracker", "ab_tester"):
            found = getattr(runtime, name, None)
            if found is not None:
                defaults[name] = found
        return cls(**{**defaults, **sources})

    # --- windows and overview ----------------------------------------------------------

    @property
    def windows(self) -> tuple[str, ...]:
        """The windows the overview and the charts can show, finest first, then "all"."""
        return self.monitor.windows if self.monitor is not None else DEFAULT_WINDOWS

    def check_window(self, window: str) -> str:
        """`window` if it is one of `windows`, else a `ConfigurationError` naming them."""
        if window not in self.windows:
            raise ConfigurationError(f"unknown window {window!r}; choose one of {self.windows}")
        return window

    def get_real_time_stats(self, window: str = "all") -> dict[str, Any] | None:
        """The monitor's stats of `window` (None without a monitor)."""
        if self.monitor is None:
            return None
        return self.monitor.get_real_time_stats(self.check_window(window))

    def get_overview(self, window: str = "all") -> dict[str, Any]:
        """Cards: `overview.total_requests`, `overview.total_cost`, rates, latency and TTFT
        percentiles, throughput, cache hit rate and savings, tokens; `top` models,
        providers, agents and users by cost; `budgets` with their use."""
        stats = self.get_real_time_stats(window)
        budgets = self._budgets_quietly()
        report_total = None
        if stats is None and self.cost_tracker is not None:
            report = section(lambda: costs.cost_report(self.cost_tracker))
            report_total = costs.report_total(report) if isinstance(report, dict) else None
        return build_overview(
            stats,
            window=window,
            cache_metrics=self.cache.get_metrics() if self.cache is not None else None,
            budgets=budgets,
            report_total=report_total,
            sources=self.sources(),
        )

    def sources(self) -> dict[str, bool]:
        """Which sources this manager reads."""
        return {
            "monitor": self.monitor is not None,
            "cost_tracker": self.cost_tracker is not None,
            "ab_tester": self.ab_tester is not None,
            "cache": self.cache is not None,
            "store": self.store is not None,
            "services": bool(self.services),
            "redis": self.redis_url is not None,
        }

    # --- costs -------------------------------------------------------------------------

    def get_budgets(self) -> list[dict[str, Any]]:
        """Every budget with its limit, spend, use (a fraction) and whether it is spent."""
        if self.cost_tracker is None:
            return []
        return list(self._memo.compute("budgets", lambda: costs.budget_rows(self.cost_tracker)))

    def _budgets_quietly(self) -> list[dict[str, Any]]:
        try:
            return self.get_budgets()
        except Exception:
            logger.exception("could not read the budgets")
            return []

    def get_cost_analysis(self, window: str = "all") -> dict[str, Any]:
        """Breakdown tables (by model, provider, agent, user in `window`), the cost
        tracker's report, budgets, the spend forecast for `forecast_days` with its
        intervals (`forecast.band`), and recommendations."""
        stats = self.get_real_time_stats(window)
        analysis: dict[str, Any] = {
            "window": window,
            "total_cost": (stats or {}).get("total_cost"),
            "cost_per_request": (stats or {}).get("cost_per_request"),
            "cost_per_hour": (stats or {}).get("cost_per_hour"),
            "breakdown": top_by_cost(stats or {}, limit=25),
        }
        tracker = self.cost_tracker
        if tracker is None:
            return analysis | {"report": None, "budgets": [], "forecast": None,
                               "recommendations": []}  # fmt: skip
        analysis["report"] = section(lambda: costs.cost_report(tracker))
        analysis["budgets"] = section(self.get_budgets)
        analysis["forecast"] = section(self.get_forecast)
        analysis["recommendations"] = section(
            lambda: self._slow_memo.compute(
                "recommendations", lambda: costs.recommendation_rows(tracker)
            )
        )
        return analysis

    def get_forecast(self) -> dict[str, Any] | None:
        """The cost tracker's spend forecast for the next `forecast_days` days, with the
        per-day band (`band`); None without a cost tracker. Reused for 30 seconds."""
        tracker = self.cost_tracker
        if tracker is None:
            return None
        found: dict[str, Any] = self._slow_memo.compute(
            ("forecast", self.forecast_days),
            lambda: costs.spend_forecast(tracker, self.forecast_days),
        )
        return found

    async def get_cost_history(self, days: int | None = None) -> dict[str, Any]:
        """Spend per day for the last `days` (default `history_days`) and the forecast band
        after it: the cost chart's data. Days come from the cost tracker's report (its
        local days, in memory) or else from the store (UTC days; reused for 30 seconds)."""
        days = days or self.history_days
        spend = self._tracked_days(days)
        source = "cost_tracker"
        if spend is None and self.store is not None:
            spend, source = await self._stored_days(days), "store"
        history = {
            "days": list(spend or {}),
            "cost": list((spend or {}).values()),
            "source": source if spend is not None else None,
        }
        forecast = section(self.get_forecast)
        band = forecast.get("band") if isinstance(forecast, dict) else None
        return {**history, "forecast": band}

    def _tracked_days(self, days: int) -> dict[str, float] | None:
        tracker = self.cost_tracker
        if tracker is None:
            return None
        report = section(lambda: costs.cost_report(tracker))
        return costs.daily_spend(report, days) if "error" not in report else None

    async def _stored_days(self, days: int) -> dict[str, float]:
        assert self.store is not None
        found, spend = self._slow_memo.get(("daily", days))
        if not found:
            daily = await timeseries.daily_cost(
                self.store, days=days, now=self.clock.now(), max_records=self.max_series_records
            )
            spend = self._slow_memo.put(
                ("daily", days), {d.isoformat(): c for d, c in daily.items()}
            )
        return dict(spend)

    # --- model routing -----------------------------------------------------------------

    @property
    def pricing(self) -> PricingTable:
        """The prices routing savings are computed with."""
        if self._pricing is None:
            prices = getattr(self.cost_tracker, "pricing", None)
            self._pricing = prices if isinstance(prices, PricingTable) else PricingTable.default()
        return self._pricing

    async def get_routing(self, window: str = "1h") -> dict[str, Any]:
        """Model routing in `window`: decisions per reason and per model, the calls sent to
        the cheap model, their cost against the cost on the capable model, and the saving
        (`ml_ops.dashboard.routing`). From the store (the records the charts read), else
        the cost tracker's kept records."""
        self.check_window(window)
        found, view = self._memo.get(("routing", window))
        if not found and self.store is not None:
            _, view = await self._read_window(window)
        elif not found:
            tracker = self.cost_tracker
            since = routing.window_since(window, self.clock.now())
            records = costs.kept_records(tracker, since) if tracker is not None else []
            source = "cost_tracker" if tracker is not None else None
            view = await routing.routing_section(
                records, self.pricing, window=window, source=source
            )
            self._memo.put(("routing", window), view)
        return dict(view)

    # --- experiments -------------------------------------------------------------------

    def get_experiments(self) -> dict[str, Any]:
        """Every experiment with its variants, intervals, decision, significance and SRM
        flag, and counts: how many, how many significant, how many with an SRM."""
        if self.ab_tester is None:
            return {"experiments": [], "total": 0, "significant": 0, "srm_flags": 0}
        views = self._memo.compute("experiments", self._experiment_views)
        return {
            "experiments": views,
            "total": len(views),
            "significant": sum(1 for v in views if v.get("significant")),
            "srm_flags": sum(1 for v in views if (v.get("srm") or {}).get("mismatch")),
        }

    def _experiment_views(self) -> list[dict[str, Any]]:
        tester = self.ab_tester
        names = experiments.experiment_names(tester)
        return [self._experiment_view(tester, name) for name in names]

    def _experiment_view(self, tester: Any, name: str, *, full: bool = False) -> dict[str, Any]:
        try:
            summary = tester.get_experiment_summary(name)
            return experiments.experiment_view(name, summary, full=full)
        except Exception as exc:
            logger.exception("could not summarise experiment %r", name)
            return {"name": name, "error": message(exc), "variants": [], "srm": {}}

    def get_experiment(self, name: str) -> dict[str, Any]:
        """One experiment's view; `LookupError` when there is no such experiment."""
        if self.ab_tester is None:
            raise LookupError(f"no experiment named {name!r}: this dashboard has no A/B tester")
        tester = self.ab_tester
        if name not in experiments.experiment_names(tester):
            raise LookupError(f"no experiment named {name!r}")
        return self._experiment_view(tester, name, full=True)

    # --- alerts ------------------------------------------------------------------------

    def get_active_alerts(self) -> list[dict[str, Any]]:
        """Alerts firing now, newest first."""
        if self.monitor is None:
            return []
        return [to_plain(alert) for alert in self.monitor.active_alerts()]

    async def get_alerts(self, limit: int = 50) -> dict[str, Any]:
        """`active` alerts (this monitor's, and those the store holds as firing: other
        processes' and the cost tracker's budget alerts) and the `recent` ones (the last
        `limit`, any state), newest first."""
        if self.monitor is None:
            return {"active": [], "recent": []}
        recent = await self.monitor.alert_history()
        active = {alert.alert_id: alert for alert in self.monitor.active_alerts()}
        for alert in recent:
            if alert.status is AlertStatus.FIRING:
                active.setdefault(alert.alert_id, alert)
        firing = sorted(active.values(), key=lambda alert: alert.fired_at, reverse=True)
        return {
            "active": [to_plain(alert) for alert in firing],
            "recent": [to_plain(alert) for alert in recent[:limit]],
        }

    async def acknowledge_alert(self, alert_id: str) -> dict[str, Any]:
        """Acknowledge an alert (it still resolves by itself); `LookupError` if unknown."""
        if self.monitor is None:
            raise LookupError(f"no alert with id {alert_id!r}: this dashboard has no monitor")
        acknowledged = await self.monitor.acknowledge(alert_id)
        return dict(to_plain(acknowledged))

    # --- time series -------------------------------------------------------------------

    async def get_timeseries(self, window: str = "1h") -> dict[str, Any]:
        """Chart columns for `window`: from the store when there is one, else the
        monitor's request and error counts (see `ml_ops.dashboard.timeseries`)."""
        self.check_window(window)
        if self.store is None:
            stats = self.get_real_time_stats(window) or {}
            return timeseries.monitor_series(stats, window)
        found, series = self._memo.get(("series", window))
        if not found:
            series, _ = await self._read_window(window)
        return dict(series)

    async def _read_window(self, window: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The charts and the routing view of `window`, from one read of the store."""
        assert self.store is not None
        data = await timeseries.read_window(
            self.store, window=window, now=self.clock.now(), max_records=self.max_series_records
        )
        series = await timeseries.window_series(data)
        view = await routing.routing_section(
            data.records, self.pricing, window=window, source="store", truncated=data.truncated
        )
        # Coarse buckets change slowly: a 30-minute bucket need not be re-read every poll.
        ttl = min(60.0, max(self._memo.ttl, series["bucket_seconds"] / 10))
        self._memo.put(("routing", window), view, ttl)
        return self._memo.put(("series", window), series, ttl), view

    # --- health ------------------------------------------------------------------------

    async def refresh_health(self) -> dict[str, Any]:
        """Check that the store and Redis answer (each within `probe_timeout`), keep the
        results for `get_health_check`, and return the health check."""
        timeout = self.thresholds.probe_timeout
        if self.store is not None:
            check = store_probe(self.store, self.clock)
            self._probes["store"] = await run_probe(check, self.clock, timeout)
        if self.redis_url is not None:
            check = redis_probe(self.redis_url, timeout)
            self._probes["redis"] = await run_probe(check, self.clock, timeout)
        return self.get_health_check()

    def probes_age(self) -> float | None:
        """Seconds since the oldest kept reachability check (None: never checked)."""
        if not self._probes:
            return None
        oldest = min(p.checked_at for p in self._probes.values())
        return (self.clock.now() - oldest).total_seconds()

    def needs_probing(self) -> bool:
        """Whether a store or Redis is configured and not checked within `cache_seconds`."""
        if self.store is None and self.redis_url is None:
            return False
        age = self.probes_age()
        return age is None or age >= self._memo.ttl

    def get_health_check(self) -> dict[str, Any]:
        """`overall_status` (healthy, degraded or unhealthy: the worst judged component)
        and each component's status, reason and numbers; the rules are in
        `ml_ops.dashboard.health`. Reachability is as of the last `refresh_health()`."""
        now = self.clock.now()
        components = self._components(now)
        return {
            "overall_status": health.overall_status(components).value,
            "checked_at": now.isoformat(),
            "components": {c.name: c.to_dict() for c in components},
            "thresholds": asdict(self.thresholds),
        }

    def _components(self, now: datetime) -> list[ComponentHealth]:
        found = self._traffic_components(self.monitor) if self.monitor is not None else []
        if self.cost_tracker is not None:
            found.append(judged("budgets", lambda: health.judge_budgets(self.get_budgets())))
        if self.services:
            found.append(judged("circuit_breakers", lambda: health.judge_circuits(self.services)))
        if self.store is not None:
            found.append(self._probe("store", now))
        if self.redis_url is not None:
            found.append(self._probe("redis", now))
        cache = self.cache
        if cache is not None:
            found.append(judged("cache", lambda: health.judge_cache(cache.get_metrics())))
        return found

    def _traffic_components(self, monitor: MLMonitor) -> list[ComponentHealth]:
        """Errors, latency and providers over the health window, and firing alerts."""
        t = self.thresholds
        try:
            stats = monitor.get_real_time_stats(t.window)
        except Exception as exc:
            logger.exception("could not read the monitor's %s stats", t.window)
            return [ComponentHealth("errors", HealthStatus.UNKNOWN, message(exc))]
        configured = {route.provider for s in self.services.values() for route in s.routes}
        by_provider = stats.get("by_provider") or {}
        return [
            judged("errors", lambda: health.judge_errors(stats, t)),
            judged("latency", lambda: health.judge_latency(stats, t)),
            judged("providers", lambda: health.judge_providers(by_provider, configured, t)),
            judged("alerts", lambda: health.judge_alerts(monitor.active_alerts())),
        ]

    def _probe(self, name: str, now: datetime) -> ComponentHealth:
        return health.judge_probe(name, self._probes.get(name), now, self.thresholds)

    async def readiness(self) -> dict[str, bool]:
        """Whether the store and Redis (those configured) answer now: `/readyz`."""
        await self.refresh_health()
        return {name: probe.ok for name, probe in self._probes.items()}

    # --- everything at once ------------------------------------------------------------

    async def get_dashboard(self, window: str = "1h") -> dict[str, Any]:
        """Every section the page shows, for `window`, in one dict."""
        self.check_window(window)
        if self.needs_probing():
            await self.refresh_health()
        return {
            "window": window,
            "windows": list(self.windows),
            "generated_at": self.clock.now().isoformat(),
            "overview": section(lambda: self.get_overview(window)),
            "timeseries": await async_section(self.get_timeseries(window)),
            "costs": section(lambda: self.get_cost_analysis(window)),
            "cost_history": await async_section(self.get_cost_history()),
            "routing": await async_section(self.get_routing(window)),
            "experiments": section(self.get_experiments),
            "alerts": await async_section(self.get_alerts()),
            "health": section(self.get_health_check),
        }

    def invalidate(self) -> None:
        """Forget reused sections (after an action such as acknowledging an alert)."""
        self._memo.clear()
