"""Cost recommendations, one kind at a time, with the evidence present and absent."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest

from ai.core.records import Operation, RequestRecord, TagKey
from ai.errors import ConfigurationError
from ml_ops.cost_tracker.recommendation_base import (
    DAYS_PER_MONTH,
    RecommendationKind,
    RecommendationSettings,
    observed_window,
)
from ml_ops.cost_tracker.recommendations import (
    recommend,
    recommend_budgets,
    recommend_cheaper_model,
    recommend_prompt_caching,
    recommend_response_cache,
    recommend_trimming_input,
)
from tests.ml_ops.cost_tracker.records import ONE_DAY, PRICING, T0, call, spread

MONTH = DAYS_PER_MONTH  # a one-day window extrapolates by this factor


def per_call(model: str, input_tokens: int, output_tokens: int) -> float:
    price = PRICING.get(model)
    assert price is not None
    return (input_tokens * price.input + output_tokens * price.output) / 1e6


# --- (a) cheaper model -------------------------------------------------------------------


def test_short_calls_on_an_expensive_model_move_to_its_cheaper_sibling() -> None:
    records = spread(100, model="gpt-4o", input_tokens=500, output_tokens=100)
    records += spread(10, model="gpt-4o", input_tokens=5000, output_tokens=100)  # long
    [rec] = recommend_cheaper_model(records, PRICING, window=ONE_DAY)
    saving = 100 * (per_call("gpt-4o", 500, 100) - per_call("gpt-4o-mini", 500, 100))
    assert rec.kind is RecommendationKind.CHEAPER_MODEL
    assert rec.estimated_monthly_saving == pytest.approx(saving * MONTH)
    assert rec.evidence["model"] == "gpt-4o"
    assert rec.evidence["proposed_model"] == "gpt-4o-mini"
    assert rec.evidence["calls"] == 100
    assert rec.evidence["share_of_model_calls"] == pytest.approx(100 / 110)
    assert rec.evidence["median_input_tokens"] == 500
    assert rec.evidence["median_output_tokens"] == 100
    assert rec.evidence["current_price_per_1m"]["input"] == 2.5
    assert rec.evidence["proposed_price_per_1m"]["input"] == 0.15
    assert "gpt-4o-mini" in rec.action


def test_snapshot_and_vendor_prefixed_names_find_their_sibling() -> None:
    records = spread(50, model="openai/gpt-4o", provider="openrouter")
    records += spread(50, model="gpt-4o-2024-08-06")
    found = recommend_cheaper_model(records, PRICING, window=ONE_DAY)
    assert {r.evidence["proposed_model"] for r in found} == {"openai/gpt-4o-mini", "gpt-4o-mini"}


def test_no_cheaper_model_without_the_evidence() -> None:
    assert recommend_cheaper_model([], PRICING) == []
    cases = [
        spread(100, model="gpt-4o", input_tokens=5000),  # long prompts
        spread(100, model="gpt-4o", output_tokens=2000),  # long answers
        spread(10, model="gpt-4o"),  # too few calls
        spread(100, model="gpt-4o-mini"),  # already the small tier
        spread(100, model="my-finetune"),  # unknown price
        spread(100, model="gpt-4o", cached=True),  # served by the response cache
        spread(100, model="gpt-4o", success=False),
        spread(100, model="gpt-4o", operation=Operation.EMBEDDING),
    ]
    for records in cases:
        assert recommend_cheaper_model(records, PRICING, window=ONE_DAY) == []


def test_custom_downgrades_and_thresholds() -> None:
    records = spread(30, model="gpt-4o", input_tokens=2000)
    settings = RecommendationSettings(
        short_input_tokens=4000, downgrades={"gpt-4o": "gpt-4.1-nano"}, min_requests=30
    )
    [rec] = recommend_cheaper_model(records, PRICING, window=ONE_DAY, settings=settings)
    assert rec.evidence["proposed_model"] == "gpt-4.1-nano"


# --- (b) response cache ------------------------------------------------------------------


def fingerprinted(hashes: int, repeats: int, **kwargs: Any) -> list[RequestRecord]:
    """`hashes` distinct requests, each made `repeats` times, a minute apart."""
    return [
        call(
            at=T0 + timedelta(minutes=i * repeats + j), tags={"request_hash": f"h{i:02d}"}, **kwargs
        )
        for i in range(hashes)
        for j in range(repeats)
    ]


def test_repeated_fingerprints_recommend_the_response_cache() -> None:
    records = fingerprinted(10, 5)  # 40 of 50 calls repeat an earlier one
    [rec] = recommend_response_cache(records, PRICING, window=ONE_DAY)
    assert rec.kind is RecommendationKind.RESPONSE_CACHE
    assert rec.title == "Enable the response cache"
    assert rec.estimated_monthly_saving == pytest.approx(40 * per_call("gpt-4o", 500, 100) * MONTH)
    assert rec.evidence["repeated_calls_paid"] == 40
    assert rec.evidence["repeat_rate"] == pytest.approx(0.8)
    assert rec.evidence["distinct_requests"] == 10
    assert rec.evidence["most_repeated"][0] == {"request_hash": "h00", "calls": 5}
    assert "request_hash" in rec.evidence["basis"]


def test_repeats_missed_by_an_enabled_cache_suggest_tuning_it() -> None:
    records = fingerprinted(10, 5) + fingerprinted(1, 3, cached=True)
    [rec] = recommend_response_cache(records, PRICING, window=ONE_DAY)
    assert rec.title == "Serve more repeated requests from the response cache"
    assert rec.evidence["served_from_cache"] == 3
    assert rec.evidence["repeated_calls_paid"] == 40


def test_without_fingerprints_only_volume_with_no_hits_is_reported() -> None:
    records = spread(1000, step=timedelta(seconds=30))
    [rec] = recommend_response_cache(records, PRICING)
    assert rec.title == "Consider the response cache"
    assert rec.estimated_monthly_saving == 0.0
    assert "unknown" in rec.evidence["basis"]


def test_no_response_cache_recommendation_without_the_evidence() -> None:
    assert recommend_response_cache([], PRICING) == []
    unique = fingerprinted(50, 1)
    assert recommend_response_cache(unique, PRICING, window=ONE_DAY) == []
    few = spread(999)
    assert recommend_response_cache(few, PRICING) == []
    some_hits = [*spread(1000), call(cached=True)]
    assert recommend_response_cache(some_hits, PRICING) == []


# --- (c) input-heavy prompts -------------------------------------------------------------


def test_input_dominated_models_get_a_trim_recommendation() -> None:
    records = spread(100, model="gpt-4o", input_tokens=8000, output_tokens=50)
    records += spread(100, model="gpt-4.1", input_tokens=500, output_tokens=500)  # balanced
    [rec] = recommend_trimming_input(records, PRICING, window=ONE_DAY)
    input_spend = 100 * 8000 * 2.5 / 1e6
    assert rec.kind is RecommendationKind.TRIM_INPUT
    assert rec.evidence["model"] == "gpt-4o"
    assert rec.evidence["input_share_of_cost"] == pytest.approx(20000 / 20500)
    assert rec.estimated_monthly_saving == pytest.approx(input_spend * 0.3 * MONTH)
    assert rec.evidence["p90_input_tokens"] == 8000


def test_no_trim_recommendation_without_the_evidence() -> None:
    balanced = spread(100, model="gpt-4o", input_tokens=500, output_tokens=500)
    assert recommend_trimming_input(balanced, PRICING, window=ONE_DAY) == []
    tiny = spread(100, model="gpt-4o-mini", input_tokens=100, output_tokens=1)
    assert recommend_trimming_input(tiny, PRICING, window=ONE_DAY) == []  # saving < $1/month


# --- (d) prompt caching ------------------------------------------------------------------

SUPPORT = {TagKey.PROMPT.value: "support", TagKey.PROMPT_VERSION.value: "3"}


def test_a_long_shared_prefix_recommends_prompt_caching() -> None:
    records = spread(50, model="claude-sonnet-4-5", input_tokens=3000, tags=SUPPORT)
    [rec] = recommend_prompt_caching(records, PRICING, window=ONE_DAY)
    # 49 calls within five minutes of the previous one read 3000 tokens at 0.30 not 3.00;
    # the first writes them at 3.75.
    expected = (49 * 3000 * (3.0 - 0.3) - 3000 * (3.75 - 3.0)) / 1e6
    assert rec.kind is RecommendationKind.PROMPT_CACHING
    assert rec.estimated_monthly_saving == pytest.approx(expected * MONTH)
    assert rec.evidence["group"] == {"prompt": "support@3"}
    assert rec.evidence["estimated_prefix_tokens"] == 3000
    assert "upper bound" in rec.evidence["prefix_basis"]
    assert rec.evidence["calls_within_cache_ttl"] == 49
    assert rec.evidence["price_per_1m"] == {"input": 3.0, "cached_input": 0.3, "cache_write": 3.75}


def test_observed_cache_reads_give_the_prefix_length() -> None:
    records = spread(50, model="gpt-4.1", input_tokens=6000, agent="researcher")
    records += spread(5, model="gpt-4.1", input_tokens=6000, cached_input=2048, agent="researcher")
    [rec] = recommend_prompt_caching(records, PRICING, window=ONE_DAY)
    assert rec.evidence["group"] == {"agent": "researcher"}
    assert rec.evidence["estimated_prefix_tokens"] == 2048
    assert rec.evidence["prefix_basis"] == "largest cache read seen in the group"


def test_no_prompt_caching_recommendation_without_the_evidence() -> None:
    def none_for(records: list[RequestRecord]) -> None:
        assert recommend_prompt_caching(records, PRICING, window=ONE_DAY) == []

    model = "claude-sonnet-4-5"
    none_for(spread(50, model=model, input_tokens=3000))  # no template, no agent
    none_for(spread(50, model=model, input_tokens=500, tags=SUPPORT))  # short prompts
    none_for(spread(50, step=timedelta(minutes=10), model=model, input_tokens=3000, tags=SUPPORT))
    none_for(spread(50, model=model, input_tokens=3000, cached_input=2900, tags=SUPPORT))
    none_for(spread(50, model="gpt-4-turbo", input_tokens=3000, tags=SUPPORT))  # no cache price
    none_for(spread(10, model=model, input_tokens=3000, tags=SUPPORT))  # too few calls


# --- (e) budgets -------------------------------------------------------------------------


def test_heaviest_users_and_agents_without_budgets() -> None:
    records = [
        *spread(60, user="alice", agent="support"),
        *spread(30, user="bob", agent="support"),
        *spread(5, user="carol", agent="triage"),
        *spread(5, user="dave"),
    ]
    found = recommend_budgets(records, PRICING, budgeted_users={"bob"}, window=ONE_DAY)
    assert [r.evidence["scope"] for r in found] == ["user:alice", "agent:support"]
    alice = found[0]
    assert alice.kind is RecommendationKind.MISSING_BUDGET
    assert alice.estimated_monthly_saving == 0.0
    assert alice.evidence["share_of_spend"] == pytest.approx(0.6)
    spend = 60 * per_call("gpt-4o", 500, 100)
    assert alice.evidence["projected_monthly_spend"] == pytest.approx(spend * MONTH)
    assert alice.evidence["suggested_monthly_limit"] == 5.2  # 4.11 x 1.25 = 5.14, rounded up


def test_no_budget_recommendation_when_covered_or_spread_thin() -> None:
    records = [*spread(60, user="alice"), *spread(40, user="bob")]
    assert recommend_budgets(records, PRICING, budgeted_users=["alice", "bob"]) == []
    thin = [call(user=f"user{i}") for i in range(20)]  # 5% each
    assert recommend_budgets(thin, PRICING) == []
    assert recommend_budgets(spread(10), PRICING) == []  # nobody named


# --- all together ------------------------------------------------------------------------


def mixed_records() -> list[RequestRecord]:
    return [
        *spread(100, model="gpt-4o", user="alice"),
        *spread(100, model="gpt-4o", input_tokens=8000, output_tokens=50, user="bob"),
        *spread(50, model="claude-sonnet-4-5", input_tokens=3000, tags=SUPPORT),
        *fingerprinted(10, 5, model="gpt-4.1"),
    ]


def test_recommend_orders_by_saving_and_is_deterministic() -> None:
    records = mixed_records()
    found = recommend(records, PRICING, window=ONE_DAY)
    savings = [r.estimated_monthly_saving for r in found]
    assert savings == sorted(savings, reverse=True)
    assert {r.kind for r in found} == set(RecommendationKind)
    shuffled = records[:]
    random.Random(4).shuffle(shuffled)
    assert recommend(shuffled, PRICING, window=ONE_DAY) == found
    assert found[-1].kind is RecommendationKind.MISSING_BUDGET
    budgets = [r.evidence["scope"] for r in found if r.kind is RecommendationKind.MISSING_BUDGET]
    assert budgets == ["user:bob"]  # alice spends under 10%
    json.dumps([r.to_dict() for r in found], allow_nan=False)


def test_recommend_on_nothing_is_nothing() -> None:
    assert recommend([], PRICING) == []


def test_savings_extrapolate_from_the_window() -> None:
    records = spread(1000, step=timedelta(seconds=1), model="gpt-4o")
    week = (T0, T0 + timedelta(days=7))
    [daily] = recommend_cheaper_model(records, PRICING, window=ONE_DAY)
    [weekly] = recommend_cheaper_model(records, PRICING, window=week)
    assert weekly.estimated_monthly_saving == pytest.approx(daily.estimated_monthly_saving / 7)
    # Without a window: first to last record, at least one day.
    assert observed_window(records).days == 1.0
    stretched = [*records, call(at=T0 + timedelta(days=3))]
    assert observed_window(stretched).days == 3.0
    with pytest.raises(ValueError, match="not after its start"):
        observed_window(records, (T0, T0))
    # A window shorter than a day (a demo, a burst) counts as a day: minutes of traffic
    # are not taken as a month's steady rate.
    [minutes] = recommend_cheaper_model(records, PRICING, window=(T0, T0 + timedelta(minutes=20)))
    assert minutes.estimated_monthly_saving == pytest.approx(daily.estimated_monthly_saving)
    assert observed_window(records, (T0, T0 + timedelta(hours=1))).days == 1.0


@pytest.mark.parametrize(
    "changes",
    [{"min_requests": -1}, {"input_share": 1.5}, {"min_monthly_saving": float("nan")}],
)
def test_settings_are_validated(changes: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="RecommendationSettings"):
        RecommendationSettings(**changes)  # type: ignore[arg-type]


def test_misspelt_setting_is_an_error() -> None:
    with pytest.raises(TypeError):
        RecommendationSettings(min_request=5)  # type: ignore[call-arg]
