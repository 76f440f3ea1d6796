"""Request validation: the 400s (and 404s) real providers send, in their own JSON."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ai.testing import FakeProviderServer

USER = {"role": "user", "content": "hi"}
OPENAI_OK: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [USER]}
ANTHROPIC_OK: dict[str, Any] = {
    "model": "claude-3-haiku-20240307",
    "max_tokens": 20,
    "messages": [USER],
}


def openai_error(
    http: httpx.Client, fake: FakeProviderServer, body: Any
) -> tuple[int, dict[str, Any]]:
    response = http.post(
        "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {fake.api_key}"}
    )
    return response.status_code, response.json().get("error", {})


def anthropic_error(http: httpx.Client, fake: FakeProviderServer, body: Any) -> tuple[int, str]:
    response = http.post(
        "/v1/messages",
        json=body,
        headers={"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"},
    )
    payload = response.json()
    if response.status_code == 200:
        return 200, ""
    assert payload["type"] == "error"
    return response.status_code, payload["error"]["message"]


@pytest.mark.parametrize(
    ("change", "param", "code", "fragment"),
    [
        ({"model": None}, None, None, "you must provide a model parameter"),
        ({"messages": None}, "messages", "missing_required_parameter", "'messages'"),
        ({"messages": "hi"}, "messages", "invalid_type", "expected an array"),
        ({"messages": []}, "messages", "empty_array", "empty array"),
        (
            {"messages": [{"role": "bot", "content": "x"}]},
            "messages[0].role",
            "invalid_value",
            "'bot'",
        ),
        (
            {"messages": [{"role": "user"}]},
            "messages[0].content",
            "missing_required_parameter",
            "content",
        ),
        ({"messages": ["hi"]}, "messages[0]", "invalid_type", "expected an object"),
        (
            {"messages": [{"role": "user", "content": [{"type": "video"}]}]},
            "messages[0].content[0].type",
            "invalid_value",
            "'video'",
        ),
        ({"temperature": 3}, "temperature", "decimal_above_max_value", "<= 2"),
        ({"temperature": -0.5}, "temperature", "decimal_below_min_value", ">= 0"),
        ({"temperature": "hot"}, "temperature", "invalid_type", "expected a decimal"),
        ({"top_p": 1.5}, "top_p", "decimal_above_max_value", "<= 1"),
        ({"max_tokens": 0}, "max_tokens", "integer_below_min_value", ">= 1"),
        ({"n": 1.5}, "n", "invalid_type", "expected an integer"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length", "maximum length 4"),
        (
            {"stream_options": {"include_usage": True}},
            "stream_options",
            "invalid_value",
            "'stream'",
        ),
        ({"tool_choice": "auto"}, "tool_choice", None, "only allowed when 'tools'"),
        (
            {"tools": [{"type": "function"}]},
            "tools[0].function",
            "missing_required_parameter",
            "function",
        ),
        (
            {"messages": [{"role": "tool", "tool_call_id": "call_1", "content": "x"}]},
            "messages.[0].role",
            None,
            "must be a response to a preceeding message",
        ),
        (
            {
                "messages": [
                    USER,
                    {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function"}]},
                    USER,
                ]
            },
            "messages",
            None,
            "call_1",
        ),
    ],
)
def test_openai_400s(
    change: dict[str, Any],
    param: str | None,
    code: str | None,
    fragment: str,
    fake: FakeProviderServer,
    http: httpx.Client,
) -> None:
    body = {k: v for k, v in {**OPENAI_OK, **change}.items() if v is not None}
    status, error = openai_error(http, fake, body)
    assert status == 400
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["code"] == code
    assert fragment in error["message"]


def test_openai_reasoning_model_rules(fake: FakeProviderServer, http: httpx.Client) -> None:
    status, error = openai_error(http, fake, {**OPENAI_OK, "model": "o3-mini", "max_tokens": 10})
    assert (status, error["code"]) == (400, "unsupported_parameter")
    status, _ = openai_error(
        http, fake, {**OPENAI_OK, "model": "o3-mini", "max_completion_tokens": 10}
    )
    assert status == 200


def test_openai_not_json_and_not_chat_model(fake: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions",
        content=b"{nope",
        headers={"authorization": f"Bearer {fake.api_key}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]
    status, error = openai_error(http, fake, {**OPENAI_OK, "model": "text-embedding-3-small"})
    assert status == 404
    assert "not a chat model" in error["message"]
    status, error = openai_error(http, fake, {**OPENAI_OK, "model": "claude-3-haiku-20240307"})
    assert (status, error["code"]) == (404, "model_not_found")


def test_openai_missing_key(fake: FakeProviderServer, http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=OPENAI_OK)
    assert response.status_code == 401
    assert "didn't provide an API key" in response.json()["error"]["message"]
    wrong = http.post("/v1/chat/completions", json=OPENAI_OK, headers={"authorization": "Bearer x"})
    assert wrong.json()["error"]["code"] == "invalid_api_key"


def test_openrouter_errors_use_its_format(fake: FakeProviderServer, http: httpx.Client) -> None:
    auth = {"authorization": f"Bearer {fake.api_key}"}
    response = http.post("/api/v1/chat/completions", json={"model": "openai/gpt-4o"}, headers=auth)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400
    unknown = http.post(
        "/api/v1/chat/completions", json={**OPENAI_OK, "model": "x/unknown"}, headers=auth
    )
    assert unknown.json() == {
        "error": {"code": 404, "message": "No endpoints found for x/unknown."}
    }
    missing = http.post("/api/v1/chat/completions", json=OPENAI_OK)
    assert missing.json() == {"error": {"code": 401, "message": "No auth credentials found"}}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"model": None}, "model: Field required"),
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": 0}, "greater than or equal to 1"),
        ({"max_tokens": "lots"}, "max_tokens: Input should be a valid integer"),
        ({"messages": None}, "messages: Field required"),
        ({"messages": {}}, "messages: Input should be a valid list"),
        ({"messages": []}, "at least one message is required"),
        (
            {"messages": [{"role": "system", "content": "be nice"}, USER]},
            'Unexpected role "system"',
        ),
        ({"messages": [{"role": "bot", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": ""}]}, "non-empty content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": " "}]}]},
            "non-whitespace",
        ),
        ({"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
        ({"temperature": 1.5}, "temperature: Input should be less than or equal to 1"),
        ({"top_k": -1}, "top_k: Input should be greater than or equal to 0"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"system": 5}, "system"),
        ({"tools": [{"name": "t"}]}, "input_schema: Field required"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice"),
        (
            {
                "tools": [{"name": "t", "input_schema": {}}],
                "tool_choice": {"type": "tool", "name": "u"},
            },
            "'u' not found",
        ),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}
                        ],
                    }
                ]
            },
            "unexpected `tool_use_id`",
        ),
        (
            {
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}
                        ],
                    },
                    USER,
                ]
            },
            "without `tool_result` blocks",
        ),
    ],
)
def test_anthropic_400s(
    change: dict[str, Any], fragment: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    body = {k: v for k, v in {**ANTHROPIC_OK, **change}.items() if v is not None}
    status, message = anthropic_error(http, fake, body)
    assert status == 400
    assert fragment in message


def test_anthropic_prefill_and_unknown_model(fake: FakeProviderServer, http: httpx.Client) -> None:
    prefill = {**ANTHROPIC_OK, "messages": [USER, {"role": "assistant", "content": ""}]}
    assert anthropic_error(http, fake, prefill)[0] == 200
    status, message = anthropic_error(http, fake, {**ANTHROPIC_OK, "model": "gpt-4o"})
    assert (status, message) == (404, "model: gpt-4o")


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"model": "text-embedding-3-small"}, 400, "'input'"),
        ({"model": "text-embedding-3-small", "input": ""}, 400, "'$.input' is invalid"),
        ({"model": "text-embedding-3-small", "input": []}, 400, "'$.input' is invalid"),
        ({"model": "text-embedding-3-small", "input": [""] * 2049}, 400, "'$.input' is invalid"),
        (
            {"model": "text-embedding-3-small", "input": ["a"] * 2049},
            400,
            "max number of inputs is 2048",
        ),
        (
            {"model": "text-embedding-ada-002", "input": "a", "dimensions": 8},
            400,
            "does not support",
        ),
        ({"model": "text-embedding-3-small", "input": "a", "dimensions": 5000}, 400, "dimensions"),
        ({"model": "text-embedding-3-small", "input": "a", "encoding_format": "hex"}, 400, "'hex'"),
        ({"model": "gpt-4o", "input": "a"}, 400, "does not support embeddings"),
        ({"model": "text-embedding-9", "input": "a"}, 404, "does not exist"),
    ],
)
def test_embeddings_errors(
    body: dict[str, Any], status: int, fragment: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    response = http.post(
        "/v1/embeddings", json=body, headers={"authorization": f"Bearer {fake.api_key}"}
    )
    assert response.status_code == status
    assert fragment in response.json()["error"]["message"]
