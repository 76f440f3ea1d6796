"""What every cost recommendation shares: its shape, its thresholds, the observed window
its savings are extrapolated from, and the list-price split of each call's cost.

Recommendations are pure functions over `RequestRecord`s and a `PricingTable`, so they
run the same on records read from a store, held in memory, or built in a test. Savings
are re-priced at list prices from the table on both sides of the comparison (what the
calls cost on their model, what they would cost otherwise), so provider discounts or a
stale recorded cost cannot make a recommendation look better than it is.

Public names: `Recommendation`, `RecommendationKind`, `RecommendationSettings`,
`ObservedWindow`, `PricedCall`, `observed_window`, `priced_calls`, `call_cost`,
`sort_recommendations`, `DEFAULT_SETTINGS`, `REQUEST_HASH_TAG`, `DAYS_PER_MONTH`,
`PER_MILLION`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ai.accounting.model_price import ModelPrice
from ai.accounting.pricing import PricingTable
from ai.core.records import Operation, RequestRecord
from ai.core.usage import Usage
from ai.errors import ConfigurationError
from ml_ops.cost_tracker.downgrades import DEFAULT_DOWNGRADES

__all__ = [
    "DAYS_PER_MONTH",
    "DEFAULT_SETTINGS",
    "PER_MILLION",
    "REQUEST_HASH_TAG",
    "ObservedWindow",
    "PricedCall",
    "Recommendation",
    "RecommendationKind",
    "RecommendationSettings",
    "call_cost",
    "observed_window",
    "priced_calls",
    "sort_recommendations",
]

DAYS_PER_MONTH = 365.25 / 12
"""An average month, for turning a window's saving into a monthly one."""
REQUEST_HASH_TAG = "request_hash"
"""Tag holding a fingerprint of a call's request (model, messages, parameters). Records
carry no prompt text, so this tag is the only way to see identical requests recur."""
PER_MILLION = 1_000_000
"""Prices are USD per million tokens."""
MIN_WINDOW = timedelta(days=1)
"""The shortest window savings are extrapolated from: a burst of an hour is not taken as
a steady rate."""


