"""Virtual keys at the door: missing, wrong, revoked, expired, model not allowed; the
admin endpoints behind the admin key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest

from ml_ops.gateway.key_manager import key_request
from tests.ml_ops.gateway.conftest import RunningGateway

HELLO = [{"role": "user", "content": "hi"}]


def client(gateway: RunningGateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


def test_no_key_and_wrong_key_are_401(gateway: RunningGateway) -> None:
    response = httpx.post(gateway.base_url + "/chat/completions", json={"model": "fast"})
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert "didn't provide an API key" in message
    assert message.endswith("(i.e. Authorization: Bearer <key>).")  # not masked like a key
    with pytest.raises(openai.AuthenticationError) as caught:
        client(gateway, "sk-dvr-not-a-real-key-0000000000").models.list()
    assert caught.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    assert "sk-dvr-not" not in caught.value.response.text


def test_revoked_key_is_refused(gateway: RunningGateway) -> None:
    key, record = gateway.create_key()
    assert client(gateway, key).models.list().data
    response = httpx.delete(
        f"{gateway.url}/admin/keys/{record.id}",
        headers={"Authorization": f"Bearer {gateway.admin_key}"},
    )
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        client(gateway, key).chat.completions.create(model="fast", messages=HELLO)


def test_expired_key_is_refused(gateway: RunningGateway) -> None:
    manager = gateway.app_gateway.keys
    assert manager is not None
    past = datetime.now(UTC) - timedelta(days=2)
    key, record = manager.hasher.new_key(key_request(user="old", expires="1d"), now=past)
    gateway.run(manager.store.add(record))
    with pytest.raises(openai.AuthenticationError, match="expired"):
        client(gateway, key).chat.completions.create(model="fast", messages=HELLO)


def test_model_not_allowed_is_403_and_unknown_model_404(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key(models="claude")
    sdk = client(gateway, key)
    with pytest.raises(openai.PermissionDeniedError, match="may not use the model"):
        sdk.chat.completions.create(model="fast", messages=HELLO)
    assert {m.id for m in sdk.models.list()} == {"claude", "claude-3-5-haiku-20241022"}
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="no-such-model", messages=HELLO)


def test_admin_endpoints_need_the_admin_key(gateway: RunningGateway) -> None:
    url = gateway.url + "/admin/keys"
    assert httpx.get(url).status_code == 401
    assert httpx.post(url, json={"user": "x"}, headers={"X-Admin-Key": "wrong"}).status_code == 401
    admin = {"X-Admin-Key": gateway.admin_key}
    created = httpx.post(
        url,
        json={"user": "bo", "team": "ml", "budget": "5/day", "rpm": 10, "models": ["fast"]},
        headers=admin,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("sk-dvr-") and body["budget"] == "5/daily"
    assert client(gateway, body["key"]).chat.completions.create(model="fast", messages=HELLO)
    listed = httpx.get(url, headers=admin)
    assert body["key"] not in listed.text and "digest" not in listed.text
    assert [k["id"] for k in listed.json()["keys"]] == [body["id"]]
    bad = httpx.post(url, json={"user": "x", "budgett": "1/day"}, headers=admin)
    assert bad.status_code == 400 and "budgett" in bad.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"user": "x", "expires": "99999999999999d"},
        {"user": "x", "expires": "9999999d"},
        {"user": "x", "rpm": 99999999999999999999999},
        {"user": "x", "tpm": 2**31},
        {"user": "x", "budget": "1e400/day"},
    ],
)
def test_admin_out_of_range_values_are_400_with_the_bound(
    gateway: RunningGateway, body: dict[str, object]
) -> None:
    response = httpx.post(
        gateway.url + "/admin/keys", json=body, headers={"X-Admin-Key": gateway.admin_key}
    )
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "at most 36500d" in message or "from 1 to 2147483647" in message or "USD" in message
    assert (
        httpx.get(gateway.url + "/admin/keys", headers={"X-Admin-Key": gateway.admin_key}).json()[
            "keys"
        ]
        == []
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"user": "a" * 201}, "'user' must be 1 to 200 characters"),
        ({"user": "   "}, "'user' must be 1 to 200 characters"),
        ({"user": "ana", "team": "x\u0000y"}, "'team' must not contain control characters"),
        ({"user": "ana\nX-Injected: 1"}, "'user' must not contain control characters"),
        ({"user": "ana", "models": ["fast", "f" * 201]}, "'models' must be 1 to 200"),
    ],
)
def test_admin_labels_are_bounded_and_printable(
    gateway: RunningGateway, body: dict[str, object], message: str
) -> None:
    """Labels go into every record and the stores' text columns (PostgreSQL refuses NUL)."""
    headers = {"X-Admin-Key": gateway.admin_key}
    response = httpx.post(gateway.url + "/admin/keys", json=body, headers=headers)
    assert response.status_code == 400 and message in response.json()["error"]["message"]
    assert httpx.get(gateway.url + "/admin/keys", headers=headers).json()["keys"] == []
    accepted = httpx.post(gateway.url + "/admin/keys", json={"user": "é" * 200}, headers=headers)
    assert accepted.status_code == 201, accepted.text
