"""Request records built directly, for the recommendation tests."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ai.accounting.pricing import PricingTable
from ai.core.records import CostSource, Operation, RequestRecord
from ai.core.usage import Usage

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
ONE_DAY = (T0, T0 + timedelta(days=1))
PRICING = PricingTable.default()
_ids = itertools.count()


def call(
    model: str = "gpt-4o",
    input_tokens: int = 500,
    output_tokens: int = 100,
    *,
    at: datetime = T0,
    cached_input: int = 0,
    cache_creation: int = 0,
    user: str | None = None,
    agent: str | None = None,
    tags: Mapping[str, str] | None = None,
    cached: bool = False,
    success: bool = True,
    operation: Operation = Operation.CHAT,
    provider: str = "openai",
) -> RequestRecord:
    """A call priced from the default table, as the tracker would have recorded it."""
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached_input,
        cache_creation_tokens=cache_creation,
    )
    price = PRICING.get(model)
    cost = 0.0 if cached else (price.cost(usage) if price else None)
    return RequestRecord(
        request_id=f"req-{next(_ids)}",
        timestamp=at,
        provider=provider,
        model_requested=model,
        model=model,
        usage=usage,
        estimated_cost=cost,
        latency_ms=100.0,
        time_to_first_token_ms=None,
        attempts=1,
        success=success,
        cached=cached,
        cost_source=CostSource.CACHE if cached else CostSource.PRICING,
        user=user,
        agent=agent,
        tags=dict(tags or {}),
        operation=operation,
    )


def spread(
    count: int, step: timedelta = timedelta(minutes=1), **kwargs: Any
) -> list[RequestRecord]:
    """`count` identical calls, one every `step` from `T0`."""
    return [call(at=T0 + i * step, **kwargs) for i in range(count)]
