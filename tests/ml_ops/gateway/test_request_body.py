"""Bodies no JSON encoder downstream could write, and bodies api.openai.com would not take:
each gets a 400 (413 when too large) at the door, never a 500 from deeper in."""

from __future__ import annotations

import httpx
import pytest

from ml_ops.gateway.asgi import MAX_BODY_BYTES, MAX_JSON_DEPTH
from tests.ml_ops.gateway.conftest import RunningGateway

CHAT = '{"model":"%s","stream":%s,"messages":[{"role":"user","content":%s}]}'
EMBED = '{"model":"embed","input":[%s]}'


def _post(gateway: RunningGateway, key: str, path: str, body: str | bytes) -> httpx.Response:
    return httpx.post(
        gateway.base_url + path,
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", CHAT % ("fast", "false", r'"\ud800 hi"')),
        ("/chat/completions", CHAT % ("fast", "true", r'"hi \udfff"')),
        ("/chat/completions", CHAT % ("claude", "false", r'"\uD83D alone"')),
        ("/chat/completions", CHAT % ("fast", "false", r'[{"type":"text","text":"\ud800"}]')),
        ("/chat/completions", '{"model":"fast","messages":[],"\\ud800":1}'),
        ("/embeddings", EMBED % r'"fine", "\ud800"'),
    ],
)
def test_lone_surrogates_are_a_400_naming_the_problem(
    gateway: RunningGateway, fake, path: str, body: str
) -> None:
    key, _ = gateway.create_key()
    response = _post(gateway, key, path, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "lone UTF-16 surrogate" in error["message"]
    assert fake.requests == []  # refused before anything went upstream
    assert gateway.records == []


def test_surrogate_pairs_and_escaped_backslashes_still_work(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    text = r'"emoji \ud83d\ude00 and a path C:\\ud800 that is text"'
    response = _post(gateway, key, "/chat/completions", CHAT % ("fast", "false", text))
    assert response.status_code == 200, response.text
    assert "\U0001f600" in response.json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize("path", ["/chat/completions", "/embeddings"])
def test_deeply_nested_json_is_the_unparsable_400(gateway: RunningGateway, path: str) -> None:
    key, _ = gateway.create_key()
    for depth in (100_000, 995, MAX_JSON_DEPTH + 1):
        body = '{"model":"fast","messages":' + "[" * depth + "]" * depth + "}"
        response = _post(gateway, key, path, body)
        assert response.status_code == 400, (depth, response.text)
        assert response.json()["error"]["message"].startswith(
            "We could not parse the JSON body of your request"
        )


def test_nesting_within_the_limit_is_served(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    deep = "[" * (MAX_JSON_DEPTH - 7) + "]" * (MAX_JSON_DEPTH - 7)  # 7 levels around it
    body = '{"model":"fast","messages":[{"role":"user","content":"hi"}],"metadata":{"a":"b"},'
    body += '"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",'
    body += '"properties":{"x":{"type":"array","default":' + deep + "}}}}}]}"
    response = _post(gateway, key, "/chat/completions", body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(gateway: RunningGateway, fake, literal: str) -> None:
    key, _ = gateway.create_key()
    body = '{"model":"fast","temperature":%s,"messages":[{"role":"user","content":"hi"}]}'
    response = _post(gateway, key, "/chat/completions", body % literal)
    assert response.status_code == 400, response.text
    assert literal in response.json()["error"]["message"]
    assert fake.requests == []


def test_a_body_that_is_not_utf8_is_the_unparsable_400(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    raw = b'{"model":"fast","messages":[{"role":"user","content":"\xed\xa0\x80"}]}'
    response = _post(gateway, key, "/chat/completions", raw)
    assert response.status_code == 400 and "UTF-8" in response.json()["error"]["message"]


def test_a_body_over_the_limit_is_413_with_its_own_message(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    body = b'{"model":"fast","messages":[{"role":"user","content":"' + b"x" * MAX_BODY_BYTES
    response = _post(gateway, key, "/chat/completions", body + b'"}]}')
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large" and "32 MiB" in error["message"]
    assert "could not parse" not in error["message"]


def test_admin_api_refuses_the_same_bodies(gateway: RunningGateway) -> None:
    url = gateway.url + "/admin/keys"
    admin = {"X-Admin-Key": gateway.admin_key, "Content-Type": "application/json"}
    for body in ('{"user":"\\ud800"}', "[" * 100_000 + "]" * 100_000, '{"user":"x","rpm":NaN}'):
        response = httpx.post(url, content=body, headers=admin)
        assert response.status_code == 400, response.text
