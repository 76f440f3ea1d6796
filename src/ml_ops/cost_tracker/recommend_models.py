"""Recommendations about which model a call uses and how much it sends it.

- `recommend_cheaper_model`: short calls on an expensive model, re-priced on the next
  cheaper model of the same family (`downgrades`). Short prompts with short answers are
  where a smaller model most often does as well, and the re-priced spend is the saving.
- `recommend_trimming_input`: models where prompt tokens make up most of the cost, so
  cutting context (retrieving less, shorter instructions) is the lever that matters.

Public names: `recommend_cheaper_model`, `recommend_trimming_input`.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from ai.accounting.model_price import ModelPrice
from ai.accounting.pricing import PricingTable
from ai.core.records import RequestRecord
from ml_ops.cost_tracker.downgrades import cheaper_model
from ml_ops.cost_tracker.recommendation_base import (
    DEFAULT_SETTINGS,
    ObservedWindow,
    PricedCall,
    Recommendation,
    RecommendationKind,
    RecommendationSettings,
    observed_window,
    priced_calls,
    sort_recommendations,
)

__all__ = ["recommend_cheaper_model", "recommend_trimming_input"]


def recommend_cheaper_model(
    records: Sequence[RequestRecord],
    pricing: PricingTable,
    *,
    window: tuple[datetime, datetime] | None = None,
    settings: RecommendationSettings = DEFAULT_SETTINGS,
) -> list[Recommendation]:
    """For each model with a cheaper sibling, its short calls (both input and output at
    most the `short_*_tokens` thresholds) re-priced on that sibling; one recommendation
    per model where at least `min_requests` such calls would save `min_monthly_saving`."""
    if not records:
        return []
    span = observed_window(records, window)
    found = [
        recommendation
        for model, calls in sorted(_by_model(priced_calls(records, pricing)).items())
        if (recommendation := _cheaper_model(model, calls, pricing, span, settings))
    ]
    return sort_recommendations(found)


def _cheaper_model(
    model: str,
    calls: list[PricedCall],
    pricing: PricingTable,
    span: ObservedWindow,
    settings: RecommendationSettings,
) -> Recommendation | None:
    """One model's short calls re-priced on its cheaper sibling, if that pays off."""
    proposed = cheaper_model(model, settings.downgrades)
    proposed_price = pricing.get(proposed) if proposed else None
    if proposed is None or proposed_price is None:
        return None
    short = [
        c
        for c in calls
        if c.usage.input_tokens <= settings.short_input_tokens
        and c.usage.output_tokens <= settings.short_output_tokens
    ]
    current = math.fsum(c.cost for c in short)
    repriced = math.fsum(proposed_price.cost(c.usage) for c in short)
    monthly = span.monthly(current - repriced)
    if len(short) < max(settings.min_requests, 1) or current <= 0:
        return None
    if monthly < settings.min_monthly_saving:
        return None
    evidence = {
        "model": model,
        "proposed_model": proposed,
        "calls": len(short),
        "share_of_model_calls": len(short) / len(calls),
        "median_input_tokens": statistics.median(c.usage.input_tokens for c in short),
        "median_output_tokens": statistics.median(c.usage.output_tokens for c in short),
        "short_call_limits": {
            "input_tokens": settings.short_input_tokens,
            "output_tokens": settings.short_output_tokens,
        },
        "current_price_per_1m": _price_summary(short[0].price),
        "proposed_price_per_1m": _price_summary(proposed_price),
        "spend_in_window": current,
        "repriced_spend_in_window": repriced,
        "window_days": span.days,
    }
    action = (
        f"Route calls on {model} with at most {settings.short_input_tokens} input and "
        f"{settings.short_output_tokens} output tokens to {proposed}, which would cost "
        f"{1 - repriced / current:.0%} less for them; compare answer quality on a share of "
        "the traffic first (an A/B test) before moving all of it."
    )
    title = f"Move short {model} calls to {proposed}"
    return Recommendation(RecommendationKind.CHEAPER_MODEL, title, monthly, evidence, action)


def recommend_trimming_input(
    records: Sequence[RequestRecord],
    pricing: PricingTable,
    *,
    window: tuple[datetime, datetime] | None = None,
    settings: RecommendationSettings = DEFAULT_SETTINGS,
) -> list[Recommendation]:
    """Models whose prompt tokens are more than `input_share` of their cost; the saving
    assumes prompts shrink by `assumed_input_reduction` (a figure to check, not a
    measurement: records hold token counts, not what the prompts contain)."""
    if not records:
        return []
    span = observed_window(records, window)
    found: list[Recommendation] = []
    for model, calls in sorted(_by_model(priced_calls(records, pricing)).items()):
        total = math.fsum(c.cost for c in calls)
        input_spend = math.fsum(c.input_cost for c in calls)
        if len(calls) < max(settings.min_requests, 1) or total <= 0:
            continue
        share = input_spend / total
        monthly = span.monthly(input_spend * settings.assumed_input_reduction)
        if share <= settings.input_share or monthly < settings.min_monthly_saving:
            continue
        inputs = sorted(c.usage.input_tokens for c in calls)
        evidence = {
            "model": model,
            "calls": len(calls),
            "input_share_of_cost": share,
            "input_spend_in_window": input_spend,
            "output_spend_in_window": total - input_spend,
            "median_input_tokens": statistics.median(inputs),
            "p90_input_tokens": inputs[math.ceil(0.9 * len(inputs)) - 1],
            "median_output_tokens": statistics.median(c.usage.output_tokens for c in calls),
            "assumed_input_reduction": settings.assumed_input_reduction,
            "window_days": span.days,
        }
        found.append(
            Recommendation(
                kind=RecommendationKind.TRIM_INPUT,
                title=f"Trim prompts on {model}: input is {share:.0%} of its cost",
                estimated_monthly_saving=monthly,
                evidence=evidence,
                action=(
                    f"Prompts dominate the cost of {model}: retrieve fewer or smaller chunks, "
                    "summarise long conversation history, shorten fixed instructions and "
                    f"examples. The saving assumes input tokens fall by "
                    f"{settings.assumed_input_reduction:.0%}."
                ),
            )
        )
    return sort_recommendations(found)


def _by_model(calls: Sequence[PricedCall]) -> dict[str, list[PricedCall]]:
    groups: defaultdict[str, list[PricedCall]] = defaultdict(list)
    for call in calls:
        groups[call.model].append(call)
    return groups


def _price_summary(price: ModelPrice) -> dict[str, float]:
    summary = {"input": price.input, "output": price.output}
    if price.cached_input is not None:
        summary["cached_input"] = price.cached_input
    return summary
