"""`MLMonitor`: live request statistics over sliding windows, alerts, and state from the store.

Records come in three ways, all through the same path (`observe`):

- the record bus: `monitor.attach(bus)` (every `LLMService` / `EmbeddingService` sharing
  the bus feeds it);
- by hand: `monitor.track_request(success=True, latency_ms=1500, ...)` builds a
  `RequestRecord` and observes it;
- the event store: `await monitor.restore()` once at start-up, then `await refresh()` or
  `await follow(interval)` read the records every process has written since
  (`store.read_after(seq)`), so a monitor over a shared PostgreSQL store sees the traffic
  of the whole deployment.

A monitor may be bus-fed and store-fed at once: it remembers the request ids of the last
`dedup_capacity` records it counted and skips a record it has seen, so a record observed
on the bus and later read back from the store counts once. That holds as long as fewer
than `dedup_capacity` records arrive between the two sightings (the store writer's flush
delay plus the follow interval); the default of 100,000 covers thousands of requests a
second.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ai.core.clock import Clock, SystemClock
from ai.core.records import Operation, RecordBus, RequestRecord
from ai.errors import ConfigurationError, DevoraError, ErrorType
from ml_ops.monitoring.alerts import AlertBook, AlertRule
from ml_ops.monitoring.groups import GroupStats, KeyLimits, SeriesKey, rollup_slot
from ml_ops.monitoring.handlers import AlertCallback, AlertHandler, as_handler
from ml_ops.monitoring.intake import (
    RecentIds,
    check_amounts,
    error_kind,
    operation_of,
    refusal,
    usage_of,
)
from ml_ops.monitoring.stats import build_stats, group_summary, metric_value, scoped_group
from ml_ops.monitoring.windows import DEFAULT_WINDOWS, WindowSet, WindowSpec
from ml_ops.store.base import AlertRecord, AlertStatus, EventStore

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

logger = logging.getLogger(__name__)


class MLMonitor:
    """Latency percentiles, throughput, error, cache and cost statistics per window and
    per model, provider, agent and user; threshold alerts; restore and follow from an
    event store. All time comes from `clock` (tests pass a `FakeClock`).

    `windows` are the sliding windows (finest first; `get_real_time_stats` also offers
    `"all"`), `limits` bounds the number of distinct keys per dimension, `rules` and
    `handlers` set up alerting (more with `add_rule` / `add_handler`).
    """

    def __init__(
        self,
        store: EventStore | None = None,
        *,
        clock: Clock | None = None,
        windows: Sequence[WindowSpec] = DEFAULT_WINDOWS,
        rules: Sequence[AlertRule] = (),
        handlers: Sequence[AlertHandler | AlertCallback] = (),
        limits: KeyLimits | None = None,
        evaluation_interval: float = 1.0,
        dedup_capacity: int = 100_000,
        alert_history_limit: int = 1000,
        page_size: int = 1000,
    ) -> None:
        if evaluation_interval < 0 or page_size < 1:
            raise ConfigurationError("evaluation_interval must be >= 0 and page_size >= 1")
        self._store = store
        self._clock: Clock = clock or SystemClock()
        self._limits = limits or KeyLimits()
        self._windows = WindowSet(windows, self._limits, self._now())
        self._book = AlertBook(alert_history_limit)
        self._handlers = [as_handler(handler) for handler in handlers]
        self._recent = RecentIds(dedup_capacity)
        self._evaluation_interval = evaluation_interval
        self._page_size = page_size
        self._lock = threading.Lock()  # records may arrive from a SyncLLMService thread
        self._seq: int | None = None  # store read position, set by restore()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_evaluation: float | None = None
        self._evaluating = False
        self._dirty = False
        self._detach: list[Callable[[], None]] = []
        for rule in rules:
            self.add_rule(rule)

    # --- feeding ---------------------------------------------------------------------

    def attach(self, bus: RecordBus) -> Callable[[], None]:
        """Observe every record emitted on `bus`; returns a function that detaches."""
        unsubscribe = bus.subscribe(self._on_record)
        self._detach.append(unsubscribe)
        return unsubscribe

    def _on_record(self, record: RequestRecord) -> None:
        self._ingest(record, None)

    def observe(self, record: RequestRecord) -> bool:
        """Count `record`; False (and nothing counted) when its request id was seen lately."""
        return self._ingest(record, None)

    def track_request(
        self,
        success: bool,
        latency_ms: float,
        cost: float | None = None,
        tokens: int | None = None,
        model: str | None = None,
        *,
        provider: str | None = None,
        agent: str | None = None,
        user: str | None = None,
        error_type: ErrorType | str | None = None,
        cached: bool = False,
        time_to_first_token_ms: float | None = None,
        operation: Operation | str = Operation.CHAT,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        request_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RequestRecord:
        """Count a request made outside `LLMService` (the spec's Quick Start 3); returns the
        `RequestRecord` it became. `tokens` alone counts as input tokens; give
        `input_tokens` / `output_tokens` for the split. An `error_type` that is not an
        `ErrorType` value is kept as its own label in the error breakdown."""
        check_amounts(
            latency_ms=latency_ms, time_to_first_token_ms=time_to_first_token_ms, cost=cost
        )
        if success and error_type is not None:
            raise ConfigurationError("a successful request has no error_type")
        label, kind = error_kind(error_type)
        record = RequestRecord(
            request_id=request_id or uuid.uuid4().hex,
            timestamp=self._clock.now(),
            provider=provider or "unknown",
            model_requested=model or "unknown",
            model=model or "unknown",
            usage=usage_of(tokens, input_tokens, output_tokens),
            estimated_cost=cost,
            latency_ms=float(latency_ms),
            time_to_first_token_ms=time_to_first_token_ms,
            attempts=1,
            success=success,
            error_type=kind,
            error_message=label,
            cached=cached,
            user=user,
            agent=agent,
            tags=dict(tags or {}),
            operation=operation_of(operation),
            guard_decisions=refusal(kind),
        )
        self._ingest(record, label)
        return record

    def _ingest(self, record: RequestRecord, error_label: str | None) -> bool:
        # The hot path: the record is appended to the pending batch (see windows.py). The
        # clock is read only for a record outside the open slot of the finest ring; a
        # record inside it lands in that slot whether or not the clock has moved on.
        moment = record.timestamp.timestamp()
        with self._lock:
            if not self._recent.add(record.request_id):
                return False
            windows = self._windows
            if not windows.open_start <= moment < windows.open_end:
                windows.advance(self._now())
            windows.add(record, moment, error_label)
        if self._book.has_rules:
            self._maybe_evaluate()
        return True

    def _now(self) -> float:
        return self._clock.now().timestamp()

    # --- reading ---------------------------------------------------------------------

    @property
    def windows(self) -> tuple[str, ...]:
        """Window names, finest first, then `"all"`."""
        return self._windows.names

    def get_real_time_stats(self, window: str = "5m") -> dict[str, Any]:
        """Every statistic of `window` as a JSON-ready dict (layout in docs/monitoring.md):
        `total_requests`, `total_cost`, rates, `latency_ms` percentiles, throughput,
        costs and tokens by scope, `error_types`, `error_trends`, `by_model`..."""
        with self._lock:
            self._windows.advance(self._now())
            view, start = self._windows.view(window)
            buckets = self._windows.buckets(window)
            now = self._windows.now
        seconds = next((s.seconds for s in self._windows.specs if s.name == window), None)
        return build_stats(
            view, window=window, window_seconds=seconds, start=start, now=now, buckets=buckets
        )

    def series(self, window: str = "all") -> dict[SeriesKey, GroupStats]:
        """The window's groups per `(provider, model, operation)`: what exporters read."""
        with self._lock:
            self._windows.advance(self._now())
            return self._windows.view(window)[0].series

    def footprint(self) -> dict[str, int]:
        """How much state is held (slots, groups, sketch bins, remembered request ids);
        bounded whatever the traffic."""
        with self._lock:
            return {**self._windows.footprint(), "tracked_request_ids": len(self._recent)}

    def prometheus_registry(self) -> CollectorRegistry:
        """A fresh `prometheus_client.CollectorRegistry` holding this monitor's collector."""
        from ml_ops.monitoring.prometheus import register_prometheus

        return register_prometheus(self)

    # --- merging ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """This monitor's windows as a JSON-ready dict, for `merge` in another process."""
        with self._lock:
            self._windows.advance(self._now())
            return {**self._windows.to_dict(), "limits": asdict(self._limits)}

    def merge(self, snapshot: Mapping[str, Any]) -> None:
        """Add another monitor's `snapshot()` (of other records) to this one's counts."""
        other = WindowSet.from_dict(snapshot, self._limits)
        with self._lock:
            self._windows.advance(self._now())
            self._windows.merge(other)

    # --- the store -------------------------------------------------------------------

    def _require_store(self) -> EventStore:
        if self._store is None:
            raise ConfigurationError("this monitor has no event store: MLMonitor(store=...)")
        return self._store

    async def restore(self) -> int:
        """Rebuild the windows and all-time totals from the store: its rollups (records
        pruned by retention) and then every raw record, page by page through
        `read_after`, which also sets where `refresh` continues. Returns how many raw
        records were counted. A second call only refreshes."""
        store = self._require_store()
        if self._seq is not None:
            return await self.refresh()
        rollups = await store.rollups()
        with self._lock:
            self._windows.advance(self._now())
            for rollup in rollups:
                self._windows.add_slot(rollup_slot(rollup, self._limits), rollup.bucket_seconds)
        self._seq = 0
        return await self._read_store()

    async def refresh(self) -> int:
        """Count the records written to the store since the last read (restoring first if
        this monitor never read the store); returns how many were new."""
        if self._seq is None:
            return await self.restore()
        return await self._read_store()

    async def _read_store(self) -> int:
        store = self._require_store()
        counted = 0
        while True:
            records, seq = await store.read_after(self._seq or 0, limit=self._page_size)
            self._seq = seq
            counted += sum(self.observe(record) for record in records)
            if len(records) < self._page_size:
                return counted

    async def follow(self, interval: float = 5.0, *, read_store: bool = True) -> None:
        """Forever: read new store records (when there is a store and `read_store`),
        evaluate the alert rules, wait `interval` seconds on the clock. Run it as a task
        and cancel it to stop. A failing store is logged in one line (our errors say what
        to check; a traceback every few seconds of an outage would bury it) and tried again
        next time; any other exception, a bug, is logged with its traceback."""
        while True:
            try:
                if read_store and self._store is not None:
                    await self.refresh()
                await self.evaluate()
            except DevoraError as error:
                logger.warning("monitor refresh failed (%s); trying again in %ss", error, interval)
            except Exception:
                logger.exception("monitor refresh failed; trying again in %ss", interval)
            await self._clock.sleep(interval)

    # --- alerts ----------------------------------------------------------------------

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        return self._book.rules

    def add_rule(self, rule: AlertRule) -> None:
        """Judge `rule` from now on (its window must be one of this monitor's)."""
        if rule.window not in self.windows:
            raise ConfigurationError(
                f"alert rule {rule.name!r}: unknown window {rule.window!r}; choose one of "
                f"{list(self.windows)}"
            )
        self._book.add_rule(rule)

    @property
    def handlers(self) -> tuple[AlertHandler, ...]:
        """Where alerts go (budget alerts of a `CostTracker` given this monitor use them too)."""
        return tuple(self._handlers)

    def add_handler(self, handler: AlertHandler | AlertCallback) -> None:
        """Send every alert that fires or resolves to `handler` too."""
        self._handlers.append(as_handler(handler))

    def _maybe_evaluate(self) -> None:
        if not self._book.rules:
            return
        if self._evaluating:
            self._dirty = True
            return
        moment = self._clock.monotonic()
        last = self._last_evaluation
        if last is not None and moment - last < self._evaluation_interval:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (plain sync use): rules wait for the next evaluate()
        self._evaluating = True
        self._spawn(self._evaluate_in_background())

    async def _evaluate_in_background(self) -> None:
        try:
            while True:
                self._dirty = False
                await self.evaluate()
                if not self._dirty:
                    return
        except Exception:
            logger.exception("alert evaluation failed")
        finally:
            self._evaluating = False

    async def evaluate(self) -> list[AlertRecord]:
        """Judge every rule now; persist and notify the alerts that fired or resolved
        (notifications run as tasks: `flush()` waits for them). Returns those alerts."""
        self._last_evaluation = self._clock.monotonic()
        now = self._clock.now()
        changed: list[AlertRecord] = []
        by_window: dict[str, list[AlertRule]] = {}
        for rule in self._book.rules:
            by_window.setdefault(rule.window, []).append(rule)
        for window, rules in by_window.items():
            with self._lock:
                self._windows.advance(now.timestamp())
                view, start = self._windows.view(window)
                covered = self._windows.now - start
            for rule in rules:
                try:  # one failing rule must not keep the others' alerts from their handlers
                    group = scoped_group(view, rule.scope)
                    value = metric_value(group_summary(group, covered), rule.metric)
                    alert = self._book.judge(rule, value, group.requests, now)
                except Exception:
                    logger.exception("alert rule %r could not be judged", rule.name)
                    continue
                if alert is not None:
                    changed.append(alert)
        for alert in changed:
            await self._save(alert)
            for handler in self._handlers:
                self._spawn(self._deliver(handler, alert))
        return changed

    async def _save(self, alert: AlertRecord) -> None:
        if self._store is None:
            return
        try:
            await self._store.save_alert(alert)
        except Exception:
            logger.exception("could not save alert %s (%s)", alert.alert_id, alert.rule)

    async def _deliver(self, handler: AlertHandler, alert: AlertRecord) -> None:
        try:
            await handler.handle(alert)
        except Exception:
            logger.exception("alert handler %r failed on alert %s (%s)", handler,
                             alert.alert_id, alert.rule)  # fmt: skip

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def active_alerts(self) -> list[AlertRecord]:
        """Alerts firing now (judged by this monitor), newest first."""
        return self._book.active()

    async def alert_history(
        self, *, status: AlertStatus | None = None, since: datetime | None = None
    ) -> list[AlertRecord]:
        """Past and present alerts, newest first: from the store when there is one (every
        process's alerts), else this monitor's own (the last `alert_history_limit`)."""
        await self.flush()
        if self._store is not None:
            try:
                return await self._store.alerts(status=status, since=since)
            except Exception:
                logger.exception("could not read alerts from the store; showing this process's")
        return [
            alert
            for alert in self._book.history()
            if (status is None or alert.status is status)
            and (since is None or alert.fired_at >= since)
        ]

    async def acknowledge(self, alert_id: str) -> AlertRecord:
        """Mark an alert acknowledged (it still resolves by itself); returns it updated.
        Raises `LookupError` for an unknown id."""
        alert = self._book.find(alert_id)
        if alert is None and self._store is not None:
            stored = await self._store.alerts()
            alert = next((a for a in stored if a.alert_id == alert_id), None)
        if alert is None:
            raise LookupError(f"no alert with id {alert_id!r}")
        acknowledged = self._book.acknowledge(alert, self._clock.now())
        await self._save(acknowledged)
        return acknowledged

    async def flush(self) -> None:
        """Wait for the alert evaluations and notifications started so far on this loop
        (a `SyncLLMService` feeding the monitor runs its own loop in another thread)."""
        loop = asyncio.get_running_loop()
        while pending := [task for task in self._tasks if task.get_loop() is loop]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Detach from every bus and finish pending notifications (the store is left open:
        it belongs to whoever passed it)."""
        for detach in self._detach:
            detach()
        self._detach.clear()
        await self.flush()
