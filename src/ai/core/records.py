"""One `RequestRecord` per LLM call, delivered to every subscriber.

Monitoring, cost tracking, A/B testing and the event store subscribe here. Delivery is
in-line and cheap; a subscriber that raises is logged and skipped, never failing the
call, and async subscribers run as tasks that `RecordBus.flush` waits for, so no record
is lost on close.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ai.core.usage import Usage

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What happened in one call, success or failure, streamed or not."""

    request_id: str
    timestamp: datetime
    provider: str
    model_requested: str
    model_used: str | None
    usage: Usage | None
    cost: float | None
    latency_ms: float
    time_to_first_token_ms: float | None
    attempts: int
    success: bool
    error_type: str | None = None
    error_message: str | None = None
    cached: bool = False
    streamed: bool = False
    fallback_used: bool = False
    cost_source: str | None = None
    saved_cost: float | None = None
    user: str | None = None
    agent: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def input_tokens(self) -> int:
        return self.usage.input_tokens if self.usage else 0

    @property
    def output_tokens(self) -> int:
        return self.usage.output_tokens if self.usage else 0

    @property
    def total_tokens(self) -> int:
        return self.usage.total_tokens if self.usage else 0


@dataclass(frozen=True, slots=True)
class CallLabels:
    """Who a call was for, as the caller tagged it; carried into its record."""

    user: str | None = None
    agent: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


Subscriber = Callable[[RequestRecord], Awaitable[None] | None]


class RecordBus:
    """Fan-out of records to subscribers; `flush()` waits for async deliveries."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._pending: set[asyncio.Task[Any]] = set()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber (sync or async callable); returns a function that removes it."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def emit(self, record: RequestRecord) -> None:
        """Deliver `record` to every subscriber; failures are logged, never raised."""
        for subscriber in list(self._subscribers):
            try:
                outcome = subscriber(record)
            except Exception:
                logger.exception("record subscriber %r failed; record kept for others", subscriber)
                continue
            if inspect.isawaitable(outcome):
                self._schedule(subscriber, outcome)

    def _schedule(self, subscriber: Subscriber, outcome: Awaitable[None]) -> None:
        try:
            task = asyncio.ensure_future(outcome)
        except RuntimeError:  # no running loop: an async subscriber needs one
            logger.error("async record subscriber %r needs a running event loop", subscriber)
            if inspect.iscoroutine(outcome):
                outcome.close()
            return
        self._pending.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("async record subscriber failed", exc_info=task.exception())

    async def flush(self) -> None:
        """Wait until every async delivery started so far has finished."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
