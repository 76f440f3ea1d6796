"""A `RequestRecord` as a flat row of plain values, and back, for every store.

Flat columns for what is filtered and summed (times, model, user, tokens, cost, outcome);
JSON text for the open-ended parts (tags, guard decisions). Nothing else of a call is
kept: no prompt text, no answer, no key (the record carries none).

`Rollup` and `AlertRecord` have their row forms here too (`rollup_row`, `alert_row` and
back), and `spill_line` / `from_spill_line` are a record as one line of JSON, the format
of the writer's spill files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
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
from ml_ops.store.base import AlertRecord, AlertStatus, Rollup, json_ready

COLUMNS = (
    "request_id", "timestamp", "operation", "provider", "model_requested", "model",
    "success", "error_type", "error_message", "latency_ms", "ttft_ms", "attempts",
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_creation_tokens",
    "reasoning_tokens", "tokens_estimated", "has_usage", "cost", "cost_source",
    "saved_cost", "cached", "streamed", "fallback_used", "user_id", "agent", "tags",
    "guard_decisions", "schema_version",
)  # fmt: skip
"""Row fields in the order stores declare their columns."""

# Built once: json.dumps with options builds a new encoder on every call.
_TAGS_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_DECISIONS_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


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
        "tags": _TAGS_JSON.encode(dict(record.tags)) if record.tags else "{}",
        "guard_decisions": (
            _DECISIONS_JSON.encode([_decision(d) for d in record.guard_decisions])
            if record.guard_decisions
            else "[]"
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


# --- times -----------------------------------------------------------------------------


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """Fixed-width ISO 8601 text in UTC (microseconds always written), so that text order
    is time order: how SQLite keeps and compares times."""
    return as_utc(moment).isoformat(timespec="microseconds")


def optional_datetime(value: Any) -> datetime | None:
    """`None`, or a datetime from a datetime or ISO text."""
    return None if value is None else _datetime(value)


# --- spill lines -----------------------------------------------------------------------


def spill_line(record: RequestRecord) -> str:
    """The record as one line of JSON (no newline), read back by `from_spill_line`."""
    return json.dumps(json_ready(to_row(record)), ensure_ascii=False, separators=(",", ":"))


def from_spill_line(line: str) -> RequestRecord:
    """A record from a `spill_line`; `ValueError`/`KeyError`/`TypeError` when damaged."""
    row = json.loads(line)
    if not isinstance(row, dict):
        raise TypeError(f"a spill line holds a JSON object, not {type(row).__name__}")
    return from_row(row)


# --- rollups ---------------------------------------------------------------------------

ROLLUP_COLUMNS = (
    "rollup_key", "bucket_start", "bucket_seconds", "model", "provider", "operation",
    "user_id", "agent", "requests", "failures", "cached", "input_tokens", "output_tokens",
    "cached_input_tokens", "reasoning_tokens", "cost", "saved_cost", "latency_ms_sum",
    "errors", "latency_bins", "ttft_bins",
)  # fmt: skip
"""Rollup row fields in the order stores declare their columns."""


def rollup_key(rollup: Rollup) -> str:
    """One text naming the rollup's bucket and group (None kept apart from ""), the key a
    later retention pass merges into."""
    parts = [
        utc_text(rollup.bucket_start),
        rollup.bucket_seconds,
        rollup.model,
        rollup.provider,
        str(rollup.operation),
        rollup.user,
        rollup.agent,
    ]
    return json.dumps(parts, ensure_ascii=False, separators=(",", ":"))


def rollup_row(rollup: Rollup) -> dict[str, Any]:
    """The rollup as plain values (bucket start a UTC datetime, maps as JSON text)."""
    return {
        "rollup_key": rollup_key(rollup),
        "bucket_start": as_utc(rollup.bucket_start),
        "bucket_seconds": rollup.bucket_seconds,
        "model": rollup.model,
        "provider": rollup.provider,
        "operation": str(rollup.operation),
        "user_id": rollup.user,
        "agent": rollup.agent,
        "requests": rollup.requests,
        "failures": rollup.failures,
        "cached": rollup.cached,
        "input_tokens": rollup.input_tokens,
        "output_tokens": rollup.output_tokens,
        "cached_input_tokens": rollup.cached_input_tokens,
        "reasoning_tokens": rollup.reasoning_tokens,
        "cost": rollup.cost,
        "saved_cost": rollup.saved_cost,
        "latency_ms_sum": rollup.latency_ms_sum,
        "errors": _json_map(rollup.errors),
        "latency_bins": _json_map(rollup.latency_bins),
        "ttft_bins": _json_map(rollup.ttft_bins),
    }


def rollup_from_row(row: Any) -> Rollup:
    """A rollup from a row with the `ROLLUP_COLUMNS` keys."""
    return Rollup(
        bucket_start=as_utc(_datetime(row["bucket_start"])),
        bucket_seconds=int(row["bucket_seconds"]),
        model=row["model"],
        provider=row["provider"],
        operation=Operation(row["operation"]),
        user=row["user_id"],
        agent=row["agent"],
        requests=int(row["requests"]),
        failures=int(row["failures"]),
        cached=int(row["cached"]),
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cached_input_tokens=int(row["cached_input_tokens"]),
        reasoning_tokens=int(row["reasoning_tokens"]),
        cost=float(row["cost"]),
        saved_cost=float(row["saved_cost"]),
        latency_ms_sum=float(row["latency_ms_sum"]),
        errors={str(k): int(v) for k, v in json.loads(row["errors"]).items()},
        latency_bins={int(k): int(v) for k, v in json.loads(row["latency_bins"]).items()},
        ttft_bins={int(k): int(v) for k, v in json.loads(row["ttft_bins"]).items()},
    )


def _json_map(mapping: Mapping[Any, int]) -> str:
    return json.dumps({str(k): v for k, v in mapping.items()}, sort_keys=True)


# --- alerts ----------------------------------------------------------------------------

ALERT_COLUMNS = (
    "alert_id", "rule", "severity", "status", "message", "metric", "value", "threshold",
    "fired_at", "resolved_at", "acknowledged_at", "labels",
)  # fmt: skip
"""Alert row fields in the order stores declare their columns."""


def alert_row(alert: AlertRecord) -> dict[str, Any]:
    """The alert as plain values (times UTC datetimes, labels JSON text)."""
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "severity": alert.severity,
        "status": str(alert.status),
        "message": alert.message,
        "metric": alert.metric,
        "value": alert.value,
        "threshold": alert.threshold,
        "fired_at": as_utc(alert.fired_at),
        "resolved_at": None if alert.resolved_at is None else as_utc(alert.resolved_at),
        "acknowledged_at": (
            None if alert.acknowledged_at is None else as_utc(alert.acknowledged_at)
        ),
        "labels": json.dumps(dict(alert.labels), sort_keys=True, ensure_ascii=False),
    }


def alert_from_row(row: Any) -> AlertRecord:
    """An alert from a row with the `ALERT_COLUMNS` keys."""
    return AlertRecord(
        alert_id=row["alert_id"],
        rule=row["rule"],
        severity=row["severity"],
        status=AlertStatus(row["status"]),
        message=row["message"],
        metric=row["metric"],
        value=None if row["value"] is None else float(row["value"]),
        threshold=float(row["threshold"]),
        fired_at=_datetime(row["fired_at"]),
        resolved_at=optional_datetime(row["resolved_at"]),
        acknowledged_at=optional_datetime(row["acknowledged_at"]),
        labels=json.loads(row["labels"] or "{}"),
    )
