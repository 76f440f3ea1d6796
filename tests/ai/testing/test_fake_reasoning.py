"""The OpenAI fakes and reasoning models, parameters and structured output: api.openai.com's
rules (raw httpx and the official `openai` SDK), reasoning tokens in usage (JSON and
streams), the `max_completion_tokens` budget, JSON replies; OpenRouter stays permissive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from ai.testing import FakeProviderServer
from ai.testing.openai_chat import REASONING_TOKENS
from ai.testing.replies import default_text
from ai.testing.token_counting import count_tokens

HELLO: list[Any] = [{"role": "user", "content": "Hello there"}]
JSON_HELLO: list[Any] = [{"role": "user", "content": "Hello there, answer in JSON"}]
FORECAST_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "sunny": {"type": "boolean"},
        "note": {"type": "string"},
    },
    "required": ["city", "days", "sunny"],
    "additionalProperties": False,
}


@pytest.fixture
def client(fake: FakeProviderServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.openai_base_url, api_key=fake.api_key, max_retries=0) as c:
        yield c


def post_chat(
    http: httpx.Client, headers: dict[str, str], body: dict[str, Any], path: str = "/v1"
) -> httpx.Response:
    return http.post(f"{path}/chat/completions", json={"messages": HELLO, **body}, headers=headers)


# --- what api.openai.com refuses ----------------------------------------------------------

REFUSALS: list[tuple[dict[str, Any], str | None, str | None, str]] = [
    (
        {"model": "o3-mini", "max_tokens": 10},
        "max_tokens",
        "unsupported_parameter",
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
        "'max_completion_tokens' instead.",
    ),
    (
        {"model": "gpt-5", "temperature": 0.7},
        "temperature",
        "unsupported_value",
        "Unsupported value: 'temperature' does not support 0.7 with this model. Only the "
        "default (1) value is supported.",
    ),
    (
        {"model": "o1", "top_p": 0.5},
        "top_p",
        "unsupported_parameter",
        "Unsupported parameter: 'top_p' is not supported with this model.",
    ),
    (
        {"model": "gpt-5-mini", "presence_penalty": 0.5},
        "presence_penalty",
        "unsupported_parameter",
        "Unsupported parameter: 'presence_penalty' is not supported with this model.",
    ),
    (
        {"model": "o4-mini", "frequency_penalty": 0.5},
        "frequency_penalty",
        "unsupported_parameter",
        "Unsupported parameter: 'frequency_penalty' is not supported with this model.",
    ),
    (
        {"model": "gpt-5-nano", "logprobs": True},
        "logprobs",
        "unsupported_parameter",
        "Unsupported parameter: 'logprobs' is not supported with this model.",
    ),
    (
        {"model": "o3", "top_logprobs": 3},
        "top_logprobs",
        "unsupported_parameter",
        "Unsupported parameter: 'top_logprobs' is not supported with this model.",
    ),
    (
        {"model": "o3-2025-04-16", "logit_bias": {"1": 5}},
        "logit_bias",
        "unsupported_parameter",
        "Unsupported parameter: 'logit_bias' is not supported with this model.",
    ),
    (
        {"model": "o3", "stop": "END"},
        "stop",
        "unsupported_parameter",
        "Unsupported parameter: 'stop' is not supported with this model.",
    ),
    (
        {"model": "o3-mini", "reasoning_effort": "minimal"},
        "reasoning_effort",
        "unsupported_value",
        "Unsupported value: 'reasoning_effort' does not support 'minimal' with this model. "
        "Supported values are: 'low', 'medium', and 'high'.",
    ),
    (
        {"model": "gpt-5", "reasoning_effort": "maximal"},
        "reasoning_effort",
        "unsupported_value",
        "Unsupported value: 'reasoning_effort' does not support 'maximal' with this model. "
        "Supported values are: 'minimal', 'low', 'medium', and 'high'.",
    ),
    (
        {"model": "o1-mini", "reasoning_effort": "low"},
        "reasoning_effort",
        "unsupported_parameter",
        "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
    ),
    (
        {"model": "o1-preview", "reasoning_effort": "high"},
        "reasoning_effort",
        "unsupported_parameter",
        "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
    ),
    (
        {"model": "gpt-4o", "reasoning_effort": "low"},
        None,
        None,
        "Unrecognized request argument supplied: reasoning_effort",
    ),
    (
        {"model": "gpt-5-chat-latest", "reasoning_effort": "high"},
        None,
        None,
        "Unrecognized request argument supplied: reasoning_effort",
    ),
    (
        {"model": "gpt-4.1", "response_format": {"type": "json_object"}},
        "messages",
        None,
        "'messages' must contain the word 'json' in some form, to use 'response_format' of "
        "type 'json_object'.",
    ),
    (
        {"model": "gpt-4o", "response_format": {"type": "json_schema", "json_schema": {}}},
        "response_format.json_schema.name",
        "missing_required_parameter",
        "Missing required parameter: 'response_format.json_schema.name'.",
    ),
    (
        {"model": "gpt-4o", "response_format": {"type": "yaml"}},
        "response_format.type",
        "invalid_value",
        "Invalid value: 'yaml'. Supported values are: 'text', 'json_object', and 'json_schema'.",
    ),
    (
        {"model": "gpt-4o-mini", "metadata": {str(i): "v" for i in range(17)}},
        "metadata",
        "object_above_max_properties",
        "at most 16 properties",
    ),
    (
        {"model": "gpt-4o-mini", "metadata": {"user": "u" * 513}},
        "metadata.user",
        "string_above_max_length",
        "maximum length 512",
    ),
    ({"model": "gpt-4o-mini", "seed": "7"}, "seed", "invalid_type", "expected an integer"),
]


@pytest.mark.parametrize(("body", "param", "code", "message"), REFUSALS)
def test_openai_refuses_like_api_openai_com(
    body: dict[str, Any],
    param: str | None,
    code: str | None,
    message: str,
    http: httpx.Client,
    openai_headers: dict[str, str],
) -> None:
    response = post_chat(http, openai_headers, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error == {
        "message": error["message"],
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }
    assert message in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"model": "o3-mini", "max_completion_tokens": 2000, "reasoning_effort": "low"},
        {"model": "gpt-5", "reasoning_effort": "minimal", "temperature": 1, "top_p": 1},
        {"model": "gpt-5-mini", "presence_penalty": 0, "frequency_penalty": 0, "seed": 3},
        {"model": "o1", "reasoning_effort": "high", "stop": ["\n\n"]},
        {"model": "o1-mini", "max_completion_tokens": 3000},
        {"model": "gpt-4o", "seed": 42, "stop": ["END", "STOP"], "top_p": 0.3, "n": 2},
        {"model": "gpt-4o-mini", "metadata": {"team": "search", "run": "r" * 512}},
        {"model": "gpt-4.1", "logprobs": True, "top_logprobs": 2, "logit_bias": {"1": 1}},
        {"model": "gpt-5-chat-latest", "temperature": 0.2, "max_tokens": 50},
    ],
)
def test_openai_accepts_what_api_openai_com_accepts(
    body: dict[str, Any], http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    response = post_chat(http, openai_headers, body)
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == body.get("n", 1)


def test_openrouter_leaves_the_rules_to_its_upstream(
    http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    body = {
        "model": "openai/o3-mini",
        "max_tokens": 4000,
        "temperature": 0.2,
        "top_p": 0.5,
        "reasoning_effort": "extreme",
        "response_format": {"type": "json_object"},
        "metadata": {"k": 1},
    }
    response = post_chat(http, openai_headers, body, path="/api/v1")
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    # an effort it let through unchecked counts as the model's default (medium)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == REASONING_TOKENS["medium"]
    effort = post_chat(
        http, openai_headers, {"model": "openai/gpt-4o", "reasoning_effort": "low"}, "/api/v1"
    )
    assert effort.status_code == 200
    assert effort.json()["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_sdk_raises_bad_request_with_code_and_param(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="o3-mini", messages=HELLO, temperature=0.5)
    assert refused.value.status_code == 400
    assert (refused.value.code, refused.value.param) == ("unsupported_value", "temperature")
    with pytest.raises(openai.BadRequestError) as unknown:
        client.chat.completions.create(model="gpt-4o", messages=HELLO, reasoning_effort="low")
    assert (unknown.value.code, unknown.value.param) == (None, None)
    assert "reasoning_effort" in unknown.value.message


# --- reasoning tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "effort", "expected"),
    [
        ("gpt-5", "minimal", 0),
        ("gpt-5-mini", "low", 64),
        ("o3-mini", None, 256),
        ("o4-mini", "medium", 256),
        ("o3", "high", 1024),
        ("o1-mini", None, 256),
    ],
)
def test_reasoning_tokens_are_reported_inside_completion_tokens(
    client: openai.OpenAI, model: str, effort: str | None, expected: int
) -> None:
    extra = {} if effort is None else {"reasoning_effort": effort}
    completion = client.chat.completions.create(model=model, messages=HELLO, **extra)  # type: ignore[call-overload]
    text = completion.choices[0].message.content
    assert text == default_text(model, "Hello there")
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == expected
    assert usage.completion_tokens == count_tokens(text) + expected
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_reasoning_tokens_in_the_streamed_usage_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="o3-mini",
        messages=HELLO,
        reasoning_effort="high",
        max_completion_tokens=5000,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == default_text("o3-mini", "Hello there")
    usage = chunks[-1].usage
    assert chunks[-1].choices == []
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 1024
    assert usage.completion_tokens == count_tokens(text) + 1024


def test_non_reasoning_models_report_no_reasoning(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-5-chat-latest", messages=HELLO)
    assert completion.usage is not None
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_budget_the_reasoning_uses_up_gives_an_empty_length_answer(
    client: openai.OpenAI, stream: bool
) -> None:
    if stream:
        chunks = list(
            client.chat.completions.create(
                model="o3-mini",
                messages=HELLO,
                max_completion_tokens=100,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        usage = chunks[-1].usage
    else:
        completion = client.chat.completions.create(
            model="o3-mini", messages=HELLO, max_completion_tokens=100
        )
        text = completion.choices[0].message.content or ""
        finish = completion.choices[0].finish_reason
        usage = completion.usage
    assert (text, finish) == ("", "length")
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens == usage.completion_tokens_details.reasoning_tokens == 100


def test_a_budget_bounds_reasoning_and_visible_text_together(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-5-mini", messages=HELLO, reasoning_effort="low", max_completion_tokens=64 + 3
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert default_text("gpt-5-mini", "Hello there").startswith(choice.message.content or "-")
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 67
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 64


def test_n_choices_each_reason(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="o3-mini", messages=HELLO, n=3, reasoning_effort="low"
    )
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    text = default_text("o3-mini", "Hello there")
    assert {choice.message.content for choice in completion.choices} == {text}
    assert completion.usage is not None
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 3 * 64
    assert completion.usage.completion_tokens == 3 * (count_tokens(text) + 64)


# --- structured output ---------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o-mini", "o3-mini"])
def test_json_mode_answers_parseable_json(client: openai.OpenAI, model: str) -> None:
    completion = client.chat.completions.create(
        model=model, messages=JSON_HELLO, response_format={"type": "json_object"}
    )
    answer = json.loads(completion.choices[0].message.content or "")
    assert answer == {"reply": default_text(model, "Hello there, answer in JSON")}


def test_json_schema_answers_the_schemas_required_properties(client: openai.OpenAI) -> None:
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "forecast", "schema": FORECAST_SCHEMA, "strict": True},
    }
    completion = client.chat.completions.create(
        model="gpt-5", messages=HELLO, response_format=response_format
    )
    assert json.loads(completion.choices[0].message.content or "") == {
        "city": "example",
        "days": 1,
        "sunny": True,
    }
    streamed = client.chat.completions.create(
        model="gpt-4.1", messages=HELLO, response_format=response_format, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert set(json.loads(text)) == {"city", "days", "sunny"}


def test_json_mode_without_the_word_json_raises(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="gpt-4o", messages=HELLO, response_format={"type": "json_object"}
        )
    assert refused.value.param == "messages"
