"""Rate limits and budgets answered as OpenAI does: 429, Retry-After, x-ratelimit-*."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.ml_ops.gateway.conftest import RunningGateway

HELLO = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}


def post(gateway: RunningGateway, key: str, body: dict[str, object] = HELLO) -> httpx.Response:
    # no-cache: every request reaches the upstream and uses tokens (the runtime's response
    # cache would answer repeats for free)
    return httpx.post(
        gateway.base_url + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}", "Cache-Control": "no-cache"},
        timeout=30,
    )


def test_over_rpm_is_429_with_retry_after(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key(rpm=2)
    first = post(gateway, key)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert post(gateway, key).status_code == 200
    refused = post(gateway, key)
    assert refused.status_code == 429
    # A bucket of 2 per minute refills one request every 30 s.
    assert 28 <= int(refused.headers["retry-after"]) <= 30
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    error = refused.json()["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded"
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])


def test_over_tpm_is_429_after_the_tokens_are_used(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key(tpm=30)
    first = post(gateway, key)  # ~26 tokens: admitted, then charged
    assert first.status_code == 200
    used = first.json()["usage"]["total_tokens"]
    second = post(gateway, key)  # 30 - 26 > 0 left: admitted, overdraws the bucket
    assert second.status_code == 200
    refused = post(gateway, key)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "tokens"
    # Debt: 2 * used tokens charged against 30/min; the next token fits when it is paid.
    expected = (2 * used + 1 - 30) * 2  # seconds (2 s per token at 30/min)
    assert abs(int(refused.headers["retry-after"]) - expected) <= 2
    assert refused.headers["x-ratelimit-limit-tokens"] == "30"


def test_over_budget_is_429_insufficient_quota(gateway: RunningGateway) -> None:
    key, record = gateway.create_key(budget="0.0001/day")
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    response = caught.value.response
    assert response.json()["error"]["code"] == "insufficient_quota"
    assert int(response.headers["retry-after"]) <= 86400
    (refused,) = gateway.wait_for_records(1)
    assert refused.outcome == "refused" and refused.tags["key_id"] == record.id


def test_team_budget_covers_every_key_of_the_team(serve_gateway) -> None:
    gateway = serve_gateway(teams={"search": {"budget": "0.0001/month"}})
    key, _ = gateway.create_key(team="search")
    other, _ = gateway.create_key(team="infra")
    assert post(gateway, key).status_code == 429
    assert post(gateway, other).status_code == 200
