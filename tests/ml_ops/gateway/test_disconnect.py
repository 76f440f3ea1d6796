"""A client that hangs up mid-stream cancels the upstream request; the record says
"cancelled" and carries the cost of what had arrived."""

from __future__ import annotations

import json
import socket
import time

import httpx

from ai.core.records import Outcome
from ai.testing import Fault
from tests.ml_ops.gateway.conftest import RunningGateway


def test_disconnect_mid_stream_cancels_and_records_partial_cost(
    gateway: RunningGateway, fake
) -> None:
    key, record = gateway.create_key(user="ana", team="search")
    # One content delta, then only keep-alive comments, forever (until someone hangs up).
    fake.faults.push(Fault.keepalive(0.05, after_chunks=1))
    body = {
        "model": "fast",
        "messages": [{"role": "user", "content": "tell me more"}],
        "stream": True,
    }
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST",
            gateway.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        ) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["choices"][0]["delta"].get(
                "content"
            ):
                break  # got text: hang up
    (cancelled,) = gateway.wait_for_records(1)
    assert cancelled.outcome is Outcome.CANCELLED
    assert cancelled.streamed and cancelled.user == "ana"
    assert cancelled.tags["key_id"] == record.id
    assert cancelled.output_tokens > 0
    assert cancelled.estimated_cost is not None and cancelled.estimated_cost > 0
    deadline = time.monotonic() + 5
    while not any('"cancelled"' in line for line in gateway.access_lines):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def hang_up_once_the_upstream_is_called(
    gateway: RunningGateway, fake, key: str, body: dict[str, object]
) -> None:
    """POST `body` over a raw socket and close it, no header read, once the fake has the
    upstream request."""
    raw = json.dumps(body).encode()
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as client:
        client.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n".encode()
            + f"Content-Length: {len(raw)}\r\n\r\n".encode()
            + raw
        )
        deadline = time.monotonic() + 10
        while not fake.requests:  # the upstream call is open
            assert time.monotonic() < deadline
            time.sleep(0.01)


def wait_for_a_499(gateway: RunningGateway) -> None:
    deadline = time.monotonic() + 5
    while not any('"status":499' in line for line in gateway.access_lines):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_disconnect_before_the_first_token_cancels_at_once(gateway: RunningGateway, fake) -> None:
    key, _ = gateway.create_key(user="ana")
    # The upstream answers 200 and then only keep-alive comments: no first token, ever.
    fake.faults.push(Fault.keepalive(0.05, after_chunks=0))
    body = {"model": "fast", "messages": [{"role": "user", "content": "wait"}], "stream": True}
    hang_up_once_the_upstream_is_called(gateway, fake, key, body)
    # Hung up with no header sent: the one record says cancelled well before any deadline
    # (the alias's timeout is LLMConfig's default, 120 s).
    (cancelled,) = gateway.wait_for_records(1, timeout=10)
    assert cancelled.outcome is Outcome.CANCELLED
    assert cancelled.streamed and cancelled.user == "ana"
    wait_for_a_499(gateway)
    assert gateway.wait_for_records(2, timeout=0.2) == [cancelled]


def test_disconnect_while_a_json_answer_is_pending_cancels_the_call(
    gateway: RunningGateway, fake
) -> None:
    key, _ = gateway.create_key(user="ben")
    fake.faults.push(Fault.slow_first_byte(60.0))  # the upstream thinks for a minute
    body = {"model": "fast", "messages": [{"role": "user", "content": "think hard"}]}
    hang_up_once_the_upstream_is_called(gateway, fake, key, body)
    # Not streamed, no header sent: the call is cancelled, not left to run for a minute.
    (cancelled,) = gateway.wait_for_records(1, timeout=10)
    assert cancelled.outcome is Outcome.CANCELLED
    assert not cancelled.streamed and cancelled.user == "ben"
    wait_for_a_499(gateway)
    assert gateway.wait_for_records(2, timeout=0.2) == [cancelled]
