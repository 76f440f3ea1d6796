"""ModelRouter: hints, rules, the classifier, recorded decisions and priced savings."""

from __future__ import annotations

import pytest

from ai.accounting.pricing import PricingTable
from ai.cache import ResponseCache
from ai.core.guards import PlannedCall
from ai.core.records import GuardAction, Operation, RequestRecord, TagKey
from ai.errors import ConfigurationError
from ai.llm_service import LLMService
from ai.rag import EmbeddingService
from ai.routing import (
    Complexity,
    ComplexityClassifier,
    ModelRouter,
    RouterRule,
    routing_savings,
)
from ai.testing import FakeProviderServer
from tests.ai.provider_configs import TEST_KEY, openai_config

CHEAP, CAPABLE = "gpt-4o-mini", "gpt-4o"


def call(text: str, **fields: object) -> PlannedCall:
    return PlannedCall(
        operation=Operation.CHAT,
        model=str(fields.pop("model", CAPABLE)),
        provider="openai",
        inputs=[{"role": "user", "content": text}],
        **fields,  # type: ignore[arg-type]
    )


async def test_short_plain_questions_go_to_the_cheap_model() -> None:
    router = ModelRouter(cheap=CHEAP, capable=CAPABLE)
    routed = await router.before(call("What is the capital of France?"))
    assert routed is not None and routed.model == CHEAP
    assert routed.tags[TagKey.ROUTE.value] == "simple:rule:short_prompt"
    assert routed.tags[TagKey.ROUTED_FROM.value] == CAPABLE


async def test_tools_hard_categories_and_long_prompts_keep_the_capable_model() -> None:
    router = ModelRouter(cheap=CHEAP, capable=CAPABLE)
    tools = await router.before(call("hi", parameters={"tools": [{"type": "function"}]}))
    hard = await router.before(call("hi", tags={TagKey.CATEGORY.value: "architecture"}))
    long = await router.before(call("word " * 5000))
    assert [c.model for c in (tools, hard, long) if c] == [CAPABLE, CAPABLE, CAPABLE]
    assert TagKey.ROUTED_FROM.value not in tools.tags  # type: ignore[union-attr]


async def test_a_callers_hint_wins_and_other_models_pass_untouched() -> None:
    router = ModelRouter(cheap=CHEAP, capable=CAPABLE)
    hinted = await router.before(call("x " * 3000, tags={TagKey.COMPLEXITY.value: "simple"}))
    assert hinted is not None and hinted.model == CHEAP
    assert await router.before(call("hi", model="claude-3-5-haiku")) is None
    via_alias = await router.before(call("hi", model="auto"))
    assert via_alias is not None and via_alias.model == CHEAP


async def test_decide_and_route_tags_serve_callers_that_are_not_guards() -> None:
    router = ModelRouter(cheap=CHEAP, capable=CAPABLE)
    simple = await router.decide([{"role": "user", "content": "hi"}], {}, {})
    assert (simple.model, simple.source) == (CHEAP, "rule:short_prompt")
    assert router.route_tags(simple) == {
        TagKey.ROUTE.value: "simple:rule:short_prompt",
        TagKey.ROUTED_FROM.value: CAPABLE,
    }
    hinted = await router.decide([], {}, {TagKey.COMPLEXITY.value: "complex"})
    assert router.route_tags(hinted) == {TagKey.ROUTE.value: "complex:hint"}
    assert router.decisions == []  # only calls it guarded are kept


async def test_when_unsure_it_keeps_the_capable_model() -> None:
    router = ModelRouter(cheap=CHEAP, capable=CAPABLE, rules=())
    routed = await router.before(call("What is the capital of France?"))
    assert routed is not None and routed.model == CAPABLE
    assert routed.tags[TagKey.ROUTE.value] == "complex:default"


async def test_the_classifier_learns_from_labelled_examples(fake: FakeProviderServer) -> None:
    examples = [
        ("translate hello into french", Complexity.SIMPLE),
        ("translate goodbye into spanish", Complexity.SIMPLE),
        ("what is the capital of italy", Complexity.SIMPLE),
        ("what is the capital of spain", Complexity.SIMPLE),
        ("design a distributed database architecture with consensus and sharding",
         Complexity.COMPLEX),
        ("design a fault tolerant architecture for payment processing with sharding",
         Complexity.COMPLEX),
        ("prove the convergence of this optimization algorithm with a formal argument",
         Complexity.COMPLEX),
        ("prove this theorem about distributed consensus formally", Complexity.COMPLEX),
    ]  # fmt: skip
    async with EmbeddingService(api_key=TEST_KEY, base_url=fake.openai_base_url) as embeddings:
        classifier = ComplexityClassifier(embeddings)
        await classifier.fit(examples)
        simple, simple_conf = await classifier.classify("translate thank you into german")
        hard, hard_conf = await classifier.classify("design a sharding architecture for logs")
        router = ModelRouter(cheap=CHEAP, capable=CAPABLE, rules=(), classifier=classifier,
                             min_confidence=0.5)  # fmt: skip
        routed = await router.before(call("what is the capital of portugal"))
    assert (simple, hard) == (Complexity.SIMPLE, Complexity.COMPLEX)
    assert simple_conf > 0.5 and hard_conf > 0.5
    assert routed is not None and routed.model == CHEAP
    assert routed.tags[TagKey.ROUTE.value] == "simple:classifier"


async def test_routed_calls_are_recorded_and_their_saving_priced(
    fake: FakeProviderServer,
) -> None:
    records: list[RequestRecord] = []
    router = ModelRouter(cheap=CHEAP, capable=CAPABLE)
    async with LLMService(openai_config(fake, model=CAPABLE), guards=[router]) as llm:
        llm.subscribe(records.append)
        await llm.complete(messages=[{"role": "user", "content": "Capital of France?"}])
        await llm.complete(
            messages=[{"role": "user", "content": "Review this design."}],
            tags={TagKey.CATEGORY.value: "architecture"},
        )
    assert [r.model_requested for r in records] == [CAPABLE, CAPABLE]
    assert records[0].model is not None and records[0].model.startswith(CHEAP)
    assert records[1].model is not None and records[1].model.startswith(CAPABLE)
    [decision] = records[0].guard_decisions
    assert decision.action is GuardAction.REWRITE and decision.changes["model"] == (CAPABLE, CHEAP)
    savings = routing_savings(records, PricingTable.default())
    assert savings.routed_calls == 1 and savings.saving > 0


def test_router_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        ModelRouter(cheap=CAPABLE, capable=CAPABLE)
    rule = RouterRule("tiny", Complexity.SIMPLE, max_prompt_tokens=5)
    assert rule.matches(3, False, None) and not rule.matches(6, False, None)


async def test_a_routed_cache_hit_is_the_caches_saving_not_the_routers(
    fake: FakeProviderServer,
) -> None:
    records: list[RequestRecord] = []
    router = ModelRouter(cheap=CHEAP, capable=CAPABLE)
    config = openai_config(fake, model=CAPABLE)
    async with LLMService(config, guards=[router], cache=ResponseCache.memory()) as llm:
        llm.subscribe(records.append)
        for _ in range(3):
            await llm.complete(messages=[{"role": "user", "content": "Capital of France?"}])
    assert [r.cached for r in records] == [False, True, True]
    assert all(r.tags.get(TagKey.ROUTED_FROM.value) == CAPABLE for r in records)
    alone = routing_savings(records[:1], PricingTable.default())
    assert routing_savings(records, PricingTable.default()) == alone
    assert alone.routed_calls == 1
