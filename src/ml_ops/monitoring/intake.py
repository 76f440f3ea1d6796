"""What `MLMonitor` needs to take records in: de-duplication by request id, and the
pieces of a `RequestRecord` built by hand (`track_request`)."""

from __future__ import annotations

import math
from collections import deque

from ai.core.records import GuardAction, GuardDecision, Operation
from ai.core.usage import Usage
from ai.errors import ConfigurationError, ErrorType


class RecentIds:
    """The request ids of the last `capacity` records counted (0: remember none)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ConfigurationError("dedup_capacity must be >= 0")
        self._capacity = capacity
        self._order: deque[str] = deque()
        self._seen: set[str] = set()

    def add(self, request_id: str) -> bool:
        """Remember `request_id`; False when it was already remembered."""
        if not self._capacity:
            return True
        if request_id in self._seen:
            return False
        self._seen.add(request_id)
        self._order.append(request_id)
        if len(self._order) > self._capacity:
            self._seen.discard(self._order.popleft())
        return True

    def __len__(self) -> int:
        return len(self._order)


def error_kind(error_type: ErrorType | str | None) -> tuple[str | None, ErrorType | None]:
    """(own label, ErrorType) for `track_request`'s `error_type`: an `ErrorType` value
    becomes that type; any other text is kept as a label, typed `UNEXPECTED`."""
    if error_type is None or isinstance(error_type, ErrorType):
        return None, error_type
    try:
        return None, ErrorType(error_type)
    except ValueError:
        return str(error_type), ErrorType.UNEXPECTED


def check_amounts(**amounts: float | None) -> None:
    """Latencies and costs given by hand must be finite and >= 0: one NaN would turn
    every total and average it joins into NaN for as long as the window holds it."""
    for name, value in amounts.items():
        if value is not None and not 0 <= value < math.inf:
            raise ConfigurationError(f"{name} must be a finite number >= 0, got {value}")


def operation_of(operation: Operation | str) -> Operation:
    """`operation` as an `Operation`; an unknown name is a `ConfigurationError`."""
    try:
        return Operation(operation)
    except ValueError:
        known = ", ".join(member.value for member in Operation)
        raise ConfigurationError(f"unknown operation {operation!r}; one of: {known}") from None


def usage_of(
    tokens: int | None, input_tokens: int | None, output_tokens: int | None
) -> Usage | None:
    """The `Usage` of a hand-tracked request: `tokens` alone counts as input tokens."""
    try:
        if input_tokens is None and output_tokens is None:
            return None if tokens is None else Usage(input_tokens=tokens)
        usage = Usage(input_tokens=input_tokens or 0, output_tokens=output_tokens or 0)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if tokens is not None and tokens != usage.total_tokens:
        raise ConfigurationError(
            f"tokens={tokens} differs from input_tokens + output_tokens ({usage.total_tokens})"
        )
    return usage


def refusal(kind: ErrorType | None) -> tuple[GuardDecision, ...]:
    """A refusal decision for a hand-tracked `refused` request, so its outcome says so."""
    if kind is not ErrorType.REFUSED:
        return ()
    return (GuardDecision(guard="track_request", action=GuardAction.REFUSE),)
