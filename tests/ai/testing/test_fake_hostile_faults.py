"""The hostile-upstream faults as raw httpx sees them: exact bytes, pieces and timing.

Each fault is checked on the OpenAI, OpenRouter and Anthropic chat endpoints (and
embeddings where it applies), streamed and not. Endless answers (`keepalive`) are checked
to stop when the client hangs up and when the server stops, without leaving tasks behind
or logging errors.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ai.testing import FakeProviderServer, Fault, FaultKind
from ai.testing.faults import MIN_HUGE_ERROR_SIZE, fault_rule_from_json
from ai.testing.pinecone_state import PineconeFaults
from tests.ai.testing.test_fake_faults import APIS, CHAT_APIS, request_for

STREAMED = [(api, stream) for api in CHAT_APIS for stream in (False, True)]
COMMENT = ": OPENROUTER PROCESSING"


def sse_lines(body: bytes) -> list[str]:
    """The non-empty lines of an SSE body."""
    return [line for line in body.decode().split("\n") if line]


def events(lines: list[str]) -> list[dict[str, Any]]:
    """The JSON values of the `data:` lines (not `[DONE]`)."""
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def streamed_text(lines: list[str]) -> str:
    """The generated text of an OpenAI or Anthropic stream, deltas concatenated."""
    text = ""
    for event in events(lines):
        if event.get("type") == "content_block_delta":
            text += event["delta"].get("text", "")
        elif event.get("choices"):
            text += event["choices"][0]["delta"].get("content") or ""
    return text


def answer_text(api: str, body: dict[str, Any]) -> str:
    """The text of a non-stream chat answer."""
    if api == "anthropic":
        return str(body["content"][0]["text"])
    return str(body["choices"][0]["message"]["content"])


def read_pieces(
    http: httpx.Client, request: dict[str, Any]
) -> tuple[httpx.Response, list[bytes], float]:
    """The response, its body as the pieces that arrived, and the seconds it all took."""
    started = time.perf_counter()
    with http.stream("POST", **request) as response:
        pieces = list(response.iter_raw())
    return response, pieces, time.perf_counter() - started


def last_fault(fake: FakeProviderServer) -> FaultKind | None:
    return fake.requests[-1].fault


# -- trickle ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "stream"), [*STREAMED, ("embeddings", False)])
def test_trickle_sends_the_normal_answer_in_timed_pieces(
    api: str, stream: bool, fake: FakeProviderServer, http: httpx.Client
) -> None:
    size = 2048 if api == "embeddings" else 256 if stream else 64  # about 10-30 pieces
    interval = 0.01
    fake.faults.push(Fault.trickle(interval, chunk_bytes=size))
    response, pieces, elapsed = read_pieces(http, request_for(api, fake, stream=stream))
    body = b"".join(pieces)
    expected_pieces = math.ceil(len(body) / size)
    assert response.status_code == 200
    assert expected_pieces >= 3
    assert elapsed >= (expected_pieces - 1) * interval * 0.9
    assert max(len(piece) for piece in pieces) <= size or not stream
    if stream:  # chunked: every piece is its own chunk, so the client sees each one
        assert len(pieces) == expected_pieces
        assert response.headers["content-type"].startswith("text/event-stream")
        assert streamed_text(sse_lines(body)).startswith("Hello from the devora fake")
    else:
        assert int(response.headers["content-length"]) == len(body)
        assert len(pieces) > 1
        parsed = json.loads(body)
        assert api == "embeddings" or answer_text(api, parsed).startswith("Hello from")
    assert last_fault(fake) is FaultKind.TRICKLE


def test_trickle_passes_a_read_timeout_longer_than_its_interval(
    fake: FakeProviderServer,
) -> None:
    """Every read succeeds: only a total deadline can catch a trickle."""
    fake.faults.push(Fault.trickle(0.02, chunk_bytes=64))
    timeout = httpx.Timeout(5.0, read=0.2)
    with httpx.Client(base_url=fake.base_url, timeout=timeout) as client:
        started = time.perf_counter()
        response = client.post(**request_for("openai", fake))
    assert response.status_code == 200
    assert time.perf_counter() - started > 0.2
    assert answer_text("openai", response.json()).startswith("Hello from")


# -- keepalive --------------------------------------------------------------------------------


def read_until_comments(stream_lines: Iterator[str], count: int) -> list[str]:
    """Lines of a stream until `count` comment lines followed the last data line.

    Pass `response.iter_lines()` kept in a variable while the connection must stay open:
    once httpx's line iterator is dropped, httpcore closes the connection.
    """
    lines: list[str] = []
    trailing = 0
    for line in stream_lines:
        if not line:
            continue
        lines.append(line)
        seen_data = any(seen.startswith("data:") for seen in lines)
        trailing = trailing + 1 if line == COMMENT and seen_data else 0
        if trailing == count:
            break
    return lines


@pytest.mark.parametrize("api", CHAT_APIS)
@pytest.mark.parametrize("after_chunks", [0, 2])
def test_keepalive_stream_sends_only_comments_after_the_first_chunks(
    api: str, after_chunks: int, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.keepalive(0.01, after_chunks=after_chunks))
    with http.stream("POST", **request_for(api, fake, stream=True)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = read_until_comments(response.iter_lines(), 5)
    last_data = max(i for i, line in enumerate(lines) if not line.startswith(":"))
    assert lines[last_data + 1 :] == [COMMENT] * 5
    assert len([line for line in lines if streamed_text([line])]) == after_chunks
    assert "data: [DONE]" not in lines and "event: message_stop" not in lines
    assert last_fault(fake) is FaultKind.KEEPALIVE


@pytest.mark.parametrize("api", APIS)
def test_keepalive_json_sends_only_spaces(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.keepalive(0.01))
    received = b""
    with http.stream("POST", **request_for(api, fake)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert "content-length" not in response.headers
        for piece in response.iter_raw():
            received += piece
            if len(received) >= 5:
                break
    assert set(received) == {ord(" ")}


class Records(logging.Handler):
    """Collects the log records of the server thread (uvicorn's loggers do not propagate
    to the root logger, so pytest's caplog would not see them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def own_server() -> Iterator[tuple[FakeProviderServer, Records]]:
    """A server of its own (these tests stop it) and the warnings it logs."""
    records = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "asyncio")]
    with FakeProviderServer() as server:
        for logger in loggers:
            logger.addHandler(records)
        try:
            yield server, records
        finally:
            for logger in loggers:
                logger.removeHandler(records)


