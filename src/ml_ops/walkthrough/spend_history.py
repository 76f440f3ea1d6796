"""Four weeks of spend before today, for the forecasts of sections 8 and 10.

A walk-through lasts a minute, and a forecast needs whole days behind it (28 for the
seasonal model). So the cost tracker starts with the support bot's calls of the 28 days
before today, as `CostTracker.restore()` would load them from an event store: short
gpt-4o calls, busier on weekdays and growing week by week. They are counted with
`CostTracker.observe` only (the monitor's live windows never see them), belong to no
user (the budgets of section 8 are per user), and come first, so the tracker's records
stay oldest first. The series is fixed, so the forecasts are the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

from ai.accounting.pricing import PricingTable
from ai.core.records import CostSource, RequestRecord
from ai.core.usage import Usage

HISTORY_DAYS = 28
AGENT = "support-bot"
MODEL = "gpt-4o"
USAGE = Usage(input_tokens=900, output_tokens=250)  # short calls: gpt-4o-mini would do


def calls_on(day_index: int) -> int:
    """Calls on the `day_index`-th day of the history (0: the oldest): 30 on weekdays
    and 8 on weekends, two more a day each week, and 0 to 4 more as a fixed wobble."""
    weekend = day_index % 7 in (5, 6)
    return (8 if weekend else 30) + 2 * (day_index // 7) + (day_index * 7) % 5


def spend_history(now: datetime, pricing: PricingTable) -> Iterator[RequestRecord]:
    """The records of the `HISTORY_DAYS` days before `now`'s (UTC) day, oldest first."""
    cost = pricing.cost(MODEL, USAGE, provider="openai")
    first = datetime.combine(now.date() - timedelta(days=HISTORY_DAYS), time(9), now.tzinfo)
    for day_index in range(HISTORY_DAYS):
        start = first + timedelta(days=day_index)
        for number in range(calls_on(day_index)):
            yield RequestRecord(
                request_id=f"history-{day_index}-{number}",
                timestamp=start + timedelta(minutes=10 * number),
                provider="openai",
                model_requested=MODEL,
                model=MODEL,
                usage=USAGE,
                estimated_cost=cost,
                cost_source=CostSource.PRICING,
                latency_ms=1200.0,
                time_to_first_token_ms=None,
                attempts=1,
                success=True,
                agent=AGENT,
            )


__all__ = ["AGENT", "HISTORY_DAYS", "MODEL", "spend_history"]
