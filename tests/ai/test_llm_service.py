"""LLMService against the loopback fakes over real sockets: answers, usage, cost, records."""

from __future__ import annotations

import json
import logging
import warnings

import pytest

from ai.accounting.pricing import PricingTable
from ai.core.clock import FakeClock
from ai.core.records import RequestRecord
from ai.errors import AuthenticationError, ConfigurationError, ProviderError, mask_secret
from ai.llm_service import LLMConfig, LLMProvider, LLMService
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import (
    TEST_KEY,
    anthropic_config,
    openai_config,
    openrouter_config,
)

HELLO = [{"role": "user", "content": "Hello!"}]


async def test_openai_completion_reports_usage_and_priced_cost(
    fake: FakeProviderServer, clock: FakeClock, records: list[RequestRecord]
) -> None:
    fake.replies.push("Hi there, friend.")
    async with LLMService(openai_config(fake), clock=clock) as llm:
        llm.subscribe(records.append)
        text, stats = await llm.complete(messages=HELLO)
    assert text == "Hi there, friend."
    assert stats.provider == "openai"
    assert stats.model_requested == "gpt-4o-mini"
    assert stats.model.startswith("gpt-4o-mini")
    assert stats.input_tokens > 0 and stats.output_tokens > 0
    assert stats.total_tokens == stats.input_tokens + stats.output_tokens
    assert not stats.tokens_estimated
    price = PricingTable.default().get("gpt-4o-mini")
    assert price is not None
    expected = (stats.input_tokens * price.input + stats.output_tokens * price.output) / 1e6
    assert stats.estimated_cost == pytest.approx(expected)
    assert stats.cost_source == "pricing"
    assert stats.attempts == 1 and not stats.cached and not stats.fallback_used
    assert stats.time_to_first_token_ms is None
    [record] = records
    assert record.success and record.request_id == stats.request_id
    assert (
        record.estimated_cost == stats.estimated_cost and record.input_tokens == stats.input_tokens
    )


async def test_openrouter_cost_comes_from_the_provider(fake: FakeProviderServer) -> None:
    async with LLMService(openrouter_config(fake)) as llm:
        _, stats = await llm.complete(messages=HELLO)
    reported = fake.requests[-1]
    assert reported.path.endswith("/api/v1/chat/completions")
    assert stats.cost_source == "provider"
    assert stats.estimated_cost is not None and stats.estimated_cost > 0


async def test_anthropic_completion_moves_system_prompt_and_counts_usage(
    fake: FakeProviderServer,
) -> None:
    fake.replies.push("Bonjour.")
    messages = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello!"},
    ]
    async with LLMService(anthropic_config(fake)) as llm:
        text, stats = await llm.complete(messages=messages)
    assert text == "Bonjour."
    body = fake.requests[-1].body
    assert body is not None
    assert body["system"] == "Answer in French."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert fake.requests[-1].headers["x-api-key"] == mask_secret(TEST_KEY)  # recorded masked
    assert "anthropic-version" in fake.requests[-1].headers
    assert stats.provider == "anthropic" and stats.input_tokens > 0
    assert stats.estimated_cost is not None


async def test_anthropic_prompt_cache_tokens_are_a_subset_and_cheaper(
    fake: FakeProviderServer,
) -> None:
    long_context = "The Devora platform handbook. " * 200
    messages = [
        {
            "role": "system",
            "content": [
                {"type": "text", "text": long_context, "cache_control": {"type": "ephemeral"}}
            ],
        },
        {"role": "user", "content": "Summarise."},
    ]
    async with LLMService(anthropic_config(fake)) as llm:
        _, first = await llm.complete(messages=messages)
        _, second = await llm.complete(messages=messages)
    assert first.cache_creation_tokens > 0 and first.cached_input_tokens == 0
    assert second.cached_input_tokens == first.cache_creation_tokens
    assert second.input_tokens == first.input_tokens  # cached tokens are inside input
    assert second.estimated_cost is not None and first.estimated_cost is not None
    assert second.estimated_cost < first.estimated_cost


async def test_per_call_overrides_reach_the_provider(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake)) as llm:
        _, stats = await llm.complete(
            messages=HELLO,
            model="gpt-4o",
            temperature=0.0,
            max_tokens=5,
            extra={"seed": 42, "top_p": 0.5},
        )
    body = fake.requests[-1].body
    assert body is not None
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("gpt-4o", 0.0, 5)
    assert (body["seed"], body["top_p"]) == (42, 0.5)
    assert stats.model_requested == "gpt-4o"
    assert stats.output_tokens <= 5
    assert stats.finish_reason == "length"


async def test_config_defaults_are_sent(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake)) as llm:
        await llm.complete(messages=HELLO)
    body = fake.requests[-1].body
    assert body is not None
    assert (body["temperature"], body["max_tokens"]) == (0.7, 4096)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.parametrize("make_config", [openai_config, anthropic_config, openrouter_config])
async def test_tool_calls_come_back_in_openai_shape(
    fake: FakeProviderServer, make_config: object
) -> None:
    config = make_config(fake)  # type: ignore[operator]
    async with LLMService(config) as llm:
        _, stats = await llm.complete(
            messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL]
        )
        [call] = stats.tool_calls
        assert stats.finish_reason == "tool_calls"
        assert call["function"]["name"] == "get_weather"
        assert "city" in json.loads(call["function"]["arguments"])
        follow_up = [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "Sunny, 21C"},
        ]
        text, _ = await llm.complete(messages=follow_up, tools=[WEATHER_TOOL])
    assert "Sunny, 21C" in text


