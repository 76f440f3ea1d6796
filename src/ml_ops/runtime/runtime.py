"""One process's ml_ops, wired once (see the package docstring)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from ai.cache import ResponseCache
from ai.core.clock import Clock, SystemClock
from ai.core.guards import CallGuard
from ai.core.lifecycle import AsyncClosing
from ai.core.records import RecordBus
from ai.errors import repr_masking_urls
from ml_ops.ab_testing import ABTester
from ml_ops.cost_tracker import Budget, CostTracker, RedisSpendCounters
from ml_ops.cost_tracker.budget_files import load_budgets
from ml_ops.monitoring import MLMonitor
from ml_ops.store import EventStore, RecordWriter, RetentionPolicy
from ml_ops.store.opening import open_event_store


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Where state lives and what runs.

    `store` is a path or URL for `open_event_store` (None: the environment's, else
    `.devora/events.db`); `experiments` the same for `open_experiment_store`; `redis_url`
    shares the response cache and budget counters between processes (None: `$REDIS_URL`,
    else in-process); `budgets_file` holds budgets (`ml_ops.cost_tracker.load_budgets`);
    `raw_days` is how long raw records are kept before they are rolled up. The repr masks
    the URLs' credentials.
    """

    store: str | Path | None = None
    experiments: str | Path | None = None
    redis_url: str | None = None
    budgets_file: str | Path | None = None
    budgets: tuple[Budget, ...] = ()
    cache: bool = True
    raw_days: int = 30
    flush_interval: float = 1.0
    tz: str = "UTC"
    extras: dict[str, object] = field(default_factory=dict)

    def resolved_redis_url(self) -> str | None:
        return self.redis_url or os.environ.get("REDIS_URL") or None

    def __repr__(self) -> str:
        return repr_masking_urls(self, ("store", "experiments", "redis_url"))


class Runtime(AsyncClosing):
    """The bus every service of this process emits on, and the parts that act on it:
    the store writer, the monitor, cost tracking (whose guard enforces budgets), the
    experiments, and the response cache the services share."""

    def __init__(
        self,
        settings: RuntimeSettings,
        *,
        store: EventStore,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.bus = RecordBus()
        self.store = store
        self.writer = RecordWriter(
            store,
            flush_interval=settings.flush_interval,
            retention=RetentionPolicy(raw_days=settings.raw_days),
        )
        self.writer.attach(self.bus)
        self.monitor = MLMonitor(store, clock=self.clock)
        self.monitor.attach(self.bus)
        redis_url = settings.resolved_redis_url()
        self.cost_tracker = CostTracker(
            store,
            counters=RedisSpendCounters(redis_url) if redis_url else None,
            clock=self.clock,
            tz=settings.tz,
            monitor=self.monitor,
        )
        for budget in self._budgets():
            self.cost_tracker.add_budget(budget)
        self.cost_tracker.attach(self.bus)
        self.ab_tester = ABTester(settings.experiments, clock=self.clock)
        self.ab_tester.attach(self.bus)
        self.cache: ResponseCache | None = None
        if settings.cache:
            self.cache = ResponseCache.redis(redis_url) if redis_url else ResponseCache.memory()

    def _budgets(self) -> list[Budget]:
        loaded = load_budgets(self.settings.budgets_file) if self.settings.budgets_file else []
        return [*loaded, *self.settings.budgets]

    def guards(self) -> list[CallGuard]:
        """The guards every service of this runtime runs: budgets, then experiments."""
        return [self.cost_tracker.guard(), self.ab_tester.guard()]

    @classmethod
    async def open(
        cls, settings: RuntimeSettings | None = None, *, clock: Clock | None = None
    ) -> Self:
        """A runtime over the configured store, its monitor and budgets restored."""
        runtime = cls.create(settings, clock=clock)
        await runtime.restore()
        return runtime

    @classmethod
    def create(cls, settings: RuntimeSettings | None = None, *, clock: Clock | None = None) -> Self:
        """A runtime over the configured store, not restored yet (for apps that wire it
        at construction and restore it when they start)."""
        settings = settings or RuntimeSettings()
        return cls(settings, store=open_event_store(settings.store), clock=clock)

    async def restore(self) -> None:
        """Rebuild the monitor's windows and the budgets' spend from the store."""
        await self.monitor.restore()
        await self.cost_tracker.restore()

    async def aclose(self) -> None:
        """Write what is buffered, then close everything this runtime opened."""
        await self.bus.flush()
        await self.writer.aclose()
        await self.monitor.aclose()
        await self.cost_tracker.aclose()
        await self.ab_tester.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        await self.store.aclose()
