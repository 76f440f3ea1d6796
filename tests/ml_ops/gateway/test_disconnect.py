"""A client that hangs up mid-stream cancels the upstream request; the record says
"cancelled" and carries the cost of what had arrived."""

from __future__ import annotations

import json
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
