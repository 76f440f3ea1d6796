"""Cost recommendations: every kind at once, largest saving first.

Each kind is a pure function of request records and a price table (see
`recommend_models`, `recommend_caching`, `recommend_budgets`); `recommend` runs them all
with one window and one set of thresholds. Savings of different recommendations for the
same calls overlap (moving a model to a cheaper sibling *and* trimming its prompts do not
add up), so read them as alternatives to weigh, not a sum.

Public names: `recommend`, and re-exported for one import: `Recommendation`,
`RecommendationKind`, `RecommendationSettings`, `REQUEST_HASH_TAG`,
`recommend_cheaper_model`, `recommend_response_cache`, `recommend_trimming_input`,
`recommend_prompt_caching`, `recommend_budgets`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from ai.accounting.pricing import PricingTable
from ai.core.records import RequestRecord
from ml_ops.cost_tracker.recommend_budgets import recommend_budgets
from ml_ops.cost_tracker.recommend_caching import (
    recommend_prompt_caching,
    recommend_response_cache,
)
from ml_ops.cost_tracker.recommend_models import (
    recommend_cheaper_model,
    recommend_trimming_input,
)
from ml_ops.cost_tracker.recommendation_base import (
    DEFAULT_SETTINGS,
    REQUEST_HASH_TAG,
    Recommendation,
    RecommendationKind,
    RecommendationSettings,
    sort_recommendations,
)

__all__ = [
    "REQUEST_HASH_TAG",
    "Recommendation",
    "RecommendationKind",
    "RecommendationSettings",
    "recommend",
    "recommend_budgets",
    "recommend_cheaper_model",
    "recommend_prompt_caching",
    "recommend_response_cache",
    "recommend_trimming_input",
]


def recommend(
    records: Sequence[RequestRecord],
    pricing: PricingTable,
    *,
    window: tuple[datetime, datetime] | None = None,
    budgeted_users: Collection[str] = (),
    budgeted_agents: Collection[str] = (),
    settings: RecommendationSettings = DEFAULT_SETTINGS,
) -> list[Recommendation]:
    """All recommendations for `records`, largest estimated monthly saving first (ties by
    kind, then in each kind's own fixed order), the same for any order of `records`.

    `window` is the time range the records were read for; without it, first to last
    record (at least a day). `budgeted_users` and `budgeted_agents` name the users and
    agents that already have a budget of their own.
    """
    kinds = (
        recommend_cheaper_model,
        recommend_response_cache,
        recommend_prompt_caching,
        recommend_trimming_input,
    )
    found = [r for kind in kinds for r in kind(records, pricing, window=window, settings=settings)]
    budgets = recommend_budgets(
        records,
        pricing,
        budgeted_users=budgeted_users,
        budgeted_agents=budgeted_agents,
        window=window,
        settings=settings,
    )
    return sort_recommendations([*found, *budgets])
