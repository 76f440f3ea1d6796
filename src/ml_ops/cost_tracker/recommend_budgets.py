"""Recommendations for budgets that are missing where spend concentrates.

A global budget stops runaway spend but lets one user or agent use all of it; the
heaviest spenders without a budget of their own are where a per-scope budget helps. The
saving is 0.0: a budget caps risk, it does not make calls cheaper.

Public names: `recommend_budgets`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime

from ai.accounting.pricing import PricingTable
from ai.core.records import RequestRecord
from ml_ops.cost_tracker.recommendation_base import (
    DEFAULT_SETTINGS,
    ObservedWindow,
    Recommendation,
    RecommendationKind,
    RecommendationSettings,
    call_cost,
    observed_window,
)

__all__ = ["recommend_budgets"]

HEADROOM = 1.25
"""Suggested limits sit 25% above the projected monthly spend: room for normal growth,
a stop for a runaway loop."""


def recommend_budgets(
    records: Sequence[RequestRecord],
    pricing: PricingTable,
    *,
    budgeted_users: Collection[str] = (),
    budgeted_agents: Collection[str] = (),
    window: tuple[datetime, datetime] | None = None,
    settings: RecommendationSettings = DEFAULT_SETTINGS,
) -> list[Recommendation]:
    """The `budget_top_n` heaviest users and agents by spend, each with at least
    `budget_min_share` of all spend, that have no budget (not in `budgeted_users` /
    `budgeted_agents`). Users come before agents, each heaviest first."""
    if not records:
        return []
    span = observed_window(records, window)
    total = math.fsum(call_cost(r, pricing) for r in records)
    if total <= 0:
        return []
    found: list[Recommendation] = []
    for scope, budgeted in (("user", budgeted_users), ("agent", budgeted_agents)):
        costs: defaultdict[str, list[float]] = defaultdict(list)
        for record in records:
            name = record.user if scope == "user" else record.agent
            if name:
                costs[name].append(call_cost(record, pricing))
        spend = {name: math.fsum(amounts) for name, amounts in costs.items()}
        ranked = sorted(spend.items(), key=lambda item: (-item[1], item[0]))
        for rank, (name, amount) in enumerate(ranked[: settings.budget_top_n], start=1):
            share = amount / total
            if name in budgeted or share < settings.budget_min_share:
                continue
            found.append(_missing_budget(scope, name, amount, share, rank, span))
    return found


def _missing_budget(
    scope: str, name: str, amount: float, share: float, rank: int, span: ObservedWindow
) -> Recommendation:
    projected = span.monthly(amount)
    limit = _round_up(projected * HEADROOM)
    evidence = {
        "scope": f"{scope}:{name}",
        "rank": rank,
        "spend_in_window": amount,
        "share_of_spend": share,
        "projected_monthly_spend": projected,
        "suggested_monthly_limit": limit,
        "window_days": span.days,
    }
    action = (
        f"{scope.capitalize()} {name!r} accounts for {share:.0%} of spend with no budget of "
        f"its own. Add a monthly budget scoped to this {scope}, for example ${limit:,.2f} "
        f"(25% above the projected ${projected:,.2f}), with an alert at 80%."
    )
    title = f"Set a budget for {scope} {name!r}"
    return Recommendation(RecommendationKind.MISSING_BUDGET, title, 0.0, evidence, action)


def _round_up(amount: float) -> float:
    """Up to two significant digits (1234.5 -> 1300.0), so a limit reads as chosen."""
    if amount <= 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(amount)) - 1)
    return round(math.ceil(amount / step - 1e-9) * step, 10)