class RecommendationKind(StrEnum):
    """The kinds of cost recommendation, in the order equal savings are listed."""

    CHEAPER_MODEL = "cheaper_model"
    RESPONSE_CACHE = "response_cache"
    PROMPT_CACHING = "prompt_caching"
    TRIM_INPUT = "trim_input"
    MISSING_BUDGET = "missing_budget"


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One suggestion: what to do (`action`), why (`evidence`, plain JSON values), and
    about how much it would save per month at the observed rate (0.0 where the saving
    cannot be measured, as for a missing budget, which limits risk rather than cost)."""

    kind: RecommendationKind
    title: str
    estimated_monthly_saving: float
    evidence: Mapping[str, Any]
    action: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return {
            "kind": self.kind.value,
            "title": self.title,
            "estimated_monthly_saving": self.estimated_monthly_saving,
            "evidence": dict(self.evidence),
            "action": self.action,
        }


@dataclass(frozen=True, slots=True)
class RecommendationSettings:
    """Thresholds of the recommendations; the defaults suit a few hundred calls a day.

    - `min_requests`: calls a pattern needs before it is reported.
    - `min_monthly_saving`: USD a month below which a saving is not worth a line.
    - `short_input_tokens`, `short_output_tokens`: a "short" call for a cheaper model.
    - `downgrades`: expensive model to the cheaper one of its family.
    - `input_share`: share of a model's cost in input tokens that calls for trimming.
    - `assumed_input_reduction`: how much trimming is assumed to cut input tokens.
    - `min_uncached_volume`: calls with no fingerprints and no cache hits before the
      response cache is suggested anyway.
    - `min_prefix_tokens`: the shortest prompt prefix providers cache (1,024 tokens).
    - `prompt_cache_ttl`: how long a provider keeps a cached prefix (five minutes).
    - `budget_top_n`, `budget_min_share`: how many of the heaviest users and agents, each
      with at least this share of spend, are checked for a budget.
    """

    min_requests: int = 20
    min_monthly_saving: float = 1.0
    short_input_tokens: int = 1000
    short_output_tokens: int = 300
    downgrades: Mapping[str, str] = field(default_factory=lambda: DEFAULT_DOWNGRADES)
    input_share: float = 0.8
    assumed_input_reduction: float = 0.3
    min_uncached_volume: int = 1000
    min_prefix_tokens: int = 1024
    prompt_cache_ttl: timedelta = timedelta(minutes=5)
    budget_top_n: int = 3
    budget_min_share: float = 0.1

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(
                    f"RecommendationSettings.{item.name} must be a finite number >= 0, "
                    f"got {value!r}"
                )
        for name in ("input_share", "assumed_input_reduction", "budget_min_share"):
            if getattr(self, name) > 1:
                raise ConfigurationError(
                    f"RecommendationSettings.{name} is a fraction between 0 and 1, "
                    f"got {getattr(self, name)!r}"
                )
        if self.prompt_cache_ttl <= timedelta(0):
            raise ConfigurationError("RecommendationSettings.prompt_cache_ttl must be positive")


DEFAULT_SETTINGS = RecommendationSettings()
"""The thresholds used when none are given."""


@dataclass(frozen=True, slots=True)
class ObservedWindow:
    """The time the records cover; savings in it are scaled to a month."""

    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        """Length in days."""
        return (self.end - self.start) / timedelta(days=1)

    def monthly(self, amount: float) -> float:
        """`amount` spent or saved in this window, at the same rate for an average month."""
        return amount * DAYS_PER_MONTH / self.days


@dataclass(frozen=True, slots=True)
class PricedCall:
    """A successful chat call that reached a provider, priced at its model's list price,
    with the cost split into the input part (all prompt tokens, cached or not) and the
    rest."""

    record: RequestRecord
    usage: Usage
    model: str
    price: ModelPrice
    cost: float
    input_cost: float


def observed_window(
    records: Sequence[RequestRecord], window: tuple[datetime, datetime] | None = None
) -> ObservedWindow:
    """The window to extrapolate from: `window` when given (the range the records were
    queried for), otherwise first to last record; at least a day either way, so that a
    few minutes of traffic (a demo, a burst) are not taken as a month's steady rate."""
    if window is not None:
        start, end = window
        if end <= start:
            raise ValueError(f"window end {end.isoformat()} is not after its start")
        return ObservedWindow(start, max(end, start + MIN_WINDOW))
    if not records:
        raise ValueError("no records and no window: nothing to extrapolate from")
    first = min(r.timestamp for r in records)
    last = max(r.timestamp for r in records)
    return ObservedWindow(first, max(last, first + MIN_WINDOW))


def priced_calls(records: Iterable[RequestRecord], pricing: PricingTable) -> list[PricedCall]:
    """The chat calls a provider answered and billed (not failed, not served from the
    response cache), each priced; calls on models the table has no price for are left
    out, since nothing can be said about what they would cost elsewhere."""
    calls: list[PricedCall] = []
    for record in records:
        if (
            not record.success
            or record.cached
            or record.operation is not Operation.CHAT
            or record.usage is None
            or record.model is None
        ):
            continue
        price = pricing.get(record.model)
        if price is None:
            continue
        usage = record.usage
        input_cost = (
            usage.uncached_input_tokens * price.input
            + usage.cached_input_tokens * price.cached_input_price
            + usage.cache_creation_tokens * price.cache_creation_price
        ) / PER_MILLION
        cost = price.cost(usage)
        calls.append(PricedCall(record, usage, record.model, price, cost, input_cost))
    return calls


def call_cost(record: RequestRecord, pricing: PricingTable) -> float:
    """What a call cost: its recorded cost, else its list price, else 0 (unknown model)."""
    if record.estimated_cost is not None:
        return record.estimated_cost
    if record.usage is None or record.model is None:
        return 0.0
    price = pricing.get(record.model)
    return price.cost(record.usage) if price is not None else 0.0


def sort_recommendations(items: Iterable[Recommendation]) -> list[Recommendation]:
    """Largest saving first; equal savings by kind (`RecommendationKind` order), then in
    the order their kind listed them (each kind lists in a fixed order: by model name,
    template or agent, budgets heaviest spender first), so the result never depends on
    the order of the records.

    Savings are compared at a micro-dollar so float noise cannot reorder equal ones.
    """
    order = {kind: index for index, kind in enumerate(RecommendationKind)}
    return sorted(items, key=lambda r: (-round(r.estimated_monthly_saving, 6), order[r.kind]))
