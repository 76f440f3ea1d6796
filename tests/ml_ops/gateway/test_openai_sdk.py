"""The official `openai` SDK (sync and async, streaming, tools) and curl against the
gateway, in front of the loopback fake; OpenAI and Anthropic upstreams."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import openai
import pytest

from ai.core.records import Outcome
from tests.ml_ops.gateway.conftest import RunningGateway

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_sync_sdk_chat_completion(gateway: RunningGateway) -> None:
    key, record = gateway.create_key(user="ana", team="search")
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "Hello there"}], seed=7
    )
    assert "Hello from the devora fake" in (answer.choices[0].message.content or "")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens > 0
    assert answer.model == "fast"
    (logged,) = gateway.wait_for_records(1)
    assert logged.success and logged.user == "ana"
    assert logged.tags == {"key_id": record.id, "team": "search"}
    assert answer.id == "chatcmpl-" + logged.request_id


async def test_async_sdk_streams_with_usage(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    stream = await client.chat.completions.create(
        model="fast",
        messages=[{"role": "user", "content": "Stream to me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Stream to me" in text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    await client.close()


def test_tool_calls_json_and_streamed(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    answer = client.chat.completions.create(
        model="fast", messages=messages, tools=[WEATHER_TOOL], tool_choice="required"
    )
    (call,) = answer.choices[0].message.tool_calls or []
    assert call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)
    assert answer.choices[0].finish_reason == "tool_calls"
    with client.chat.completions.stream(
        model="fast", messages=messages, tools=[WEATHER_TOOL], tool_choice="required"
    ) as stream:
        final = stream.get_final_completion()
    (streamed,) = final.choices[0].message.tool_calls or []
    assert streamed.function.name == "get_weather"
    assert json.loads(streamed.function.arguments) == json.loads(call.function.arguments)


def test_response_format_and_stop_reach_the_upstream(gateway: RunningGateway, fake) -> None:
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model="fast",
        messages=[{"role": "user", "content": "Answer in json please"}],
        response_format={"type": "json_object"},
        stop=["zzz"],
        seed=3,
    )
    assert json.loads(answer.choices[0].message.content or "")
    body = fake.requests[-1].body
    assert body["response_format"] == {"type": "json_object"}
    assert body["stop"] == ["zzz"] and body["seed"] == 3


def test_n_above_one_is_refused_like_openai(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "hi"}], n=2
        )
    assert caught.value.body["param"] == "n"  # type: ignore[index]


def test_anthropic_upstream_through_the_openai_endpoint(gateway: RunningGateway, fake) -> None:
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model="claude",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello Claude"},
        ],
    )
    assert "Hello Claude" in (answer.choices[0].message.content or "")
    assert fake.requests[-1].path.endswith("/v1/messages")
    stream = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "Stream please"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "Stream please" in text
    calls = client.chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": "Weather in Rome?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    assert (calls.choices[0].message.tool_calls or [])[0].function.name == "get_weather"


def test_embeddings_and_models(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    result = client.embeddings.create(model="embed", input=["one text", "another"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 1536
    short = client.embeddings.create(model="embed", input="short", dimensions=256)
    assert len(short.data[0].embedding) == 256
    assert abs(sum(v * v for v in short.data[0].embedding) - 1) < 1e-4
    ids = {model.id for model in client.models.list()}
    assert {"fast", "claude", "embed", "gpt-4o-mini"} <= ids
    assert client.models.retrieve("fast").owned_by == "openai"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")
    records = gateway.wait_for_records(2)
    assert records[0].operation == "embedding" and records[0].user == "ana"


def test_raw_curl(gateway: RunningGateway) -> None:
    key, _ = gateway.create_key()
    body = json.dumps({"model": "fast", "messages": [{"role": "user", "content": "curl"}]})
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-i",
            gateway.base_url + "/chat/completions",
            "-H",
            f"Authorization: Bearer {key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    head, _, payload = out.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200")
    assert "x-request-id" in head.lower()
    assert json.loads(payload)["object"] == "chat.completion"
    streamed = subprocess.run(
        [
            "curl",
            "-s",
            "-N",
            gateway.base_url + "/chat/completions",
            "-H",
            f"Authorization: Bearer {key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps({**json.loads(body), "stream": True}),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert streamed.endswith("data: [DONE]\n\n")
    assert gateway.wait_for_records(2)[-1].outcome is Outcome.SUCCESS


def test_upstream_failure_maps_to_openai_status(gateway: RunningGateway, fake) -> None:
    from ai.testing import Fault

    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    fake.faults.add(Fault.server_error(503), times=2)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code in (502, 503)
    fake.faults.clear()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fast", messages=[{"role": "system"}])  # type: ignore[misc,list-item]


def test_fallback_and_extra_guards_apply(serve_gateway, fake) -> None:
    from ai.core.guards import PassThroughGuard
    from ai.testing import Fault

    seen: list[str] = []

    class Spy(PassThroughGuard):
        name = "spy"

        async def before(self, call):  # type: ignore[no-untyped-def]
            seen.append(call.model)
            return None

    gateway: RunningGateway = serve_gateway(guards=[Spy()])
    key, _ = gateway.create_key()
    fake.faults.add(Fault.unknown_model(), model="gpt-4o-mini", times=1)
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "x"}]
    )
    assert "gpt-4o" in (answer.choices[0].message.content or "")
    (record,) = gateway.wait_for_records(1)
    assert record.fallback_used and record.model == "gpt-4o"
    assert seen == ["gpt-4o-mini"]


@pytest.mark.parametrize(
    ("scope", "cached"),
    [
        (None, [False, True, True, True]),  # shared by every key
        ("team", [False, True, False, False]),  # red's keys share; blue and a teamless key not
        ("key", [False, False, False, False]),
    ],
)
def test_cache_scope_decides_who_shares_cached_answers(
    serve_gateway: Callable[..., RunningGateway], scope: str | None, cached: list[bool]
) -> None:
    gateway = serve_gateway(**({"cache": {"scope": scope}} if scope else {}))
    keys = [
        gateway.create_key(user="ana", team="red")[0],
        gateway.create_key(user="ben", team="red")[0],
        gateway.create_key(user="cy", team="blue")[0],
        gateway.create_key(user="dee")[0],
    ]
    messages = [{"role": "user", "content": "our quarterly numbers"}]
    for key in keys:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
        client.chat.completions.create(model="fast", messages=messages, temperature=0)
    assert [r.cached for r in gateway.wait_for_records(4)] == cached


def test_response_cache_and_no_cache(gateway: RunningGateway, fake) -> None:
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": "cache me"}]
    first = client.chat.completions.create(model="fast", messages=messages, temperature=0)
    again = client.chat.completions.create(model="fast", messages=messages, temperature=0)
    fresh = client.chat.completions.create(
        model="fast", messages=messages, temperature=0, extra_headers={"Cache-Control": "no-cache"}
    )
    assert first.choices[0].message.content == again.choices[0].message.content
    assert [r.cached for r in gateway.wait_for_records(3)] == [False, True, False]
    assert fake.request_count(model="gpt-4o-mini") == 2
    assert fresh.usage is not None and fresh.usage.total_tokens > 0


ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema_is_translated_for_anthropic(
    gateway: RunningGateway, fake, stream: bool
) -> None:
    """Anthropic has no response_format: the schema becomes a forced tool whose input is
    the answer's JSON text, as OpenAI answers a json_schema request."""
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "trip", "schema": ANSWER_SCHEMA},
    }
    messages = [{"role": "user", "content": "Plan a trip, answer in JSON"}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                model="claude", messages=messages, response_format=response_format, stream=True
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        answer = client.chat.completions.create(
            model="claude", messages=messages, response_format=response_format
        )
        text, finish = answer.choices[0].message.content or "", answer.choices[0].finish_reason
        assert answer.choices[0].message.tool_calls is None
    data = json.loads(text)
    assert set(data) >= {"city", "days"} and isinstance(data["days"], int)
    assert finish == "stop"
    sent = fake.requests[-1].body
    assert "response_format" not in sent
    (tool,) = sent["tools"]
    assert tool["input_schema"] == ANSWER_SCHEMA
    assert sent["tool_choice"] == {"type": "tool", "name": tool["name"]}


def test_json_object_and_schema_with_tools_become_instructions_for_anthropic(
    gateway: RunningGateway, fake
) -> None:
    key, _ = gateway.create_key()
    client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Answer in JSON"},
    ]
    client.chat.completions.create(
        model="claude", messages=messages, response_format={"type": "json_object"}
    )
    sent = fake.requests[-1].body
    assert sent["system"].startswith("Be brief.\n\n") and "JSON object" in sent["system"]
    assert "response_format" not in sent and "tools" not in sent
    client.chat.completions.create(
        model="claude",
        messages=messages,
        tools=[WEATHER_TOOL],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "t", "schema": ANSWER_SCHEMA},
        },
    )
    sent = fake.requests[-1].body
    assert [tool["name"] for tool in sent["tools"]] == ["get_weather"]  # the client's own
    assert json.dumps(ANSWER_SCHEMA) in sent["system"]
