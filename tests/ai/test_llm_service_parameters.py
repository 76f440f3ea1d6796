"""Named parameters through LLMService against fakes that enforce the real APIs' rules:
today's reasoning models called with the spec's default settings, translations per
provider, and the unsupported-parameter policy."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ai.cache import ResponseCache
from ai.core.records import RequestRecord
from ai.errors import ConfigurationError
from ai.llm_service import LLMService, ModelRoute
from ai.testing import FakeProviderServer, Fault
from tests.ai.provider_configs import TEST_KEY, anthropic_config, openai_config

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
        with pytest.raises(ConfigurationError, match="n=3"):  # not past the check via extra
            await llm.complete(messages=HELLO, extra={"n": 3})
        with pytest.raises(ConfigurationError, match="tempreature"):
            await llm.complete(messages=HELLO, tempreature=0.1)  # type: ignore[call-arg]
    assert fake.requests == []


async def test_timeout_per_call_replaces_the_configured_deadline(fake: FakeProviderServer) -> None:
    from ai.errors import ProviderTimeoutError

    fake.faults.push(Fault.slow_first_byte(3.0))
    async with LLMService(openai_config(fake, timeout=60.0, max_retries=0)) as llm:
        with pytest.raises(ProviderTimeoutError):
            await llm.complete(messages=HELLO, timeout=0.3)


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_fallback_refusing_a_parameter_fails_the_call_before_anything_is_sent(
    fake: FakeProviderServer, records: list[RequestRecord], streamed: bool
) -> None:
    """Fitted to every model the call may reach before the first request: under
    unsupported_params='error' a fallback's refusal is the caller's error up front, not
    a failure replacing the primary's real error halfway down the chain."""
    fake.faults.push(Fault.server_error(500))
    config = openai_config(fake, fallback_models=["o3"], unsupported_params="error", max_retries=0)
    async with LLMService(config) as llm:
        llm.subscribe(records.append)
        call = (
            llm.stream(messages=HELLO, temperature=0.3).collect()
            if streamed
            else llm.complete(messages=HELLO, temperature=0.3)
        )
        with pytest.raises(ConfigurationError, match="'o3' does not take `temperature`"):
            await call
    assert fake.requests == []
    [record] = records
    assert record.error_type == "invalid_request" and record.attempts == 0


async def test_a_thinking_fallback_with_too_small_a_limit_fails_before_sending(
    fake: FakeProviderServer,
) -> None:
    """An explicit max_tokens below the thinking budget an effort stands for on a Claude
    fallback is refused up front, naming the effort (the caller's limit is not raised)."""
    fallback = ModelRoute(
        "anthropic", "claude-sonnet-4-5", api_key=TEST_KEY, base_url=fake.anthropic_base_url
    )
    config = openai_config(fake, model="o3", fallback_models=[fallback], max_retries=0)
    async with LLMService(config) as llm:
        with pytest.raises(ConfigurationError, match=r"max_tokens=200.*reasoning_effort='low'"):
            await llm.complete(messages=HELLO, reasoning_effort="low", max_tokens=200)
        _, stats = await llm.complete(messages=HELLO, reasoning_effort="low", max_tokens=4000)
    assert len(fake.requests) == 1 and stats.model.startswith("o3")


@pytest.mark.parametrize(
    "options",
    [{"timeout": float("nan")}, {"timeout": "abc"}, {"cache": "weird"}, {"temperature": "0.5"}],
)
async def test_bad_per_call_values_are_configuration_errors_before_sending(
    fake: FakeProviderServer, records: list[RequestRecord], options: dict[str, object]
) -> None:
    async with LLMService(openai_config(fake)) as llm:
        llm.subscribe(records.append)
        with pytest.raises(ConfigurationError, match=next(iter(options))):
            await llm.complete(messages=HELLO, **options)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match=next(iter(options))):
            await llm.stream(messages=HELLO, **options).collect()  # type: ignore[arg-type]
    assert fake.requests == [] and records == []  # refused like a misspelt option


def calls_snippet(model: str) -> str:
    """The "Calls" example of docs/llm-service.md, its `...` placeholders filled, aimed
    at `model`, as the body of an async function of `llm`."""
    docs = (Path(__file__).parents[2] / "docs" / "llm-service.md").read_text()
    code = docs.split("## Calls", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    code = code.replace('model="gpt-4o"', f"model={model!r}").replace("[...]", "[TOOL]")
    if model.startswith("claude"):  # sent verbatim: Anthropic has no logit_bias
        code = "\n".join(line for line in code.splitlines() if "logit_bias" not in line)
    body = textwrap.indent(code.replace("{...}", "{}").strip(), "    ")
    return f"async def snippet(llm):\n{body}\n    return text, stats\n"


@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-5"])
async def test_the_docs_calls_snippet_runs_as_written(fake: FakeProviderServer, model: str) -> None:
    """JSON mode with "JSON" in the messages (the real API refuses it otherwise) and a
    max_tokens above the thinking budget its effort stands for on Claude."""
    make_config = anthropic_config if model.startswith("claude") else openai_config
    scope: dict[str, Any] = {"TOOL": {"type": "function", "function": {"name": "f"}}}
    exec(calls_snippet(model), scope)  # noqa: S102 - our own docs
    async with LLMService(make_config(fake), cache=ResponseCache.memory()) as llm:
        _, stats = await scope["snippet"](llm)
    assert stats.model.startswith(model) and len(fake.requests) == 1
