"""A `RequestRecord` as a flat row of plain values, and back, for every store.

Flat columns for what is filtered and summed (times, model, user, tokens, cost, outcome);
JSON text for the open-ended parts (tags, guard decisions). Nothing else of a call is
kept: no prompt text, no answer, no key (the record carries none).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ai.core.records import (
    CostSource,
    GuardAction,
    GuardDecision,
    Operation,
    RequestRecord,
)
from ai.core.usage import Usage
from ai.errors import ErrorType

COLUMNS = (
    "request_id", "timestamp", "operation", "provider", "model_requested", "model",
    "success", "error_type", "error_message", "latency_ms", "ttft_ms", "attempts",
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_tokens",
    "reasoning_tokens", "tokens_estimated", "has_usage", "cost", "cost_source",
    "saved_cost", "cached", "streamed", "fallback_used", "user_id", "agent", "tags",
    "guard_decisions", "schema_version",
)  # fmt: skip
"""Row fields in the order stores declare their columns."""


def to_row(record: RequestRecord) -> dict[str, Any]:
    """The record as plain values (timestamps stay timezone-aware datetimes)."""
    usage = record.usage or Usage()
    return {
        "request_id": record.request_id,
        "timestamp": record.timestamp,
        "operation": str(record.operation),
        "provider": record.provider,
        "model_requested": record.model_requested,
        "model": record.model,
        "success": record.success,
        "error_type": None if record.error_type is None else str(record.error_type),
        "error_message": record.error_message,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.time_to_first_token_ms,
        "attempts": record.attempts,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "cache_creation_tokens": usage.cache_creation_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "tokens_estimated": usage.estimated,
        "has_usage": record.usage is not None,
        "cost": record.estimated_cost,
        "cost_source": None if record.cost_source is None else str(record.cost_source),
        "saved_cost": record.saved_cost,
        "cached": record.cached,
        "streamed": record.streamed,
        "fallback_used": record.fallback_used,
        "user_id": record.user,
        "agent": record.agent,
        "tags": json.dumps(dict(record.tags), sort_keys=True, ensure_ascii=False),
        "guard_decisions": json.dumps(
            [_decision(d) for d in record.guard_decisions], ensure_ascii=False, default=str
        ),
        "schema_version": record.schema_version,
    }


def from_row(row: Any) -> RequestRecord:
    """A record from a row with the `COLUMNS` keys (a dict, sqlite3.Row or asyncpg Record)."""
    usage = None
    if row["has_usage"]:
        usage = Usage(
            input_tokens=int(row["input_tokens"]),
            output_tokens=int(row["output_tokens"]),
            cached_input_tokens=int(row["cached_input_tokens"]),
            cache_creation_tokens=int(row["cache_creation_tokens"]),
            reasoning_tokens=int(row["reasoning_tokens"]),
            estimated=bool(row["tokens_estimated"]),
        )
    return RequestRecord(
        request_id=row["request_id"],
        timestamp=_datetime(row["timestamp"]),
        provider=row["provider"],
        model_requested=row["model_requested"],
        model=row["model"],
        usage=usage,
        estimated_cost=row["cost"],
        latency_ms=float(row["latency_ms"]),
        time_to_first_token_ms=row["ttft_ms"],
        attempts=int(row["attempts"]),
        success=bool(row["success"]),
        error_type=None if row["error_type"] is None else _error_type(row["error_type"]),
        error_message=row["error_message"],
        cached=bool(row["cached"]),
        streamed=bool(row["streamed"]),
        fallback_used=bool(row["fallback_used"]),
        cost_source=None if row["cost_source"] is None else CostSource(row["cost_source"]),
        saved_cost=row["saved_cost"],
        user=row["user_id"],
        agent=row["agent"],
        tags=json.loads(row["tags"] or "{}"),
        operation=Operation(row["operation"]),
        guard_decisions=tuple(_guard(d) for d in json.loads(row["guard_decisions"] or "[]")),
        schema_version=int(row["schema_version"]),
    )


def _decision(decision: GuardDecision) -> dict[str, Any]:
    return {
        "guard": decision.guard,
        "action": str(decision.action),
        "changes": {k: list(v) for k, v in decision.changes.items()},
        "reason": decision.reason,
    }


def _guard(data: dict[str, Any]) -> GuardDecision:
    changes = {k: (v[0], v[1]) for k, v in (data.get("changes") or {}).items()}
    return GuardDecision(data["guard"], GuardAction(data["action"]), changes, data.get("reason"))


def _error_type(value: str) -> ErrorType:
    try:
        return ErrorType(value)
    except ValueError:  # written by a newer version: keep it readable
        return ErrorType.UNEXPECTED


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
