"""One process's ml_ops, wired once (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from ai.core.clock import Clock, SystemClock
from ai.core.lifecycle import AsyncClosing
from ai.core.records import RecordBus
from ml_ops.monitoring import MLMonitor
from ml_ops.store import EventStore, RecordWriter, RetentionPolicy
from ml_ops.store.opening import open_event_store


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Where state lives. `store` is a path or URL for `open_event_store` (None: the
    environment's, else `.devora/events.db`); `redis_url` shares counters between
    processes (None: `$REDIS_URL`, else process-local); `raw_days` is how long raw
    records are kept before they are rolled up."""

    store: str | Path | None = None
    redis_url: str | None = None
    raw_days: int = 30
    flush_interval: float = 1.0
    extras: dict[str, object] = field(default_factory=dict)


class Runtime(AsyncClosing):
    """The bus every service of this process emits on, and the parts that listen to it."""

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

    @classmethod
    async def open(
        cls, settings: RuntimeSettings | None = None, *, clock: Clock | None = None
    ) -> Self:
        """A runtime over the configured store, its monitor restored from that store."""
        settings = settings or RuntimeSettings()
        runtime = cls(settings, store=open_event_store(settings.store), clock=clock)
        await runtime.monitor.restore()
        return runtime

    async def aclose(self) -> None:
        """Write what is buffered, then close the store."""
        await self.bus.flush()
        await self.writer.aclose()
        await self.monitor.aclose()
        await self.store.aclose()
