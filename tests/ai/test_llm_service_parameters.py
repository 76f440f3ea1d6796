"""Named parameters through LLMService against fakes that enforce the real APIs' rules:
today's reasoning models called with the spec's default settings, translations per
provider, and the unsupported-parameter policy."""

from __future__ import annotations

import json
import logging

import pytest

from ai.errors import ConfigurationError
from ai.llm_service import LLMService
from ai.testing import FakeProviderServer
from tests.ai.provider_configs import anthropic_config, openai_config

HELLO = [{"role": "user", "content": "Hello!"}]


@pytest.mark.parametrize("model", ["o3-mini", "o4-mini", "gpt-5", "o1"])
async def test_reasoning_models_work_with_the_default_settings(
    fake: FakeProviderServer, model: str
) -> None:
    async with LLMService(openai_config(fake, model=model)) as llm:  # temperature 0.7 default
        text, stats = await llm.complete(messages=HELLO)
    [sent] = fake.requests
    assert "max_tokens" not in sent.body and sent.body["max_completion_tokens"] == 4096
    assert "temperature" not in sent.body
    assert text and stats.reasoning_tokens > 0
    assert stats.reasoning_tokens <= stats.output_tokens


async def test_reasoning_effort_is_passed_by_name(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake, model="o3-mini")) as llm:
        _, low = await llm.complete(messages=HELLO, reasoning_effort="low")
        _, high = await llm.complete(messages=HELLO, reasoning_effort="high")
    assert [r.body["reasoning_effort"] for r in fake.requests] == ["low", "high"]
    assert high.reasoning_tokens > low.reasoning_tokens


async def test_a_chosen_temperature_on_a_reasoning_model_warns_once_then_is_left_out(
    fake: FakeProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with LLMService(openai_config(fake, model="o3")) as llm:
        with caplog.at_level(logging.WARNING, logger="ai.llm_service"):
            await llm.complete(messages=HELLO, temperature=0.2)
            await llm.complete(messages=HELLO, temperature=0.2)
    warnings = [r for r in caplog.records if "temperature" in r.getMessage()]
    assert len(warnings) == 1
    assert all("temperature" not in r.body for r in fake.requests)


async def test_unsupported_params_error_refuses_before_sending(fake: FakeProviderServer) -> None:
    config = openai_config(fake, model="o3", unsupported_params="error")
    async with LLMService(config) as llm:
        with pytest.raises(ConfigurationError, match="temperature"):
            await llm.complete(messages=HELLO, temperature=0.2)
        await llm.complete(messages=HELLO)  # the default temperature still goes silently
    assert len(fake.requests) == 1


async def test_anthropic_thinking_from_an_effort_counts_reasoning_tokens(
    fake: FakeProviderServer,
) -> None:
    config = anthropic_config(fake, model="claude-sonnet-4-5", max_tokens=16000)
    async with LLMService(config) as llm:
        text, stats = await llm.complete(messages=HELLO, reasoning_effort="low")
        streamed, stream_stats = await llm.stream(messages=HELLO, thinking_budget=2048).collect()
    bodies = [r.body for r in fake.requests]
    assert bodies[0]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert all("temperature" not in body for body in bodies)
    assert stats.reasoning_tokens > 0 and stream_stats.reasoning_tokens > 0
    assert text == streamed and "thinking" not in text.lower()


async def test_parameters_anthropic_has_no_field_for_are_never_sent(
    fake: FakeProviderServer,
) -> None:
    async with LLMService(anthropic_config(fake)) as llm:
        text, _ = await llm.complete(
            messages=HELLO, seed=7, response_format={"type": "json_object"}, stop="END"
        )
    [sent] = fake.requests
    assert text and "seed" not in sent.body and "response_format" not in sent.body
    assert sent.body["stop_sequences"] == ["END"]


async def test_openai_json_mode_and_named_sampling_parameters(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake)) as llm:
        text, _ = await llm.complete(
            messages=[{"role": "user", "content": "Answer in JSON."}],
            response_format={"type": "json_object"},
            seed=3,
            top_p=0.5,
            stop=["\n\n"],
            metadata={"feature": "search"},
        )
    [sent] = fake.requests
    assert json.loads(text)
    assert (sent.body["seed"], sent.body["top_p"], sent.body["stop"]) == (3, 0.5, ["\n\n"])
    assert sent.body["metadata"] == {"feature": "search"}


async def test_n_above_one_and_unknown_options_are_refused(fake: FakeProviderServer) -> None:
    async with LLMService(openai_config(fake)) as llm:
        with pytest.raises(ConfigurationError, match="n=2"):
            await llm.complete(messages=HELLO, n=2)
        with pytest.raises(ConfigurationError, match="tempreature"):
            await llm.complete(messages=HELLO, tempreature=0.1)  # type: ignore[call-arg]
    assert fake.requests == []


async def test_timeout_per_call_replaces_the_configured_deadline(fake: FakeProviderServer) -> None:
    from ai.errors import ProviderTimeoutError
    from ai.testing import Fault

    fake.faults.push(Fault.slow_first_byte(3.0))
    async with LLMService(openai_config(fake, timeout=60.0, max_retries=0)) as llm:
        with pytest.raises(ProviderTimeoutError):
            await llm.complete(messages=HELLO, timeout=0.3)
