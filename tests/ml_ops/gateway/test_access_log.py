"""One JSON line per request on `ml_ops.gateway.access`; content only when switched on."""

from __future__ import annotations

import json
import time

import httpx
import openai

from tests.ml_ops.gateway.conftest import RunningGateway


def test_one_line_per_request_with_the_key_labels(gateway: RunningGateway) -> None:
    key, record = gateway.create_key(user="ana", team="search")
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    answer = sdk.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "secret prompt"}]
    )
    httpx.get(gateway.base_url + "/models")  # no key: logged too, with its status
    deadline = time.monotonic() + 5
    while len(gateway.access_lines) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    chat, refused = (json.loads(line) for line in gateway.access_lines)
    assert chat["request_id"] == answer.id.removeprefix("chatcmpl-")
    assert (chat["key_id"], chat["user"], chat["team"]) == (record.id, "ana", "search")
    assert (chat["model"], chat["status"], chat["outcome"]) == ("fast", 200, "success")
    assert chat["input_tokens"] > 0 and chat["output_tokens"] > 0 and chat["cost"] > 0
    assert chat["latency_ms"] > 0 and chat["stream"] is False
    assert "messages" not in chat and "secret prompt" not in gateway.access_lines[0]
    assert refused["status"] == 401 and refused["key_id"] is None
