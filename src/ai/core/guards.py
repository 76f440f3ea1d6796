"""Guards: code that acts on a call before it is made and sees its record afterwards.

Budgets, rate limits, model routing and experiments all need the same two moments, so
there is one mechanism for all of them (httpx's event hooks and pydantic-ai's wrapper
models are the models):

    class CheapAtNight(CallGuard):
        name = "cheap-at-night"

        async def before(self, call: PlannedCall) -> PlannedCall | None:
            return call.replace(model="gpt-4o-mini") if is_night() else None

`LLMService(config, guards=[...])` and `EmbeddingService(..., guards=[...])` run each
guard's `before` in order. It returns None (or the call unchanged) to let it pass, a
changed copy (`call.replace(...)`) to rewrite it, or raises `CallRefusedError` (or a
subclass such as `BudgetExceededError`) to refuse it. Then the call runs and leaves
exactly one `RequestRecord` (success, error, cancelled or refused), whose
`guard_decisions` say which guard changed or refused what. Every guard whose `before`
let the call through then gets `after(call, record)`, last guard first, so a guard that
reserved something (budget, rate-limit slot) can settle it, failures and cancellations
included. A guard that refuses, and those after it, get no `after`: they reserved nothing.
A `before` that fails otherwise (a bug, a store that does not answer) or is cancelled
while it waits ends the call the same way: it is recorded (as an error or cancelled),
the guards before it settle, and the error is raised.

`after` must be quick and should not raise; an exception there is logged, never raised
into the call.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from ai.core.records import (
    CallLabels,
    GuardAction,
    GuardDecision,
    Operation,
    RequestRecord,
)
from ai.errors import CallRefusedError, ConfigurationError

logger = logging.getLogger(__name__)

T = TypeVar("T")

_REWRITABLE = ("model", "provider", "parameters", "user", "agent", "tags")


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A call as guards see it before it is made.

    `inputs` are the chat messages or the texts to embed (read-only). `parameters` hold
    the sampling and request options (`temperature`, `max_tokens`, `tools`, provider
    extras...). `provider` names the provider the first attempt goes to.
    """

    operation: Operation
    model: str
    provider: str
    inputs: Sequence[Any]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    user: str | None = None
    agent: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    streamed: bool = False
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def labels(self) -> CallLabels:
        return CallLabels(self.user, self.agent, self.tags)

    def replace(self, **changes: Any) -> PlannedCall:
        """A copy with `changes` applied; only model, provider, parameters, user, agent and
        tags may change (the inputs and identity of a call are not a guard's to rewrite)."""
        fixed = sorted(set(changes) - set(_REWRITABLE))
        if fixed:
            raise ConfigurationError(
                f"A guard may rewrite {', '.join(_REWRITABLE)}; not {', '.join(fixed)}."
            )
        return dataclasses.replace(self, **changes)

    def with_parameters(self, **parameters: Any) -> PlannedCall:
        """A copy with some parameters set (None removes one)."""
        merged = {**self.parameters, **parameters}
        return self.replace(parameters={k: v for k, v in merged.items() if v is not None})


@runtime_checkable
class CallGuard(Protocol):
    """What `LLMService` and `EmbeddingService` run around each call (see module doc)."""

    name: str

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        """Let the call pass (None or `call`), rewrite it, or raise `CallRefusedError`."""
        ...

    async def after(self, call: PlannedCall, record: RequestRecord) -> None:
        """See the call's one record (`call` as this guard passed it on)."""
        ...


class PassThroughGuard:
    """A base for guards that need only one of the two moments: both default to no-ops."""

    name = "guard"

    async def before(self, call: PlannedCall) -> PlannedCall | None:
        return None

    async def after(self, call: PlannedCall, record: RequestRecord) -> None:
        return None


class RecordSlot:
    """Holds the one record of a call: the first emitted wins and goes to the bus with the
    guards' decisions attached; a second is a bug, logged and dropped."""

    __slots__ = ("_decisions", "_sink", "record")

    def __init__(
        self, sink: Callable[[RequestRecord], None], decisions: tuple[GuardDecision, ...]
    ) -> None:
        self._sink = sink
        self._decisions = decisions
        self.record: RequestRecord | None = None

    def emit(self, record: RequestRecord) -> None:
        if self.record is not None:
            logger.error("a second record for call %s was dropped", record.request_id)
            return
        if self._decisions:
            record = dataclasses.replace(record, guard_decisions=self._decisions)
        self.record = record
        self._sink(record)