async def test_unknown_model_price_gives_none_and_a_warning(
    fake_server: FakeProviderServer,
) -> None:
    with FakeProviderServer(api_key=TEST_KEY, models=["house-model-7b"]) as local:
        config = LLMConfig(
            provider=LLMProvider.OPENAI_COMPATIBLE,
            model="house-model-7b",
            base_url=local.openai_base_url,
            api_key=TEST_KEY,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with LLMService(config) as llm:
                _, stats = await llm.complete(messages=HELLO)
    assert stats.estimated_cost is None and stats.cost_source is None
    assert stats.output_tokens > 0
    assert any("house-model-7b" in str(w.message) for w in caught)


async def test_cost_tracking_can_be_switched_off(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake, enable_cost_tracking=False)) as llm:
        _, stats = await llm.complete(messages=HELLO)
    assert stats.estimated_cost is None and stats.input_tokens > 0


async def test_user_pricing_table_is_used(fake: FakeProviderServer) -> None:
    pricing = PricingTable.default().with_overrides(
        {"models": {"gpt-4o-mini": {"input": 1000.0, "output": 1000.0}}}
    )
    async with LLMService(openai_config(fake), pricing=pricing) as llm:
        _, stats = await llm.complete(messages=HELLO)
    assert stats.estimated_cost == pytest.approx(stats.total_tokens * 1000.0 / 1e6)


async def test_records_carry_caller_labels(
    fake: FakeProviderServer, records: list[RequestRecord]
) -> None:
    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        await llm.complete(messages=HELLO, user="u-1", agent="planner", tags={"feature": "chat"})
    [record] = records
    assert (record.user, record.agent, dict(record.tags)) == ("u-1", "planner", {"feature": "chat"})
    assert record.provider == "openai" and record.model_requested == "gpt-4o-mini"


async def test_async_subscribers_are_flushed_on_close(fake: FakeProviderServer) -> None:
    delivered: list[str] = []

    async def slow_store(record: RequestRecord) -> None:
        delivered.append(record.request_id)

    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(slow_store)
        _, stats = await llm.complete(messages=HELLO)
    assert delivered == [stats.request_id]


async def test_a_failing_subscriber_does_not_fail_the_call(
    fake: FakeProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    kept: list[RequestRecord] = []

    def broken(record: RequestRecord) -> None:
        raise RuntimeError("disk full")

    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(broken)
        llm.subscribe(kept.append)
        text, _ = await llm.complete(messages=HELLO)
    assert text and len(kept) == 1
    assert "disk full" in caplog.text


async def test_metrics_summarise_calls(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake, max_retries=0)) as llm:
        await llm.complete(messages=HELLO)
        fake.faults.push(Fault.auth_error())
        with pytest.raises(AuthenticationError, match="401"):
            await llm.complete(messages=HELLO)
        metrics = llm.get_metrics()
    assert metrics["total_requests"] == 2 and metrics["failed_requests"] == 1
    assert metrics["errors_by_type"] == {"authentication": 1}
    assert metrics["error_rate"] == 0.5
    assert metrics["total_tokens"] > 0


def test_missing_api_key_names_the_variable() -> None:
    config = LLMConfig(provider=LLMProvider.ANTHROPIC, model="claude-3-5-haiku-20241022")
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        LLMService(config, environ={})


async def test_key_and_base_url_come_from_the_environment(fake: FakeProviderServer) -> None:
    environ = {"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": fake.openai_base_url}
    config = LLMConfig(provider=LLMProvider.OPENAI, model="gpt-4o-mini")
    async with LLMService(config, environ=environ) as llm:
        text, _ = await llm.complete(messages=HELLO)
    assert text
    assert fake.requests[-1].headers["authorization"].startswith("Bearer sk-")


@pytest.mark.parametrize("messages", [[], "Hello!", [{"content": "no role"}], [["user", "Hello"]]])
async def test_malformed_messages_are_rejected_before_any_request(
    fake: FakeProviderServer, messages: object
) -> None:
    async with LLMService(openai_config(fake)) as llm:
        with pytest.raises(ConfigurationError, match="messages"):
            await llm.complete(messages=messages)  # type: ignore[arg-type]
    assert fake.request_count() == 0


async def test_api_key_never_appears_in_logs_errors_or_reprs(
    fake: FakeProviderServer, caplog: pytest.LogCaptureFixture, records: list[RequestRecord]
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.faults.add(Fault.server_error(500), times=None)
    config = openai_config(fake, max_retries=2, retry_delay=0.0)
    llm = LLMService(config, clock=FakeClock())
    async with llm:
        llm.subscribe(records.append)
        with pytest.raises(ProviderError) as caught:
            await llm.complete(messages=HELLO)
    fake.faults.clear()
    fake.faults.push(Fault.auth_error())
    async with LLMService(config) as llm2:
        with pytest.raises(AuthenticationError) as auth_caught:
            await llm2.complete(messages=HELLO)
    surfaces = [
        str(caught.value),
        repr(caught.value),
        str(auth_caught.value),
        repr(config),
        repr(llm),
        caplog.text,
        repr(records),
    ]
    for surface in surfaces:
        assert TEST_KEY not in surface
    assert "sk-" in repr(config)  # masked, but visibly set
