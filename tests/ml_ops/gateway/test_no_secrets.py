"""No key, virtual or upstream, ever appears in logs, records or responses."""

from __future__ import annotations

import dataclasses
import json
import logging

import httpx
import openai
import pytest

from tests.ai.provider_configs import TEST_KEY
from tests.ml_ops.gateway.conftest import RunningGateway


def test_no_key_in_logs_records_or_responses(
    serve_gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway: RunningGateway = serve_gateway(log_content=True)
    key, record = gateway.create_key(user="ana", rpm=100)
    sdk = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    texts: list[str] = []
    # The key itself in the prompt: content logging is on, and must still mask it.
    answer = sdk.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": f"my key is {key}"}]
    )
    # The fake echoes the prompt, so the answer's text holds the key the user sent: that is
    # the model's output, relayed as is. Its envelope and headers must not.
    reply = answer.parse()
    assert key in (reply.choices[0].message.content or "")
    reply.choices[0].message.content = ""
    texts.append(reply.model_dump_json() + json.dumps(dict(answer.http_response.headers)))
    for headers in ({"Authorization": f"Bearer {key}x"}, {}):
        texts.append(httpx.get(gateway.base_url + "/models", headers=headers).text)
    admin = httpx.get(gateway.url + "/admin/keys", headers={"X-Admin-Key": gateway.admin_key})
    texts.append(admin.text)
    records = gateway.wait_for_records(1)
    texts.extend(json.dumps(dataclasses.asdict(r), default=str) for r in records)
    texts.extend(gateway.access_lines)
    # Our side's logs (the SDK's own debug log shows what the client sent, by design).
    ours = ("ml_ops", "ai", "uvicorn", "starlette")
    texts.extend(r.getMessage() for r in caplog.records if r.name.startswith(ours))
    everything = "\n".join(texts)
    assert record.id in everything  # the id is what identifies a key
    assert key not in everything
    assert key[7:20] not in everything  # not even a recognisable part of it
    assert TEST_KEY not in everything
    assert record.digest not in everything
    assert any('"messages"' in line for line in gateway.access_lines)
