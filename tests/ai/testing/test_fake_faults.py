"""Every fault kind as raw httpx sees it, on every API, plus the rules that pick requests."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx
import pytest

from ai.testing import FakeProviderServer, Fault, FaultKind

APIS = ("openai", "openrouter", "anthropic", "embeddings")
CHAT_APIS = ("openai", "openrouter", "anthropic")


def request_for(api: str, fake: FakeProviderServer, *, stream: bool = False) -> dict[str, Any]:
    """httpx.request kwargs for a valid call to `api`."""
    bearer = {"authorization": f"Bearer {fake.api_key}"}
    messages = [{"role": "user", "content": "Tell me something nice"}]
    if api == "anthropic":
        headers = {"x-api-key": fake.api_key, "anthropic-version": "2023-06-01"}
        body: dict[str, Any] = {"model": "claude-3-haiku-20240307", "max_tokens": 100}
        return {
            "url": "/v1/messages",
            "json": {**body, "messages": messages, "stream": stream},
            "headers": headers,
        }
    if api == "embeddings":
        body = {"model": "text-embedding-3-small", "input": "hello"}
        return {"url": "/v1/embeddings", "json": body, "headers": bearer}
    path = "/v1/chat/completions" if api == "openai" else "/api/v1/chat/completions"
    model = "gpt-4o-mini" if api == "openai" else "openai/gpt-4o-mini"
    body = {"model": model, "messages": messages, "stream": stream}
    return {"url": path, "json": body, "headers": bearer}


def post(http: httpx.Client, api: str, fake: FakeProviderServer, **kw: Any) -> httpx.Response:
    request = request_for(api, fake)
    request["headers"] = {**request["headers"], **kw.pop("headers", {})}
    return http.post(**request, **kw)


def is_content_delta(line: str) -> bool:
    """True for an SSE data line carrying generated text (not the empty role delta)."""
    if not line.startswith("data: {"):
        return False
    try:
        event = json.loads(line.removeprefix("data: "))
    except json.JSONDecodeError:
        return False
    if event.get("type") == "content_block_delta":
        return True
    choices = event.get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


def stream_lines(http: httpx.Client, api: str, fake: FakeProviderServer) -> list[str]:
    """Non-empty lines of a stream response, read until the end or an error."""
    with http.stream("POST", **request_for(api, fake, stream=True)) as response:
        assert response.status_code == 200
        return [line for line in response.iter_lines() if line]


def error_type(api: str, response: httpx.Response) -> object:
    body = response.json()
    if api == "anthropic":
        assert body["type"] == "error"
        return body["error"]["type"]
    if api == "openrouter":
        assert body["error"]["code"] == response.status_code
        return body["error"]["code"]
    return body["error"]["type"]


@pytest.mark.parametrize("api", APIS)
def test_rate_limit(api: str, fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.rate_limit(retry_after=2))
    response = post(http, api, fake)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    expected = {"anthropic": "rate_limit_error", "openrouter": 429}.get(api, "requests")
    assert error_type(api, response) == expected
    if api in ("openai", "embeddings"):
        assert response.headers["x-ratelimit-remaining-requests"] == "0"
        assert response.headers["x-ratelimit-reset-requests"] == "2s"
        assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert post(http, api, fake).status_code == 200


def test_rate_limit_with_http_date_or_no_header(
    fake: FakeProviderServer, http: httpx.Client
) -> None:
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake.faults.push(Fault.rate_limit(retry_after=date))
    fake.faults.push(Fault.rate_limit(retry_after=None))
    fake.faults.push(Fault.rate_limit(retry_after=0.5))
    assert post(http, "openai", fake).headers["retry-after"] == date
    assert "retry-after" not in post(http, "openai", fake).headers
    assert post(http, "openai", fake).headers["retry-after"] == "0.5"


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(api: str, status: int, fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.server_error(status))
    response = post(http, api, fake)
    assert response.status_code == status
    expected = {"anthropic": "api_error", "openrouter": status}.get(api, "server_error")
    assert error_type(api, response) == expected


@pytest.mark.parametrize(
    ("api", "status"), [("anthropic", 529), ("openai", 503), ("openrouter", 503)]
)
def test_overloaded(api: str, status: int, fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.overloaded())
    response = post(http, api, fake)
    assert response.status_code == status
    if api == "anthropic":
        assert response.json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}


@pytest.mark.parametrize("api", APIS)
def test_unknown_model_and_auth_faults(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.unknown_model())
    fake.faults.push(Fault.auth_error())
    assert post(http, api, fake).status_code == 404
    denied = post(http, api, fake)
    assert denied.status_code == 401
    assert fake.api_key not in denied.text


@pytest.mark.parametrize("api", APIS)
def test_disconnect_is_a_transport_error(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.disconnect())
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        post(http, api, fake)
    # the pool recovers: the next request on a fresh connection works
    assert post(http, api, fake).status_code == 200
    assert [r.fault for r in fake.requests] == [FaultKind.DISCONNECT, None]


def test_slow_first_byte_times_out_a_short_read_timeout(
    fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.slow_first_byte(2.0))
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        post(http, "openai", fake, timeout=httpx.Timeout(5.0, read=0.2))
    assert time.perf_counter() - started < 1.5


def test_slow_first_byte_then_answers(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.slow_first_byte(0.15))
    started = time.perf_counter()
    response = post(http, "anthropic", fake)
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.15


@pytest.mark.parametrize("api", CHAT_APIS)
def test_stream_cut_breaks_mid_stream(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.stream_cut(after_chunks=2))
    lines: list[str] = []
    with http.stream("POST", **request_for(api, fake, stream=True)) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            lines.extend(line for line in response.iter_lines() if line)
    assert sum(is_content_delta(line) for line in lines) == 2
    assert not any("[DONE]" in line or "message_stop" in line for line in lines)


@pytest.mark.parametrize("api", APIS)
def test_stream_cut_on_non_stream_sends_half_a_body(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.stream_cut())
    with pytest.raises(httpx.RemoteProtocolError):
        post(http, api, fake)


@pytest.mark.parametrize("api", APIS)
def test_malformed_json_body(api: str, fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.malformed_json())
    response = post(http, api, fake)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("api", CHAT_APIS)
def test_malformed_json_in_stream(api: str, fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.malformed_json())
    lines = stream_lines(http, api, fake)
    assert "data: {not json" in lines
    assert lines[-1] in ("data: [DONE]", 'data: {"type":"message_stop"}')


@pytest.mark.parametrize("api", ["openai", "openrouter"])
def test_stream_error_event_openai_format(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.stream_error_event())
    lines = stream_lines(http, api, fake)
    last = json.loads(lines[-1].removeprefix("data: "))
    assert "error" in last
    assert sum(is_content_delta(line) for line in lines[:-1]) == 2
    if api == "openrouter":
        assert last["choices"][0]["finish_reason"] == "error"


def test_stream_error_event_anthropic(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.stream_error_event())
    lines = stream_lines(http, "anthropic", fake)
    assert lines[-2:] == [
        "event: error",
        'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
    ]


@pytest.mark.parametrize("api", APIS)
def test_stream_error_event_without_stream_is_500(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.stream_error_event())
    assert post(http, api, fake).status_code == 500


def test_rule_times_and_always(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.add(Fault.server_error(503), times=2)
    assert [post(http, "openai", fake).status_code for _ in range(3)] == [503, 503, 200]
    fake.faults.add(Fault.server_error(502), times=None)
    assert [post(http, "openai", fake).status_code for _ in range(3)] == [502, 502, 502]
    assert fake.faults.clear() == 1
    assert post(http, "openai", fake).status_code == 200


def test_rule_every_nth(fake: FakeProviderServer, http: httpx.Client) -> None:
    rule = fake.faults.add(Fault.rate_limit(), every=3)
    codes = [post(http, "openai", fake).status_code for _ in range(7)]
    assert codes == [200, 200, 429, 200, 200, 429, 200]
    assert (rule.seen, rule.fired) == (7, 2)


def test_rule_matches_model_and_api(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.add(Fault.server_error(503), model="gpt-4o")
    fake.faults.add(Fault.rate_limit(), api="anthropic")
    assert post(http, "openai", fake).status_code == 200  # gpt-4o-mini is another model
    other = request_for("openai", fake)
    other["json"]["model"] = "gpt-4o"
    assert http.post(**other).status_code == 503
    assert post(http, "anthropic", fake).status_code == 429
    assert post(http, "anthropic", fake).status_code == 429
    assert post(http, "embeddings", fake).status_code == 200
    assert post(http, "openrouter", fake).status_code == 200


def test_pushed_faults_apply_in_order(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.rate_limit())
    fake.faults.push(Fault.server_error(502))
    codes = [post(http, "openai", fake).status_code for _ in range(3)]
    assert codes == [429, 502, 200]
    assert len(fake.faults) == 0


def test_faults_skip_invalid_and_unauthenticated_requests(
    fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.rate_limit())
    bad = request_for("openai", fake)
    bad["json"]["messages"] = []
    assert http.post(**bad).status_code == 400
    assert http.post(bad["url"], json=request_for("openai", fake)["json"]).status_code == 401
    assert post(http, "openai", fake).status_code == 429


def test_request_log(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.rate_limit())
    post(http, "openai", fake, headers={"X-Custom": "1"})
    post(http, "anthropic", fake)
    post(http, "embeddings", fake)

    first, second, third = fake.requests
    assert (first.api, first.path, first.model, first.fault) == (
        "openai",
        "/v1/chat/completions",
        "gpt-4o-mini",
        FaultKind.RATE_LIMIT,
    )
    assert first.headers["x-custom"] == "1"
    assert first.headers["authorization"] == "Bearer sk-...ake"
    assert first.body["messages"][0]["content"] == "Tell me something nice"
    assert second.headers["x-api-key"] == "sk-...ake"
    assert third.api == "embeddings"
    assert fake.request_count() == 3
    assert fake.request_count(api="anthropic") == 1
    assert fake.request_count(model="gpt-4o-mini") == 1
    assert fake.request_count(model="gpt-4o-mini", api="anthropic") == 0


def test_http_fault_api(fake: FakeProviderServer, http: httpx.Client) -> None:
    added = http.post(
        "/_fake/faults",
        json={"kind": "rate_limit", "retry_after": 2, "times": 1, "model": None, "api": None},
    )
    assert added.status_code == 201
    assert added.json()["rule"]["kind"] == "rate_limit"
    assert http.get("/_fake/faults").json()["faults"][0]["retry_after"] == 2
    limited = post(http, "openai", fake)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")

    http.post("/_fake/faults", json={"kind": "server_error", "status": 503, "times": None})
    assert post(http, "anthropic", fake).status_code == 503
    assert http.delete("/_fake/faults").json() == {"cleared": 1}
    assert post(http, "anthropic", fake).status_code == 200

    log = http.get("/_fake/requests").json()["requests"]
    assert [entry["fault"] for entry in log] == ["rate_limit", "server_error", None]
    assert fake.api_key not in json.dumps(log)


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "nope"},
        {"kind": "rate_limit", "status": 500},
        {"kind": "server_error", "status": 404},
        {"kind": "rate_limit", "times": 0},
        {"kind": "rate_limit", "api": "bedrock"},
        ["not", "an", "object"],
    ],
)
def test_http_fault_api_rejects_bad_rules(body: Any, http: httpx.Client) -> None:
    response = http.post("/_fake/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_http_replies_and_reset(fake: FakeProviderServer, http: httpx.Client) -> None:
    assert http.post("/_fake/replies", json={"text": "scripted"}).status_code == 201
    answer = post(http, "openrouter", fake).json()
    assert answer["choices"][0]["message"]["content"] == "scripted"
    assert http.post("/_fake/replies", json={"txt": "x"}).status_code == 400
    assert http.post("/_fake/reset").json() == {"status": "reset"}
    assert fake.requests == []
    assert http.get("/_fake/health").json() == {"status": "ok"}


def test_openrouter_stream_starts_with_processing_comment(
    fake: FakeProviderServer, http: httpx.Client
) -> None:
    lines = stream_lines(http, "openrouter", fake)
    assert lines[0] == ": OPENROUTER PROCESSING"
    usage = json.loads(lines[-2].removeprefix("data: "))
    assert usage["choices"] == []
    assert usage["usage"]["cost"] > 0
    assert lines[-1] == "data: [DONE]"


def test_unknown_path_is_json_404(http: httpx.Client) -> None:
    response = http.post("/v1/completions-nope", json={})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (POST /v1/completions-nope)"


def test_fault_values_are_validated() -> None:
    with pytest.raises(ValueError, match="5xx"):
        Fault.server_error(404)
    with pytest.raises(ValueError, match="delay"):
        Fault.slow_first_byte(-1)
    with pytest.raises(ValueError, match="after_chunks"):
        Fault.stream_cut(-1)
    with pytest.raises(ValueError, match="retry_after"):
        Fault.rate_limit(-3)
    assert Fault.stream_cut(3).describe() == {"kind": "stream_cut", "after_chunks": 3}