@dataclass(slots=True)
class Admission:
    """The result of running the guards' `before`: the call to make, or a refusal, or the
    error (a cancellation included) that a guard's `before` ended with (`failure`)."""

    call: PlannedCall
    decisions: tuple[GuardDecision, ...]
    admitted: list[tuple[CallGuard, PlannedCall]]
    refusal: CallRefusedError | None = None
    failure: BaseException | None = None

    @property
    def stopped(self) -> BaseException | None:
        """Why the call must not be made (a refusal or a failure), or None."""
        return self.refusal or self.failure

    def slot(self, sink: Callable[[RequestRecord], None]) -> RecordSlot:
        """Where this call's one record goes."""
        return RecordSlot(sink, self.decisions)

    async def settle(self, record: RequestRecord) -> None:
        """Give `record` to every guard that let the call through, last one first."""
        for guard, seen in reversed(self.admitted):
            try:
                await guard.after(seen, record)
            except Exception:
                logger.exception("guard %r failed in after(); the call is unaffected", guard.name)


class GuardChain:
    """The guards of one service, run in order."""

    def __init__(self, guards: Sequence[CallGuard] = ()) -> None:
        for guard in guards:
            if not isinstance(guard, CallGuard):
                raise ConfigurationError(
                    f"{guard!r} is not a CallGuard: it needs a `name` and async `before` and "
                    "`after` methods (subclass ai.core.guards.PassThroughGuard)."
                )
        self.guards = tuple(guards)

    def __bool__(self) -> bool:
        return bool(self.guards)

    async def admit(self, call: PlannedCall) -> Admission:
        """Run every `before`; stops at the first refusal or failure (see `Admission`), so
        the caller can still record the call and settle the guards admitted so far."""
        if not self.guards:
            return Admission(call, (), [])
        decisions: list[GuardDecision] = []
        admitted: list[tuple[CallGuard, PlannedCall]] = []
        for guard in self.guards:
            try:
                changed = await guard.before(call)
            except CallRefusedError as refusal:
                refusal.guard = refusal.guard or guard.name
                decisions.append(GuardDecision(guard.name, GuardAction.REFUSE, reason=str(refusal)))
                return Admission(call, tuple(decisions), admitted, refusal)
            except BaseException as error:  # cancelled too: the call still leaves its record
                return Admission(call, tuple(decisions), admitted, failure=error)
            admitted.append((guard, call))
            if changed is not None and changed != call:
                _check_same_call(guard, call, changed)
                decisions.append(
                    GuardDecision(guard.name, GuardAction.REWRITE, _diff(call, changed))
                )
                call = changed
        return Admission(call, tuple(decisions), admitted)

    async def run(
        self,
        call: PlannedCall,
        sink: Callable[[RequestRecord], None],
        work: Callable[[PlannedCall, RecordSlot], Awaitable[T]],
        unrecorded: Callable[[PlannedCall, BaseException], RequestRecord],
    ) -> T:
        """Admit `call`, run `work`, and make sure it leaves exactly one record.

        `work` emits its record into the slot it is given; if it ends (raises, or is
        cancelled) without one, `unrecorded` builds it. A refusal is recorded the same
        way and raised. Guards settle after the record is on the bus.
        """
        admission = await self.admit(call)
        slot = admission.slot(sink)
        stopped = admission.stopped
        if stopped is not None:
            slot.emit(unrecorded(admission.call, stopped))
            await admission.settle(_emitted(slot))
            raise stopped
        try:
            return await work(admission.call, slot)
        except BaseException as error:
            if slot.record is None:
                slot.emit(unrecorded(admission.call, error))
            raise
        finally:
            if slot.record is not None and admission.admitted:
                await admission.settle(slot.record)


def _emitted(slot: RecordSlot) -> RequestRecord:
    assert slot.record is not None
    return slot.record


def _check_same_call(guard: CallGuard, before: PlannedCall, after: PlannedCall) -> None:
    if (after.operation, after.request_id, after.inputs) != (
        before.operation,
        before.request_id,
        before.inputs,
    ):
        raise ConfigurationError(
            f"Guard {guard.name!r} returned a different call; rewrite with call.replace(...)."
        )


def _diff(before: PlannedCall, after: PlannedCall) -> dict[str, tuple[Any, Any]]:
    changes: dict[str, tuple[Any, Any]] = {}
    for name in _REWRITABLE:
        old, new = getattr(before, name), getattr(after, name)
        if name == "parameters":
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    changes[key] = (old.get(key), new.get(key))
        elif old != new:
            changes[name] = (old, new)
    return changes