def running_requests(server: FakeProviderServer) -> int:
    """Requests uvicorn is still running (its own task registry)."""
    assert server._server is not None
    return len(server._server.server_state.tasks)


def test_keepalive_stops_when_the_client_hangs_up(
    own_server: tuple[FakeProviderServer, Records],
) -> None:
    server, records = own_server
    server.faults.push(Fault.keepalive(0.01))
    request = request_for("openai", server, stream=True)
    with (
        httpx.Client(base_url=server.base_url, timeout=5.0) as client,
        client.stream("POST", **request) as response,
    ):
        stream_lines = response.iter_lines()
        read_until_comments(stream_lines, 3)
        assert running_requests(server) == 1
    deadline = time.monotonic() + 2.0
    while running_requests(server) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert running_requests(server) == 0
    server.stop()  # returns: nothing is left running (a hang would hit the test timeout)
    assert records.records == []


def test_keepalive_ends_when_the_server_stops(
    own_server: tuple[FakeProviderServer, Records],
) -> None:
    server, records = own_server
    server.faults.push(Fault.keepalive(0.01))
    with (
        httpx.Client(base_url=server.base_url, timeout=5.0) as client,
        client.stream("POST", **request_for("anthropic", server)) as response,
    ):
        pieces = response.iter_raw()
        assert next(pieces) == b" "
        server.stop()  # returns: the pacing loop saw the shutdown
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in pieces:
                pass
    assert records.records == []


# -- giant_line -------------------------------------------------------------------------------


