"""Recommendations about paying twice for the same tokens.

- `recommend_response_cache`: identical requests that reached the provider again. Records
  hold no prompt text, so identity comes from a request fingerprint tag
  (``tags["request_hash"]``); without one, only "high volume and no cache hits at all"
  can be said, with no saving figure.
- `recommend_prompt_caching`: calls sharing a long prompt prefix (the same prompt template
  version, or the same agent) whose prefix tokens are billed at the full input price
  although the provider would bill them at its cached-input price on a cache hit.

Public names: `recommend_response_cache`, `recommend_prompt_caching`.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from ai.accounting.model_price import ModelPrice
from ai.accounting.pricing import PricingTable
from ai.core.records import Operation, RequestRecord, TagKey
from ml_ops.cost_tracker.recommendation_base import (
    DEFAULT_SETTINGS,
    PER_MILLION,
    REQUEST_HASH_TAG,
    ObservedWindow,
    PricedCall,
    Recommendation,
    RecommendationKind,
    RecommendationSettings,
    call_cost,
    observed_window,
    priced_calls,
    sort_recommendations,
)

__all__ = ["recommend_prompt_caching", "recommend_response_cache"]

_TOP_REPEATS = 5


def recommend_response_cache(
    records: Sequence[RequestRecord],
    pricing: PricingTable,
    *,
    window: tuple[datetime, datetime] | None = None,
    settings: RecommendationSettings = DEFAULT_SETTINGS,
) -> list[Recommendation]:
    """Repeated identical requests that were paid for again.

    With fingerprints: every call after the first of its fingerprint that the response
    cache did not serve counts as avoidable, its cost as the saving (an upper bound: a
    cache entry may have expired between two calls). Without: a zero-saving suggestion
    when at least `min_uncached_volume` calls were made and none was served from cache.
    """
    if not records:
        return []
    span = observed_window(records, window)
    chat = [r for r in records if r.success and r.operation is Operation.CHAT]
    tagged = [r for r in chat if r.tags.get(REQUEST_HASH_TAG)]
    if tagged:
        found = _measured_repeats(tagged, pricing, span, settings)
    else:
        found = _unmeasured_volume(chat, span, settings)
    return [found] if found else []


def recommend_prompt_caching(
    records: Sequence[RequestRecord],
    pricing: PricingTable,
    *,
    window: tuple[datetime, datetime] | None = None,
    settings: RecommendationSettings = DEFAULT_SETTINGS,
) -> list[Recommendation]:
    """Groups of calls with a long shared prefix billed at the full input price.

    A group is one model and one prompt template version (``tags["prompt"]`` and
    ``tags["prompt_version"]``), or failing that one agent: calls from the same template
    or agent start with the same instructions. Only models whose cached-input price is
    below their input price are considered.
    """
    if not records:
        return []
    span = observed_window(records, window)
    groups: defaultdict[tuple[str, str, str], list[PricedCall]] = defaultdict(list)
    for call in priced_calls(records, pricing):
        group = _prefix_group(call.record)
        if group is not None and _caching_is_cheaper(call.price):
            groups[(call.model, *group)].append(call)
    found = []
    for (model, basis, name), calls in sorted(groups.items()):
        recommendation = _prompt_caching(model, basis, name, calls, span, settings)
        if recommendation is not None:
            found.append(recommendation)
    return sort_recommendations(found)


def _measured_repeats(
    tagged: list[RequestRecord],
    pricing: PricingTable,
    span: ObservedWindow,
    settings: RecommendationSettings,
) -> Recommendation | None:
    by_hash: defaultdict[str, list[RequestRecord]] = defaultdict(list)
    for record in sorted(tagged, key=lambda r: (r.timestamp, r.request_id)):
        by_hash[record.tags[REQUEST_HASH_TAG]].append(record)
    repeats = [r for group in by_hash.values() for r in group[1:] if not r.cached]
    served = sum(r.cached for r in tagged)
    spend = math.fsum(call_cost(r, pricing) for r in repeats)
    monthly = span.monthly(spend)
    if len(repeats) < max(settings.min_requests, 1) or monthly < settings.min_monthly_saving:
        return None
    top = sorted((-len(g), h) for h, g in by_hash.items() if len(g) > 1)[:_TOP_REPEATS]
    evidence = {
        "basis": f"tags[{REQUEST_HASH_TAG!r}]: calls with the same fingerprint",
        "fingerprinted_calls": len(tagged),
        "distinct_requests": len(by_hash),
        "repeated_calls_paid": len(repeats),
        "repeat_rate": len(repeats) / len(tagged),
        "served_from_cache": served,
        "spend_on_repeats_in_window": spend,
        "most_repeated": [{"request_hash": h, "calls": -n} for n, h in top],
        "window_days": span.days,
    }
    if served:
        title = "Serve more repeated requests from the response cache"
        action = (
            f"{len(repeats)} calls repeated an earlier identical request and still reached "
            "the provider although the cache is on: raise its TTL or size, or check that "
            "these calls go through it."
        )
    else:
        title = "Enable the response cache"
        action = (
            f"{len(repeats) / len(tagged):.0%} of fingerprinted calls repeat an earlier "
            "identical request: put a response cache in front of them (only deterministic "
            "calls, such as temperature 0, are safe to cache). The saving assumes every "
            "repeat is served from cache, an upper bound."
        )
    return Recommendation(RecommendationKind.RESPONSE_CACHE, title, monthly, evidence, action)


def _unmeasured_volume(
    chat: list[RequestRecord], span: ObservedWindow, settings: RecommendationSettings
) -> Recommendation | None:
    if any(r.cached for r in chat) or len(chat) < max(settings.min_uncached_volume, 1):
        return None
    evidence = {
        "basis": f"no tags[{REQUEST_HASH_TAG!r}]: how often requests repeat is unknown",
        "calls": len(chat),
        "served_from_cache": 0,
        "window_days": span.days,
    }
    action = (
        f"{len(chat)} calls and none served from the response cache. If identical requests "
        "recur, a cache avoids paying for them again; tag calls with a request fingerprint "
        f"(tags[{REQUEST_HASH_TAG!r}]) to measure how often they do and what it would save."
    )
    title = "Consider the response cache"
    return Recommendation(RecommendationKind.RESPONSE_CACHE, title, 0.0, evidence, action)


def _prompt_caching(
    model: str,
    basis: str,
    name: str,
    calls: list[PricedCall],
    span: ObservedWindow,
    settings: RecommendationSettings,
) -> Recommendation | None:
    """One group's estimate: calls within the cache TTL of the previous call of the group
    would read the prefix from cache; the first after a pause writes it (at the cache-write
    price, where the provider charges one)."""
    if len(calls) < max(settings.min_requests, 1):
        return None
    calls = sorted(calls, key=lambda c: (c.record.timestamp, c.record.request_id))
    largest_read = max(c.usage.cached_input_tokens for c in calls)
    prefix = largest_read or min(c.usage.input_tokens for c in calls)
    if prefix < settings.min_prefix_tokens:
        return None
    price = calls[0].price
    newly_cached, warm, writes = _cache_activity(calls, prefix, settings.prompt_cache_ttl)
    read_saving = newly_cached * (price.input - price.cached_input_price)
    write_premium = writes * prefix * max(0.0, price.cache_creation_price - price.input)
    monthly = span.monthly((read_saving - write_premium) / PER_MILLION)
    if monthly < settings.min_monthly_saving:
        return None
    total_input = sum(c.usage.input_tokens for c in calls)
    evidence = {
        "model": model,
        "group": {basis: name},
        "calls": len(calls),
        "median_input_tokens": statistics.median(c.usage.input_tokens for c in calls),
        "estimated_prefix_tokens": prefix,
        "prefix_basis": (
            "largest cache read seen in the group"
            if largest_read
            else "shortest prompt in the group (an upper bound on the shared prefix)"
        ),
        "cached_input_share": sum(c.usage.cached_input_tokens for c in calls) / total_input,
        "calls_within_cache_ttl": warm,
        "cache_ttl_seconds": settings.prompt_cache_ttl.total_seconds(),
        "price_per_1m": _cache_prices(price),
        "window_days": span.days,
    }
    action = (
        f"Calls of {basis} {name!r} on {model} share about {prefix} prompt tokens billed at "
        "the full input price. Put the fixed part (instructions, examples, documents) first "
        "and keep it byte-identical between calls, and turn on the provider's prompt "
        "caching where it must be asked for (cache breakpoints)."
    )
    title = f"Cache the shared prompt prefix of {basis} {name!r} on {model}"
    return Recommendation(RecommendationKind.PROMPT_CACHING, title, monthly, evidence, action)


def _cache_activity(calls: list[PricedCall], prefix: int, ttl: timedelta) -> tuple[int, int, int]:
    """Walk the group in time order: prefix tokens a warm cache would newly serve, calls
    within `ttl` of the previous one (warm), and calls that would write the cache."""
    newly_cached, warm, writes = 0, 0, 0
    for previous, call in zip([None, *calls[:-1]], calls, strict=True):
        gap = None if previous is None else call.record.timestamp - previous.record.timestamp
        if gap is not None and gap <= ttl:
            warm += 1
            served = min(prefix, call.usage.input_tokens) - call.usage.cached_input_tokens
            newly_cached += max(0, served)
        elif call.usage.cached_input_tokens == 0 and call.usage.cache_creation_tokens == 0:
            writes += 1
    return newly_cached, warm, writes


def _prefix_group(record: RequestRecord) -> tuple[str, str] | None:
    """("prompt", "name@version") or ("agent", name): what makes calls share a prefix."""
    prompt = record.tags.get(TagKey.PROMPT)
    if prompt:
        version = record.tags.get(TagKey.PROMPT_VERSION)
        return "prompt", f"{prompt}@{version}" if version else prompt
    if record.agent:
        return "agent", record.agent
    return None


def _caching_is_cheaper(price: ModelPrice) -> bool:
    return price.cached_input is not None and price.cached_input < price.input


def _cache_prices(price: ModelPrice) -> dict[str, float]:
    return {
        "input": price.input,
        "cached_input": price.cached_input_price,
        "cache_write": price.cache_creation_price,
    }
