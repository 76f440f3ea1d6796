"""Per-model latency of the fakes: the schedule of a paced stream, the bytes and headers it
sends, the configuration in Python and over HTTP. No timing is asserted beyond one lower
bound: the schedule is checked as data, the wire as bytes and order."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ai.providers.openai_serving import sse_data
from ai.testing import FakeProviderServer, Fault, LatencyTable, ModelLatency
from ai.testing.upstream_pacing import (
    _batches,
    event_text,
    json_output_tokens,
    stream_plan,
    timed_response,
)
from ai.testing.wire import JsonReply, StreamEvent, StreamReply


@pytest.fixture
def paced(fake: FakeProviderServer) -> Iterator[FakeProviderServer]:
    """The shared fake; the latency set by the test is removed afterwards (reset keeps it)."""
    yield fake
    fake.latency.clear()


def chunk(content: str | None = None, role: str | None = None) -> bytes:
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return sse_data({"choices": [{"index": 0, "delta": delta}]})


def three_word_stream() -> StreamReply:
    events = [
        StreamEvent(chunk(role="assistant", content="")),
        StreamEvent(chunk("the "), content=True),
        StreamEvent(chunk("model "), content=True),
        StreamEvent(chunk("answer"), content=True),
        StreamEvent(sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})),
        StreamEvent(b"data: [DONE]\n\n"),
    ]
    return StreamReply(events=events, error_event=b"", malformed_event=b"", preamble=b": hi\n\n")


def test_model_latency_validates_and_computes_the_answer_time() -> None:
    latency = ModelLatency(ttft=0.5, tokens_per_second=50)
    assert latency.answer_time(100) == pytest.approx(2.5)
    assert latency.describe() == {"ttft": 0.5, "tokens_per_second": 50, "min_gap": 0.02}
    for bad in ({"ttft": -1, "tokens_per_second": 1}, {"ttft": 0, "tokens_per_second": 0}):
        with pytest.raises(ValueError, match="must be"):
            ModelLatency(**bad)
    with pytest.raises(ValueError, match="min_gap"):
        ModelLatency(0.1, 10, min_gap=float("nan"))


def test_latency_table_sets_gets_removes() -> None:
    table = LatencyTable({"gpt-4o": ModelLatency(0.45, 60)})
    table.set("gpt-4o-mini", ModelLatency(0.25, 110))
    assert table.get("gpt-4o") == ModelLatency(0.45, 60)
    assert table.get(None) is None and table.get("o3") is None
    assert table.remove("gpt-4o") and not table.remove("gpt-4o")
    assert table.describe() == {"gpt-4o-mini": ModelLatency(0.25, 110).describe()}
    assert table.clear() == 1 and len(table) == 0
    with pytest.raises(TypeError):
        table.set("x", (0.1, 10))  # type: ignore[arg-type]


def test_stream_plan_sends_the_head_at_once_then_tokens_at_the_rate() -> None:
    plan = stream_plan(three_word_stream(), ModelLatency(ttft=1.0, tokens_per_second=10))
    dues = [due for due, _ in plan]
    assert dues == pytest.approx([0.0, 0.0, 1.0, 1.1, 1.2, 1.3, 1.3])
    assert plan[0][1] == b": hi\n\n"
    assert b"".join(data for _, data in plan) == b": hi\n\n" + b"".join(
        event.data for event in three_word_stream().events
    )


def test_event_text_reads_both_wire_formats() -> None:
    anthropic = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"hello"}}\n\n'
    )
    assert event_text(anthropic) == "hello"
    assert event_text(chunk("the ")) == "the "
    assert event_text(b"data: {not json\n\n") == ""


def test_json_output_tokens_reads_either_usage() -> None:
    assert json_output_tokens(JsonReply({"usage": {"completion_tokens": 7}})) == 7
    assert json_output_tokens(JsonReply({"usage": {"output_tokens": 9}})) == 9
    assert json_output_tokens(JsonReply({"data": []})) == 0


def test_a_drawn_fault_or_no_latency_is_not_paced() -> None:
    reply = JsonReply({"usage": {"completion_tokens": 3}})
    assert timed_response(reply, None, None) is None
    assert timed_response(reply, Fault.rate_limit(), ModelLatency(1, 1)) is None
    assert timed_response(reply, None, ModelLatency(1, 1)) is not None


async def test_writes_due_within_min_gap_go_out_together() -> None:
    plan = stream_plan(three_word_stream(), ModelLatency(ttft=0.0, tokens_per_second=1e6))
    writes = list(_batches(plan, min_gap=10.0))
    assert len(writes) == 1
    assert writes[0][1] == b"".join(data for _, data in plan)
    spread = stream_plan(three_word_stream(), ModelLatency(ttft=0.0, tokens_per_second=1e-3))
    # head with the first token, the second, the third, then the closing events
    assert len(list(_batches(spread, min_gap=0.0))) == 4


def openai_body(model: str, *, stream: bool) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Tell me something nice"}],
        "stream": stream,
        "stream_options": {"include_usage": True} if stream else None,
    }


def content_of(lines: list[str]) -> tuple[str, list[str]]:
    """The streamed text and the sequence of event shapes of an OpenAI stream."""
    text, shapes = [], []
    for line in lines:
        if line == "data: [DONE]":
            shapes.append("done")
        elif line.startswith("data: "):
            event = json.loads(line.removeprefix("data: "))
            choice = (event.get("choices") or [{}])[0]
            delta = choice.get("delta", {})
            shapes.append("usage" if not event["choices"] else ",".join(sorted(delta)) or "end")
            text.append(delta.get("content") or "")
    return "".join(text), shapes


def stream_lines(http: httpx.Client, headers: dict[str, str], model: str) -> tuple[Any, list[str]]:
    body = {k: v for k, v in openai_body(model, stream=True).items() if v is not None}
    with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        return response.headers, [line for line in response.iter_lines() if line]


def test_a_paced_stream_has_the_same_headers_and_events_as_an_instant_one(
    paced: FakeProviderServer, http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    instant_headers, instant = stream_lines(http, openai_headers, "gpt-4o-mini")
    paced.latency.set("gpt-4o-mini", ModelLatency(ttft=0.01, tokens_per_second=5000))
    paced_headers, slow = stream_lines(http, openai_headers, "gpt-4o-mini")
    assert content_of(slow) == content_of(instant)
    for name in ("content-type", "cache-control", "openai-version"):
        assert paced_headers[name] == instant_headers[name]
    assert "content-length" not in paced_headers
    assert paced_headers["transfer-encoding"] == "chunked"


def test_a_paced_json_answer_is_the_normal_answer(
    paced: FakeProviderServer, http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    paced.latency.set("gpt-4o", ModelLatency(ttft=0.01, tokens_per_second=5000))
    body = {k: v for k, v in openai_body("gpt-4o", stream=False).items() if v is not None}
    response = http.post("/v1/chat/completions", json=body, headers=openai_headers)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(response.content))
    assert response.json()["choices"][0]["message"]["content"].startswith("Hello from")


def test_first_token_and_answer_wait_at_least_the_configured_time(
    paced: FakeProviderServer, http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    paced.latency.set("gpt-4o", ModelLatency(ttft=0.2, tokens_per_second=1000))
    body = {k: v for k, v in openai_body("gpt-4o", stream=True).items() if v is not None}
    started = time.perf_counter()
    with http.stream("POST", "/v1/chat/completions", json=body, headers=openai_headers) as reply:
        for line in reply.iter_lines():
            if content_of([line])[0]:
                break
        first_token = time.perf_counter() - started
    assert first_token >= 0.2
    started = time.perf_counter()
    body["stream"] = False
    body.pop("stream_options")
    http.post("/v1/chat/completions", json=body, headers=openai_headers).raise_for_status()
    assert time.perf_counter() - started >= 0.2


def test_status_faults_are_not_delayed_by_the_latency(
    paced: FakeProviderServer, http: httpx.Client, openai_headers: dict[str, str]
) -> None:
    paced.latency.set("gpt-4o", ModelLatency(ttft=30.0, tokens_per_second=1))
    paced.faults.push(Fault.server_error(503))
    body = {k: v for k, v in openai_body("gpt-4o", stream=False).items() if v is not None}
    assert http.post("/v1/chat/completions", json=body, headers=openai_headers).status_code == 503


def test_latency_over_http(paced: FakeProviderServer, http: httpx.Client) -> None:
    body = {"model": "gpt-4o", "ttft": 0.45, "tokens_per_second": 60}
    created = http.post("/_fake/latency", json=body)
    assert created.status_code == 201
    assert created.json()["latency"] == {"ttft": 0.45, "tokens_per_second": 60, "min_gap": 0.02}
    assert paced.latency.get("gpt-4o") == ModelLatency(0.45, 60)
    http.post("/_fake/reset")
    assert http.get("/_fake/latency").json()["latency"]["gpt-4o"]["ttft"] == 0.45
    assert http.delete("/_fake/latency", params={"model": "gpt-4o"}).json() == {"cleared": 1}
    assert http.get("/_fake/latency").json() == {"latency": {}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ttft": 0.1, "tokens_per_second": 5}, "model"),
        ({"model": "gpt-4o", "ttft": 0.1}, "tokens_per_second"),
        ({"model": "gpt-4o", "ttft": -1, "tokens_per_second": 5}, "ttft"),
        ({"model": "gpt-4o", "ttft": "1", "tokens_per_second": 5}, "ttft"),
        ({"model": "gpt-4o", "ttft": 1, "tokens_per_second": 5, "tps": 3}, "unknown"),
        ([1, 2], "body"),
    ],
)
def test_bad_latency_bodies_get_400(
    paced: FakeProviderServer, http: httpx.Client, body: Any, message: str
) -> None:
    response = http.post("/_fake/latency", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_server_takes_latency_at_construction() -> None:
    server = FakeProviderServer(latency={"gpt-4o": ModelLatency(0.45, 60)})
    assert server.latency.get("gpt-4o") == ModelLatency(0.45, 60)
