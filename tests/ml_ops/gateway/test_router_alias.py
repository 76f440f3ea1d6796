"""Router aliases (`kind: router`): the official openai SDK against the real gateway, in
front of the loopback fake; the cheap model for simple requests, the capable one
otherwise, recorded as `ModelRouter` records it; and mistakes refused at config load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import openai
import pytest

from ai.accounting.pricing import PricingTable
from ai.core.records import GuardAction, RequestRecord, TagKey
from ai.errors import ConfigurationError
from ai.routing import DEFAULT_RULES, Complexity, RouterRule, routing_savings
from ai.testing import FakeProviderServer, Fault
from ml_ops.gateway import parse_gateway_config
from ml_ops.gateway.config import _RULE_EXPECTED, _RULE_VALUES
from tests.ml_ops.gateway.conftest import RunningGateway, gateway_config
from tests.ml_ops.gateway.test_openai_sdk import WEATHER_TOOL

SHORT = [{"role": "user", "content": "Capital of France?"}]
LONG = [{"role": "user", "content": "Explain this in depth: " + "lorem ipsum " * 2500}]
AUTO = {"kind": "router", "cheap": "fast", "capable": {"provider": "openai", "model": "gpt-4o"}}


def routed_gateway(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer, **router: Any
) -> RunningGateway:
    """The default gateway plus `auto` (cheap: the `fast` alias; capable: gpt-4o inline)."""
    models = {**gateway_config(fake)["models"], "auto": {**AUTO, **router}}
    return serve_gateway(models=models)


def route_of(record: RequestRecord) -> tuple[str | None, str | None, str | None]:
    return record.model, record.tags.get("route"), record.tags.get("routed_from")


def test_simple_requests_get_the_cheap_model_and_others_the_capable_one(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer
) -> None:
    gateway = routed_gateway(serve_gateway, fake)
    key, _ = gateway.create_key(team="search")
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)

    raw = client.chat.completions.with_raw_response.create(model="auto", messages=SHORT)
    answer = raw.parse()
    assert raw.headers["x-devora-route"] == "simple:rule:short_prompt"
    assert answer.model == "auto" and "gpt-4o-mini" in (answer.choices[0].message.content or "")
    tools = client.chat.completions.create(model="auto", messages=SHORT, tools=[WEATHER_TOOL])
    assert tools.choices[0].message.tool_calls
    client.chat.completions.create(model="auto", messages=LONG)

    cheap, with_tools, long = gateway.wait_for_records(3)
    assert route_of(cheap) == ("gpt-4o-mini", "simple:rule:short_prompt", "gpt-4o")
    assert route_of(with_tools) == ("gpt-4o", "complex:rule:tools", None)
    assert route_of(long) == ("gpt-4o", "complex:rule:long_prompt", None)
    assert cheap.model_requested == "auto" and cheap.tags["team"] == "search"
    (decision,) = cheap.guard_decisions
    assert (decision.guard, decision.action) == ("router", GuardAction.REWRITE)
    assert decision.changes["model"] == ("auto", "gpt-4o-mini")
    assert decision.changes["tags"][1]["routed_from"] == "gpt-4o"
    assert fake.request_count(model="gpt-4o-mini") == 1
    assert fake.request_count(model="gpt-4o") == 2

    savings = routing_savings(gateway.records, PricingTable.default())
    assert savings.routed_calls == 1 and savings.unpriced_calls == 0
    assert savings.cost == cheap.estimated_cost
    assert savings.cost_if_capable > savings.cost > 0


def test_the_complexity_header_is_the_callers_hint(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer
) -> None:
    gateway = routed_gateway(serve_gateway, fake)
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    simple = {"x-devora-complexity": "simple"}
    client.chat.completions.create(model="auto", messages=LONG, extra_headers=simple)
    client.chat.completions.create(
        model="auto", messages=SHORT, extra_headers={"X-Devora-Complexity": "Complex"}
    )
    with pytest.raises(openai.BadRequestError, match="simple or complex"):
        client.chat.completions.create(
            model="auto", messages=SHORT, extra_headers={"x-devora-complexity": "easy"}
        )
    long, short = gateway.wait_for_records(2)
    assert route_of(long) == ("gpt-4o-mini", "simple:hint", "gpt-4o")
    assert route_of(short) == ("gpt-4o", "complex:hint", None)
    assert long.tags[TagKey.COMPLEXITY.value] == "simple"
    assert short.tags[TagKey.COMPLEXITY.value] == "complex"


async def test_streamed_answers_are_routed_too(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer
) -> None:
    gateway = routed_gateway(serve_gateway, fake)
    key, _ = gateway.create_key()
    client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(
        model="auto", messages=SHORT, stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["x-devora-route"] == "simple:rule:short_prompt"
    chunks = [chunk async for chunk in raw.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "gpt-4o-mini" in text and chunks[-1].usage is not None
    (record,) = gateway.wait_for_records(1)
    assert record.streamed and route_of(record) == ("gpt-4o-mini", "simple:rule:short_prompt",
                                                    "gpt-4o")  # fmt: skip
    await client.close()


def test_the_chosen_alias_keeps_its_fallbacks(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer
) -> None:
    gateway = routed_gateway(serve_gateway, fake)
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    fake.faults.add(Fault.unknown_model(), model="gpt-4o-mini", times=1)
    answer = client.chat.completions.create(model="auto", messages=SHORT)
    assert "gpt-4o" in (answer.choices[0].message.content or "")
    (record,) = gateway.wait_for_records(1)
    assert record.fallback_used and record.model == "gpt-4o"  # `fast` fell back
    assert record.tags["routed_from"] == "gpt-4o"


def test_models_list_the_router_and_keys_may_be_limited_to_it(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer
) -> None:
    gateway = routed_gateway(serve_gateway, fake, rules="none")
    key, _ = gateway.create_key(models=["auto"])
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    assert [(m.id, m.owned_by) for m in client.models.list()] == [("auto", "devora")]
    everything = gateway.create_key()[0]
    listed = openai.OpenAI(base_url=gateway.base_url, api_key=everything).models.list()
    names = {m.id for m in listed}
    assert {"auto", "fast", "gpt-4o-mini"} <= names and "auto.capable" not in names
    assert "gpt-4o" not in names  # an inline target is reached through its router only

    client.chat.completions.create(model="auto", messages=SHORT)  # no rules: unsure
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="fast", messages=SHORT)
    (record,) = gateway.wait_for_records(1)
    assert route_of(record) == ("gpt-4o", "complex:default", None)


def test_rules_written_in_the_config(
    serve_gateway: Callable[..., RunningGateway], fake: FakeProviderServer
) -> None:
    rules = [{"name": "greeting", "complexity": "simple", "max_prompt_tokens": 20}]
    gateway = routed_gateway(serve_gateway, fake, rules=rules)
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Hi!"}])
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "a " * 60}])
    short, longer = gateway.wait_for_records(2)
    assert route_of(short) == ("gpt-4o-mini", "simple:rule:greeting", "gpt-4o")
    assert route_of(longer) == ("gpt-4o", "complex:default", None)


# --- configuration ----------------------------------------------------------------------

FAST = {"provider": "openai", "model": "gpt-4o-mini"}


def config_of(**models: Any) -> Any:
    return parse_gateway_config({"models": {"fast": FAST, **models}})


def test_config_reads_targets_and_rules() -> None:
    config = config_of(auto=AUTO)
    router = config.routers["auto"]
    assert router.cheap is config.models["fast"] and router.rules == DEFAULT_RULES
    assert (router.capable.name, router.capable.target.model) == ("auto.capable", "gpt-4o")
    assert set(config.models) == {"fast"}
    rule = {"name": "docs", "complexity": "simple", "max_prompt_tokens": 900, "has_tools": False,
            "categories": ["documentation"], "min_prompt_tokens": 0}  # fmt: skip
    custom = config_of(auto={**AUTO, "rules": [rule]}).routers["auto"]
    assert custom.rules == (
        RouterRule("docs", Complexity.SIMPLE, 900, 0, False, frozenset({"documentation"})),
    )
    assert set(_RULE_VALUES) == set(_RULE_EXPECTED) == {f.name for f in fields(RouterRule)}
    assert config_of(auto={**AUTO, "rules": []}).routers["auto"].rules == ()
    assert config_of(auto={**AUTO, "rules": "none"}).routers["auto"].rules == ()


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ({"auto": {**AUTO, "cheap": "nope"}}, r"models\.auto\.cheap: unknown model alias 'nope'"),
        ({"auto": {**AUTO, "capable": "auto"}}, r"models\.auto\.capable: .*route to itself"),
        (
            {"auto": {**AUTO, "capable": "b"}, "b": {**AUTO, "capable": "auto"}},
            r"models\.auto\.capable: 'b' is a router; .*cannot loop",
        ),
        ({"auto": {**AUTO, "capable": {"kind": "router"}}}, r"auto\.capable: .*not routers"),
        ({"auto": {**AUTO, "capable": "fast"}}, r"models\.auto: cheap and capable are both"),
        ({"auto": {"kind": "router", "cheap": "fast"}}, r"models\.auto\.capable must name"),
        ({"auto": {"kind": "switch"}}, r"models\.auto\.kind: unknown kind 'switch'"),
        ({"auto": {**AUTO, "min_confidence": 0.8}}, r"models\.auto: unknown option\(s\) min_conf"),
        ({"auto": {**AUTO, "rules": "some"}}, r"models\.auto\.rules must be default, none"),
        (
            {"auto": {**AUTO, "rules": [{"name": "x", "complexity": "simple", "max_tokens": 9}]}},
            r"models\.auto\.rules\[0\]: unknown option\(s\) max_tokens; allowed: categories",
        ),
        (
            {"auto": {**AUTO, "rules": [{"name": "x", "complexity": "easy"}]}},
            r"models\.auto\.rules\[0\]\.complexity must be simple or complex",
        ),
        (
            {"auto": {**AUTO, "rules": [{"complexity": "simple"}]}},
            r"models\.auto\.rules\[0\]\.name is required",
        ),
        (
            {"auto": {**AUTO, "rules": [{"name": "x", "complexity": "simple", "has_tools": 1}]}},
            r"rules\[0\]\.has_tools must be true or false",
        ),
    ],
)
def test_config_mistakes_name_their_path(models: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        config_of(**models)


def test_a_router_and_an_embedding_alias_may_not_share_a_name() -> None:
    section = {"models": {"fast": FAST, "embed": AUTO}, "embeddings": {"embed": {}}}
    with pytest.raises(ConfigurationError, match="embed is both a chat model"):
        parse_gateway_config(section)
