"""Fitting a request to a model: translations, silent defaults, and the unsupported policy."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai.errors import ConfigurationError
from ai.providers.anthropic_format import AnthropicMessagesFormat
from ai.providers.base import ChatRequest
from ai.providers.capabilities import (
    ANTHROPIC_MODELS,
    OPENAI_MODELS,
    ROUTER_MODELS,
    ModelCapabilities,
    ModelCatalog,
    ReasoningControl,
)
from ai.providers.openai_format import OpenAIChatFormat
from ai.providers.parameters import (
    EFFORT_BUDGETS,
    UnsupportedParams,
    fit_request,
    fitted_max_tokens,
)

HELLO = [{"role": "user", "content": "Hello!"}]


def request(model: str, **fields: Any) -> ChatRequest:
    options = fields.pop("options", {})
    return ChatRequest(
        model=model,
        messages=HELLO,
        temperature=fields.pop("temperature", None),
        max_tokens=fields.pop("max_tokens", None),
        options=options,
        **fields,
    )


def fit(
    req: ChatRequest,
    catalog: ModelCatalog,
    policy: UnsupportedParams = UnsupportedParams.WARN,
    defaults: frozenset[str] = frozenset(),
) -> tuple[ChatRequest, list[str]]:
    warnings: list[str] = []
    fitted = fit_request(
        req,
        catalog.lookup(req.model),
        policy=policy,
        defaults=defaults,
        warn=lambda model, what: warnings.append(what),
    )
    return fitted, warnings


@pytest.mark.parametrize(
    "model", ["o1", "o3", "o3-mini", "o4-mini", "o3-2025-04-16", "gpt-5", "gpt-5-mini", "openai/o3"]
)
def test_openai_reasoning_models_get_max_completion_tokens_and_no_default_temperature(
    model: str,
) -> None:
    fitted, warnings = fit(
        request(model, temperature=0.7, max_tokens=4096),
        OPENAI_MODELS,
        defaults=frozenset({"temperature", "max_tokens"}),
    )
    body = OpenAIChatFormat().request_body(fitted)
    assert body["max_completion_tokens"] == 4096 and "max_tokens" not in body
    assert "temperature" not in body
    assert warnings == []  # the configuration's defaults go silently


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4.1", "gpt-5-chat-latest", "llama-3"])
def test_other_openai_models_keep_max_tokens_and_temperature(model: str) -> None:
    fitted, _ = fit(request(model, temperature=0.7, max_tokens=100), OPENAI_MODELS)
    body = OpenAIChatFormat().request_body(fitted)
    assert (body["max_tokens"], body["temperature"]) == (100, 0.7)


def test_a_chosen_temperature_on_a_reasoning_model_follows_the_policy() -> None:
    req = request("o3-mini", temperature=0.2)
    dropped, warnings = fit(req, OPENAI_MODELS, UnsupportedParams.WARN)
    assert dropped.temperature is None and warnings == ["temperature (not supported by this model)"]
    silent, warnings = fit(req, OPENAI_MODELS, UnsupportedParams.DROP)
    assert silent.temperature is None and warnings == []
    with pytest.raises(ConfigurationError, match="does not take `temperature`"):
        fit(req, OPENAI_MODELS, UnsupportedParams.ERROR)


def test_reasoning_effort_passes_by_name_to_openai_and_a_budget_becomes_an_effort() -> None:
    fitted, _ = fit(request("o3", options={"reasoning_effort": "high"}), OPENAI_MODELS)
    assert OpenAIChatFormat().request_body(fitted)["reasoning_effort"] == "high"
    fitted, _ = fit(request("gpt-5", options={"thinking_budget": 2000}), OPENAI_MODELS)
    body = OpenAIChatFormat().request_body(fitted)
    assert body["reasoning_effort"] == "low" and "thinking_budget" not in body


def test_an_effort_the_model_does_not_know_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="minimal"):
        fit(request("o3", options={"reasoning_effort": "minimal"}), OPENAI_MODELS)
    fitted, _ = fit(request("gpt-5", options={"reasoning_effort": "minimal"}), OPENAI_MODELS)
    assert fitted.options["reasoning_effort"] == "minimal"


def test_reasoning_on_a_model_that_cannot_be_steered_follows_the_policy() -> None:
    with pytest.raises(ConfigurationError, match="reasoning_effort"):
        fit(
            request("gpt-4o", options={"reasoning_effort": "low"}),
            OPENAI_MODELS,
            UnsupportedParams.ERROR,
        )
    fitted, warnings = fit(
        request("claude-3-5-haiku", options={"thinking_budget": 2048}), ANTHROPIC_MODELS
    )
    assert "thinking_budget" not in fitted.options and warnings


def test_anthropic_thinking_from_an_effort_or_a_budget() -> None:
    wire = AnthropicMessagesFormat()
    fitted, _ = fit(
        request("claude-sonnet-4-5", options={"reasoning_effort": "medium"}, max_tokens=20000),
        ANTHROPIC_MODELS,
    )
    body = wire.request_body(fitted)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": EFFORT_BUDGETS["medium"]}
    assert "reasoning_effort" not in body


def test_thinking_drops_temperature_and_makes_room_for_the_answer() -> None:
    fitted, warnings = fit(
        request(
            "claude-opus-4-1", temperature=0.7, max_tokens=4096, options={"thinking_budget": 8000}
        ),
        ANTHROPIC_MODELS,
        defaults=frozenset({"temperature", "max_tokens"}),
    )
    assert fitted.temperature is None and warnings == []
    assert fitted.max_tokens == 8000 + 4096  # the default limit, on top of the thinking
    with pytest.raises(ConfigurationError, match="leaves no room"):
        fit(
            request("claude-opus-4-1", max_tokens=4096, options={"thinking_budget": 8000}),
            ANTHROPIC_MODELS,
        )
    with pytest.raises(ConfigurationError, match=">= 1024"):
        fit(request("claude-opus-4-1", options={"thinking_budget": 100}), ANTHROPIC_MODELS)


def test_anthropic_never_receives_parameters_it_has_no_field_for() -> None:
    fitted, warnings = fit(request("claude-3-5-haiku", options={"seed": 7}), ANTHROPIC_MODELS)
    body = AnthropicMessagesFormat().request_body(fitted)
    assert "seed" not in body and warnings
    with pytest.raises(ConfigurationError, match="seed"):
        fit(
            request("claude-3-5-haiku", options={"seed": 7}),
            ANTHROPIC_MODELS,
            UnsupportedParams.ERROR,
        )


def test_anthropic_gets_response_format_translated_not_dropped() -> None:
    options = {"response_format": {"type": "json_object"}}
    fitted, warnings = fit(request("claude-3-5-haiku", options=options), ANTHROPIC_MODELS)
    body = AnthropicMessagesFormat().request_body(fitted)
    assert "response_format" not in body and not warnings
    assert "JSON object" in body["system"]


def test_named_parameters_are_translated_per_wire_format() -> None:
    options = {"top_p": 0.9, "stop": "END", "metadata": {"user_id": "u1", "team": "x"}}
    anthropic = AnthropicMessagesFormat().request_body(request("claude-3-5-haiku", options=options))
    assert anthropic["stop_sequences"] == ["END"] and anthropic["top_p"] == 0.9
    assert anthropic["metadata"] == {"user_id": "u1"}
    openai = OpenAIChatFormat().request_body(
        request(
            "gpt-4o", options={**options, "seed": 3, "response_format": {"type": "json_object"}}
        )
    )
    assert (openai["stop"], openai["seed"], openai["response_format"]) == (
        "END",
        3,
        {"type": "json_object"},
    )


def test_a_router_takes_reasoning_in_its_own_object() -> None:
    router = OpenAIChatFormat(ROUTER_MODELS, router=True)
    fitted, _ = fit(
        request("anthropic/claude-sonnet-4", options={"reasoning_effort": "high"}), ROUTER_MODELS
    )
    assert router.request_body(fitted)["reasoning"] == {"effort": "high"}
    fitted, _ = fit(request("openai/o3", options={"thinking_budget": 3000}), ROUTER_MODELS)
    assert router.request_body(fitted)["reasoning"] == {"max_tokens": 3000}


def test_overrides_win_by_exact_model_name() -> None:
    custom = ModelCapabilities(
        reasoning=True,
        reasoning_control=ReasoningControl.EFFORT,
        max_tokens_name="max_completion_tokens",
    )
    catalog = OPENAI_MODELS.with_overrides({"my-finetune": custom})
    fitted, _ = fit(request("my-finetune", max_tokens=10), catalog)
    assert OpenAIChatFormat().request_body(fitted)["max_completion_tokens"] == 10


OPTION_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "top_p": st.floats(0, 1),
        "stop": st.text(max_size=5),
        "seed": st.integers(0, 10),
        "response_format": st.just({"type": "json_object"}),
        "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
        "thinking_budget": st.integers(1024, 30000),
    },
)


@given(
    model=st.sampled_from(
        ["gpt-4o", "o3", "gpt-5", "claude-3-5-haiku", "claude-sonnet-4-5", "llama"]
    ),
    options=OPTION_VALUES,
    temperature=st.none() | st.floats(0, 1),
)
def test_fitted_requests_never_carry_what_the_model_rejects(
    model: str, options: dict[str, Any], temperature: float | None
) -> None:
    catalog = ANTHROPIC_MODELS if model.startswith("claude") else OPENAI_MODELS
    fitted, _ = fit(
        request(model, temperature=temperature, max_tokens=40000, options=options),
        catalog,
        UnsupportedParams.DROP,
    )
    caps = catalog.lookup(model)
    present = set(fitted.options) | ({"temperature"} if fitted.temperature is not None else set())
    assert not present & caps.rejects
    if caps.reasoning_control is None:
        assert not {"reasoning_effort", "thinking_budget"} & set(fitted.options)
    if caps.reasoning_control is ReasoningControl.EFFORT:
        assert "thinking_budget" not in fitted.options
    if caps.reasoning_control is ReasoningControl.BUDGET:
        assert "reasoning_effort" not in fitted.options


@settings(max_examples=300)
@given(
    model=st.sampled_from(["gpt-4o", "o3", "claude-3-5-haiku", "claude-sonnet-4-5"]),
    options=OPTION_VALUES,
    max_tokens=st.none() | st.integers(1, 40000),
    defaults=st.sampled_from([frozenset(), frozenset({"max_tokens"})]),
    policy=st.sampled_from(list(UnsupportedParams)),
)
def test_fitted_max_tokens_is_the_limit_fit_request_sends(
    model: str,
    options: dict[str, Any],
    max_tokens: int | None,
    defaults: frozenset[str],
    policy: UnsupportedParams,
) -> None:
    # What the budget guard prices a call with must be what the model is sent.
    catalog = ANTHROPIC_MODELS if model.startswith("claude") else OPENAI_MODELS
    req = request(model, max_tokens=max_tokens, options=options)
    planned = fitted_max_tokens(req, catalog.lookup(model), defaults=defaults)
    try:
        fitted, _ = fit(req, catalog, policy, defaults)
    except ConfigurationError:
        return  # refused before anything is sent: no output to price
    assert planned == fitted.max_tokens


def test_a_thinking_budget_raises_the_planned_default_limit() -> None:
    sonnet = request("claude-sonnet-4-5", max_tokens=4096, options={"thinking_budget": 8000})
    caps = ANTHROPIC_MODELS.lookup("claude-sonnet-4-5")
    assert fitted_max_tokens(sonnet, caps, defaults=frozenset({"max_tokens"})) == 8000 + 4096
    assert fitted_max_tokens(sonnet, caps, defaults=frozenset()) == 4096  # refused when sent
    effort = request("claude-sonnet-4-5", max_tokens=4096, options={"reasoning_effort": "high"})
    high = EFFORT_BUDGETS["high"] + 4096
    assert fitted_max_tokens(effort, caps, defaults=frozenset({"max_tokens"})) == high