@pytest.mark.parametrize("api", CHAT_APIS)
def test_giant_line_stream_adds_one_huge_delta_after_the_role_chunk(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    size = 50_000
    fake.faults.push(Fault.giant_line(size))
    with http.stream("POST", **request_for(api, fake, stream=True)) as response:
        lines = [line for line in response.iter_lines() if line]
    data = [line for line in lines if line.startswith("data:")]
    giant = max(data, key=len)
    assert streamed_text([giant]) == "x" * size
    first_delta = 3 if api == "anthropic" else 1  # after message_start, block start, ping
    assert data.index(giant) == first_delta
    assert streamed_text(data).removeprefix("x" * size).startswith("Hello from the devora")
    assert data[-1] in ("data: [DONE]", 'data: {"type":"message_stop"}')
    assert last_fault(fake) is FaultKind.GIANT_LINE


@pytest.mark.parametrize("api", CHAT_APIS)
def test_giant_line_json_has_content_of_that_size(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.giant_line(12_345))
    response = http.post(**request_for(api, fake))
    assert response.status_code == 200
    assert answer_text(api, response.json()) == "x" * 12_345


def test_giant_line_of_20_mb_is_delivered_whole(
    fake: FakeProviderServer, http: httpx.Client
) -> None:
    size = 20_000_000
    fake.faults.push(Fault.giant_line(size))
    with http.stream("POST", **request_for("openai", fake, stream=True)) as response:
        body = response.read()
    giant = max(body.split(b"\n"), key=len)
    assert len(json.loads(giant[6:])["choices"][0]["delta"]["content"]) == size


# -- deep_json --------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("status", [200, 500])
def test_deep_json_body_defeats_a_recursive_parser(
    api: str, status: int, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.deep_json(100_000, status=status))
    response = http.post(**request_for(api, fake))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert len(response.content) == 200_000
    with pytest.raises(RecursionError):
        json.loads(response.content)
    assert last_fault(fake) is FaultKind.DEEP_JSON


@pytest.mark.parametrize("api", CHAT_APIS)
def test_deep_json_stream_is_one_data_event(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.deep_json(100_000))
    fake.faults.push(Fault.deep_json(100_000, status=503))
    with http.stream("POST", **request_for(api, fake, stream=True)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert len(lines) == 1 and lines[0].startswith("data: [[[")
    with pytest.raises(RecursionError):
        json.loads(lines[0][6:])
    failed = http.post(**request_for(api, fake, stream=True))
    assert failed.status_code == 503
    assert failed.headers["content-type"] == "application/json"


# -- echo_key ---------------------------------------------------------------------------------


def anthropic_with_bearer(fake: FakeProviderServer) -> dict[str, Any]:
    request = request_for("anthropic", fake)
    request["headers"] = {"authorization": f"Bearer {fake.api_key}", "anthropic-version": "1"}
    return request


@pytest.mark.parametrize("api", [*APIS, "anthropic-bearer"])
@pytest.mark.parametrize("stream", [False, True])
def test_echo_key_quotes_the_key_in_the_error_but_not_in_the_log(
    api: str, stream: bool, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.echo_key())
    if api == "anthropic-bearer":
        request = anthropic_with_bearer(fake)
    else:
        request = request_for(api, fake, stream=stream and api != "embeddings")
    response = http.post(**request)
    assert response.status_code == 401
    body = response.json()
    assert f"Incorrect API key provided: {fake.api_key}" in body["error"]["message"]
    if api.startswith("anthropic"):
        assert body["type"] == "error"
        assert body["error"]["type"] == "authentication_error"
    recorded = fake.requests[-1]
    assert recorded.fault is FaultKind.ECHO_KEY
    assert fake.api_key not in json.dumps(recorded.describe())
    assert fake.api_key not in http.get("/_fake/requests").text


def test_echo_key_with_another_status(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.echo_key(status=500))
    response = http.post(**request_for("openrouter", fake))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == 500
    assert fake.api_key in response.json()["error"]["message"]


# -- huge_error -------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("size", [MIN_HUGE_ERROR_SIZE, 1_000_000])
def test_huge_error_is_exactly_that_many_bytes_of_provider_json(
    api: str, size: int, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.huge_error(size, status=503))
    response = http.post(**request_for(api, fake, stream=api != "embeddings"))
    assert response.status_code == 503
    assert len(response.content) == size == int(response.headers["content-length"])
    body = response.json()
    error = body["error"]
    assert isinstance(error["message"], str)
    if api == "anthropic":
        assert (body["type"], error["type"]) == ("error", "api_error")
    elif api == "openrouter":
        assert error["code"] == 503
    else:
        assert error["type"] == "server_error"
    assert last_fault(fake) is FaultKind.HUGE_ERROR


# -- error_in_200 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "stream"),
    [("openai", False), ("openai", True), ("openrouter", True), ("embeddings", False)],
)
def test_error_in_200(api: str, stream: bool, fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.error_in_200(code=503))
    response = http.post(**request_for(api, fake, stream=stream))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": {"message": "Provider returned error", "code": 503}}
    assert last_fault(fake) is FaultKind.ERROR_IN_200


def test_error_in_200_is_not_drawn_by_anthropic(
    fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.error_in_200())
    assert http.post(**request_for("anthropic", fake)).json()["type"] == "message"
    assert fake.requests[-1].fault is None
    assert http.post(**request_for("openai", fake)).json()["error"]["code"] == 502
    with pytest.raises(ValueError, match="does not apply"):
        fake.faults.add(Fault.error_in_200(), api="anthropic")
    bad = http.post("/_fake/faults", json={"kind": "error_in_200", "api": "anthropic"})
    assert bad.status_code == 400


# -- json_for_stream --------------------------------------------------------------------------


@pytest.mark.parametrize("api", CHAT_APIS)
def test_json_for_stream_answers_a_stream_request_with_json(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.json_for_stream())
    plain = http.post(**request_for(api, fake))  # not a stream request: not drawn
    assert fake.requests[-1].fault is None
    response = http.post(**request_for(api, fake, stream=True))
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body.get("object", body.get("type")) in ("chat.completion", "message")
    assert answer_text(api, body) == answer_text(api, plain.json())
    assert last_fault(fake) is FaultKind.JSON_FOR_STREAM


# -- bad_usage --------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_bad_usage_json(api: str, fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.bad_usage())
    body = http.post(**request_for(api, fake)).json()
    usage = body["usage"]
    if api == "anthropic":
        assert (usage["input_tokens"], usage["output_tokens"]) == ("lots", "lots")
        assert answer_text(api, body).startswith("Hello from")
    else:
        assert (usage["prompt_tokens"], usage["total_tokens"]) == ("many", "many")
    assert last_fault(fake) is FaultKind.BAD_USAGE


@pytest.mark.parametrize("api", ["openai", "openrouter"])
def test_bad_usage_openai_stream_sends_the_usage_chunk_anyway(
    api: str, fake: FakeProviderServer, http: httpx.Client
) -> None:
    fake.faults.push(Fault.bad_usage())
    with http.stream("POST", **request_for(api, fake, stream=True)) as response:
        lines = [line for line in response.iter_lines() if line]
    usage_chunk = events(lines)[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == "many"
    assert usage_chunk["usage"]["completion_tokens"] == "many"
    assert lines[-1] == "data: [DONE]"


def test_bad_usage_anthropic_stream(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.bad_usage())
    with http.stream("POST", **request_for("anthropic", fake, stream=True)) as response:
        parsed = events([line for line in response.iter_lines() if line])
    start = next(e for e in parsed if e["type"] == "message_start")
    delta = next(e for e in parsed if e["type"] == "message_delta")
    assert start["message"]["usage"]["input_tokens"] == "lots"
    assert delta["usage"]["output_tokens"] == "lots"
    assert parsed[-1] == {"type": "message_stop"}


def test_bad_usage_on_count_tokens(fake: FakeProviderServer, http: httpx.Client) -> None:
    fake.faults.push(Fault.bad_usage())
    request = request_for("anthropic", fake)
    request["url"] = "/v1/messages/count_tokens"
    assert http.post(**request).json() == {"input_tokens": "lots"}


# -- parameters, JSON and validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fault"),
    [
        ({"kind": "trickle", "interval": 0.2}, Fault.trickle(0.2)),
        ({"kind": "trickle", "interval": 1, "chunk_bytes": 16}, Fault.trickle(1, 16)),
        ({"kind": "keepalive", "interval": 0.5}, Fault.keepalive(0.5)),
        ({"kind": "keepalive", "interval": 0.5, "after_chunks": 3}, Fault.keepalive(0.5, 3)),
        ({"kind": "giant_line", "size": 1000}, Fault.giant_line(1000)),
        ({"kind": "deep_json", "depth": 10}, Fault.deep_json(10)),
        ({"kind": "deep_json", "depth": 10, "status": 500}, Fault.deep_json(10, 500)),
        ({"kind": "echo_key"}, Fault.echo_key()),
        ({"kind": "echo_key", "status": 403}, Fault.echo_key(403)),
        ({"kind": "huge_error", "size": 4096}, Fault.huge_error(4096)),
        ({"kind": "huge_error", "size": 4096, "status": 429}, Fault.huge_error(4096, 429)),
        ({"kind": "error_in_200"}, Fault.error_in_200()),
        ({"kind": "error_in_200", "code": 429}, Fault.error_in_200(429)),
        ({"kind": "json_for_stream"}, Fault.json_for_stream()),
        ({"kind": "bad_usage"}, Fault.bad_usage()),
    ],
)
def test_json_faults_match_the_named_constructors(
    body: dict[str, Any], fault: Fault, http: httpx.Client
) -> None:
    assert fault_rule_from_json(body).fault == fault
    added = http.post("/_fake/faults", json=body)
    assert added.status_code == 201
    described = added.json()["rule"]
    assert {key: described[key] for key in fault.describe()} == fault.describe()


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "trickle"},
        {"kind": "trickle", "interval": "fast"},
        {"kind": "trickle", "interval": 0.1, "chunk_bytes": 0},
        {"kind": "trickle", "interval": 0.1, "chunk_bytes": True},
        {"kind": "keepalive", "interval": 0},
        {"kind": "keepalive", "interval": 0.1, "after_chunks": -1},
        {"kind": "giant_line", "size": 0},
        {"kind": "giant_line", "size": 1.5},
        {"kind": "deep_json", "depth": 0},
        {"kind": "deep_json", "depth": 5, "status": 100},
        {"kind": "echo_key", "status": 200},
        {"kind": "huge_error", "size": 10},
        {"kind": "error_in_200", "code": 200},
        {"kind": "json_for_stream", "api": "embeddings"},
        {"kind": "bad_usage", "size": 3},
    ],
)
def test_http_fault_api_rejects_bad_hostile_faults(body: Any, http: httpx.Client) -> None:
    response = http.post("/_fake/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_hostile_fault_values_are_validated() -> None:
    with pytest.raises(ValueError, match="interval"):
        Fault.trickle(0)
    with pytest.raises(ValueError, match="interval"):
        Fault.keepalive(float("inf"))
    with pytest.raises(ValueError, match="chunk_bytes"):
        Fault.trickle(0.1, chunk_bytes=0)
    with pytest.raises(ValueError, match="size"):
        Fault.giant_line(0)
    with pytest.raises(ValueError, match="size"):
        Fault.huge_error(MIN_HUGE_ERROR_SIZE - 1)
    with pytest.raises(ValueError, match="depth"):
        Fault.deep_json(0)
    with pytest.raises(ValueError, match="status"):
        Fault.echo_key(status=200)
    with pytest.raises(ValueError, match="code"):
        Fault.error_in_200(code=200)
    assert Fault.trickle(0.2).describe() == {"kind": "trickle", "interval": 0.2, "chunk_bytes": 1}


def test_pinecone_fake_refuses_the_hostile_faults() -> None:
    with pytest.raises(ValueError, match="does not apply"):
        PineconeFaults().push(Fault.trickle(0.1))
