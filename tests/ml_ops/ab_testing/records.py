"""`RequestRecord`s as an LLM call under an experiment leaves them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from ai.core.records import GuardAction, GuardDecision, RequestRecord
from ai.errors import ErrorType

_NUMBERS = itertools.count()


def tagged_record(
    experiment: str | None,
    variant: str | None,
    *,
    success: bool = True,
    latency_ms: float = 100.0,
    cost: float | None = 0.001,
    refused: bool = False,
    at: datetime | None = None,
    **changes: Any,
) -> RequestRecord:
    tags = {}
    if experiment is not None:
        tags["experiment"] = experiment
    if variant is not None:
        tags["variant"] = variant
    fields: dict[str, Any] = {
        "request_id": f"req-{next(_NUMBERS)}",
        "timestamp": at or datetime(2026, 1, 1, tzinfo=UTC),
        "provider": "openai",
        "model_requested": "gpt-4o-mini",
        "model": "gpt-4o-mini" if success else None,
        "usage": None,
        "estimated_cost": cost,
        "latency_ms": latency_ms,
        "time_to_first_token_ms": None,
        "attempts": 1,
        "success": success,
        "error_type": None if success else ErrorType.TIMEOUT,
        "tags": tags,
    }
    if refused:
        fields.update(
            success=False,
            error_type=ErrorType.REFUSED,
            guard_decisions=(GuardDecision("budget", GuardAction.REFUSE, reason="spent"),),
        )
    fields.update(changes)
    return RequestRecord(**fields)
