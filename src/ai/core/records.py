"""One `RequestRecord` per call, delivered to every subscriber of a `RecordBus`.

Monitoring, cost tracking, A/B testing and the event store subscribe here. Services take
a shared bus (`LLMService(config, bus=bus)`, `EmbeddingService(..., bus=bus)`), so one
subscriber sees the chat and embedding records of every service in the process.

Delivery is in-line and cheap; a subscriber that raises is logged and skipped, never
failing the call, and async subscribers run as tasks that `RecordBus.flush` waits for, so
no record is lost on close.

The record's shape is versioned (`schema_version`): stores persist it, so a field added
later must have a default and bump `SCHEMA_VERSION`. Version 2 (devora-ai 0.2) renamed
`model_used` to `model` and `cost` to `estimated_cost`, the names `CompletionStats` uses;
the old names remain readable as deprecated properties for one release.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ai.core.usage import Usage
from ai.errors import ErrorType

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2


class Operation(StrEnum):
    """What kind of call a record describes."""

    CHAT = "chat"
    EMBEDDING = "embedding"


class Outcome(StrEnum):
    """How a call ended: answered, failed, abandoned by its caller, or refused by a guard."""

    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"
    REFUSED = "refused"


class CostSource(StrEnum):
    """Where `estimated_cost` came from."""

    PROVIDER = "provider"  # the provider reported it (OpenRouter's usage.cost)
    PRICING = "pricing"  # our pricing table times the usage
    CACHE = "cache"  # served from the response cache: nothing spent
    LOCAL = "local"  # computed on this machine (local embeddings): nothing spent


class TagKey(StrEnum):
    """Tag keys with a shared meaning: set by `RenderedPrompt.call_tags`, A/B testing and
    the gateway, read by ml_ops to group records by template version or variant."""

    PROMPT = "prompt"
    PROMPT_VERSION = "prompt_version"
    EXPERIMENT = "experiment"
    VARIANT = "variant"
    CATEGORY = "category"  # the template's category (a model router reads it)
    COMPLEXITY = "complexity"  # a caller's hint: "simple" or "complex"
    ROUTE = "route"  # which model class a router chose, and why
    ROUTED_FROM = "routed_from"  # the capable model a router replaced by a cheaper one


class GuardAction(StrEnum):
    """What a guard did to a call before it was made."""

    REWRITE = "rewrite"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class GuardDecision:
    """One guard's change to a call, or its refusal, as kept in the call's record.

    `changes` maps each rewritten field (`model`, `provider`, `tags`, a parameter name)
    to its value before and after the guard; empty for a refusal, whose `reason` says why.
    """

    guard: str
    action: GuardAction
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What happened in one call, success or failure, streamed or not.

    `model` is the model that answered (None when none did), `model_requested` the one
    the caller asked for. Token counts follow `ai.core.usage.Usage`. `guard_decisions`
    lists what guards changed or refused, in the order they ran.
    """

    request_id: str
    timestamp: datetime
    provider: str
    model_requested: str
    model: str | None
    usage: Usage | None
    estimated_cost: float | None
    latency_ms: float
    time_to_first_token_ms: float | None
    attempts: int
    success: bool
    error_type: ErrorType | None = None
    error_message: str | None = None
    cached: bool = False
    streamed: bool = False
    fallback_used: bool = False
    cost_source: CostSource | None = None
    saved_cost: float | None = None
    user: str | None = None
    agent: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    operation: Operation = Operation.CHAT
    guard_decisions: tuple[GuardDecision, ...] = ()
    schema_version: int = SCHEMA_VERSION

    @property
    def outcome(self) -> Outcome:
        """Success, error, cancelled (the caller gave up) or refused (a guard said no)."""
        if self.success:
            return Outcome.SUCCESS
        if self.error_type is ErrorType.CANCELLED:
            return Outcome.CANCELLED
        if any(d.action is GuardAction.REFUSE for d in self.guard_decisions):
            return Outcome.REFUSED
        return Outcome.ERROR

    @property
    def input_tokens(self) -> int:
        return self.usage.input_tokens if self.usage else 0

    @property
    def output_tokens(self) -> int:
        return self.usage.output_tokens if self.usage else 0

    @property
    def total_tokens(self) -> int:
        return self.usage.total_tokens if self.usage else 0

    @property
    def model_used(self) -> str | None:
        """Deprecated name of `model` (schema 1)."""
        _renamed("model_used", "model")
        return self.model

    @property
    def cost(self) -> float | None:
        """Deprecated name of `estimated_cost` (schema 1)."""
        _renamed("cost", "estimated_cost")
        return self.estimated_cost


def _renamed(old: str, new: str) -> None:
    warnings.warn(
        f"RequestRecord.{old} is now RequestRecord.{new}; the old name goes away in the "
        "next release.",
        DeprecationWarning,
        stacklevel=3,
    )


@dataclass(frozen=True, slots=True)
class CallLabels:
    """Who a call was for, as the caller tagged it; carried into its record."""

    user: str | None = None
    agent: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


Subscriber = Callable[[RequestRecord], Awaitable[None] | None]


class RecordBus:
    """Fan-out of records to subscribers; `flush()` waits for async deliveries.

    One bus may be shared by any number of services: pass it as `bus=` to each.
    """

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
            if outcome is not None and inspect.isawaitable(outcome):  # sync ones return None
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
