"""Records for the event store tests: varied enough that every filter selects something
and leaves something out, with costs and latencies that add up exactly in binary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
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
from ml_ops.store.base import AlertRecord, AlertStatus

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


def make_record(number: int, *, at: datetime | None = None, **changes: Any) -> RequestRecord:
    """Record `number`: 20 minutes after the previous one unless `at` says otherwise."""
    failed = number % 5 == 3
    fields: dict[str, Any] = {
        "request_id": f"req-{number:05d}",
        "timestamp": at or T0 + timedelta(minutes=20 * number),
        "provider": ("openai", "anthropic", "openrouter")[number % 3],
        "model_requested": ("gpt-4o-mini", "claude-haiku", "deepseek")[number % 3],
        "model": None if failed else ("gpt-4o-mini", "claude-haiku", "deepseek")[number % 3],
        "usage": None if failed else Usage(input_tokens=10 + number, output_tokens=number % 7),
        "estimated_cost": None if failed else 0.25 * (number % 4),
        "latency_ms": 50.0 + 12.5 * number,
        "time_to_first_token_ms": 20.0 + number if number % 2 else None,
        "attempts": 1 + number % 3,
        "success": not failed,
        "error_type": ErrorType.TIMEOUT if failed else None,
        "error_message": "timed out after 30s" if failed else None,
        "cached": number % 6 == 0,
        "streamed": number % 2 == 1,
        "cost_source": None if failed else CostSource.PRICING,
        "saved_cost": 0.5 if number % 6 == 0 else None,
        "user": ("alice", "bob", None)[number % 3 if number % 4 else 2],
        "agent": "planner" if number % 4 == 1 else None,
        "tags": {"team": ("search", "chat")[number % 2], "prompt.v": str(number % 3)},
        "operation": Operation.EMBEDDING if number % 7 == 6 else Operation.CHAT,
    }
    fields.update(changes)
    return RequestRecord(**fields)


def rich_record() -> RequestRecord:
    """A record with every optional part set, in a non-UTC time zone."""
    return RequestRecord(
        request_id="rich-1",
        timestamp=datetime(2026, 3, 2, 12, 30, 15, 123456, tzinfo=PLUS_TWO),
        provider="openrouter",
        model_requested="openai/gpt-4o",
        model="openai/gpt-4o-mini",
        usage=Usage(
            input_tokens=1200,
            output_tokens=300,
            cached_input_tokens=1000,
            cache_creation_tokens=100,
            reasoning_tokens=120,
            estimated=True,
        ),
        estimated_cost=0.00123,
        latency_ms=812.345,
        time_to_first_token_ms=123.25,
        attempts=3,
        success=True,
        cached=False,
        streamed=True,
        fallback_used=True,
        cost_source=CostSource.PROVIDER,
        saved_cost=0.0001,
        user="ünïcode-user ✓",
        agent="agent 'quoted' \"double\"",
        tags={"prompt": "greet", "experiment": "exp.1", "weird key \"'": "x,y=z"},
        guard_decisions=(
            GuardDecision("budget", GuardAction.REWRITE, {"model": ("gpt-4o", "gpt-4o-mini")}),
            GuardDecision("router", GuardAction.REWRITE, {"temperature": (0.7, 0.2)}, "cheap"),
        ),
    )


def make_alert(number: int, **changes: Any) -> AlertRecord:
    fields: dict[str, Any] = {
        "alert_id": f"alert-{number}",
        "rule": "p95_latency",
        "severity": ("warning", "critical")[number % 2],
        "status": AlertStatus.FIRING,
        "message": f"P95 latency above threshold ({number})",
        "metric": "latency_p95_ms",
        "value": 1500.0 + number,
        "threshold": 1000.0,
        "fired_at": T0 + timedelta(minutes=number),
        "labels": {"model": "gpt-4o-mini"},
    }
    fields.update(changes)
    return AlertRecord(**fields)
