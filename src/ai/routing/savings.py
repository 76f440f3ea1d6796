"""What routing saved: each call a router sent to the cheap model, re-priced on the
capable model it replaced (`routed_from` tag), minus what it cost."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ai.accounting.pricing import PricingTable
from ai.core.records import RequestRecord, TagKey


@dataclass(frozen=True, slots=True)
class RoutingSavings:
    """Calls routed to a cheaper model, their cost, and the cost on the capable model."""

    routed_calls: int
    cost: float
    cost_if_capable: float
    unpriced_calls: int

    @property
    def saving(self) -> float:
        return self.cost_if_capable - self.cost


def routing_savings(records: Iterable[RequestRecord], pricing: PricingTable) -> RoutingSavings:
    """Sum over successful routed calls the provider answered (a cache hit cost nothing
    on either model: its saving is the cache's, not the router's); calls with no price
    on either side are counted in `unpriced_calls` and left out of both sums."""
    routed = cost = capable_cost = 0.0
    unpriced = 0
    for record in records:
        capable = record.tags.get(TagKey.ROUTED_FROM.value)
        if capable is None or not record.success or record.cached or record.usage is None:
            continue
        alternative = pricing.cost(capable, record.usage)
        if alternative is None or record.estimated_cost is None:
            unpriced += 1
            continue
        routed += 1
        cost += record.estimated_cost
        capable_cost += alternative
    return RoutingSavings(int(routed), cost, capable_cost, unpriced)
