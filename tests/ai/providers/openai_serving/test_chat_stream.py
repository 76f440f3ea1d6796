"""`chat.completion.chunk` streams: accepted chunk by chunk by the SDK's types, accumulated
by its stream state into the same answer, and read by its client."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from ai.providers.openai_serving import (
    SSE_DONE,
    ChatChunkEncoder,
    ChoiceOutput,
    CompletionMeta,
    FinishReason,
    StreamChunk,
    ToolCallOutput,
    render_chat_stream,
    sse_data,
    usage_object,
)
from tests.ai.providers.openai_serving.sdk_answers import sdk_client, sse_answer

META = CompletionMeta(id="chatcmpl-abc", model="gpt-4o-mini", created=1_700_000_000)
CALL = ToolCallOutput(id="call_1", name="get_weather", arguments='{"city":"Oslo","days":3}')
USAGE = usage_object(10, 4)


def words(text: str) -> list[str]:
    """Cut after each space, as a model streams roughly word by word."""
    pieces = text.split(" ")
    return [piece + " " for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


def thirds(text: str) -> list[str]:
    size = max(1, -(-len(text) // 3))
    return [text[i : i + size] for i in range(0, len(text), size)]


def payloads(chunks: list[StreamChunk]) -> list[dict[str, Any]]:
    """The JSON of every event but `[DONE]`, checking each is one well-framed `data:` line."""
    assert chunks[-1].data == SSE_DONE
    bodies = []
    for chunk in chunks[:-1]:
        assert chunk.data.startswith(b"data: ")
        assert chunk.data.endswith(b"\n\n")
        assert b"\n" not in chunk.data[:-2]
        bodies.append(json.loads(chunk.data[len(b"data: ") :]))
    return bodies


def accumulate(bodies: list[dict[str, Any]]) -> Any:
    """What the SDK's own stream accumulator makes of the chunks (its snapshot: the final
    completion refuses `length` finishes)."""
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for body in bodies:
        state.handle_chunk(ChatCompletionChunk.model_validate(body))
    return state.current_completion_snapshot


def test_include_usage_ends_with_the_usage_chunk_then_done() -> None:
    choice = ChoiceOutput("Hello there friend", FinishReason.STOP)
    chunks = render_chat_stream(META, [choice], USAGE, include_usage=True, split_text=words)
    bodies = payloads(chunks)
    *deltas, last = bodies
    assert last["choices"] == []
    assert last["usage"] == USAGE
    assert all("usage" in body and body["usage"] is None for body in deltas)
    assert deltas[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert deltas[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert [c.output for c in chunks] == [False, True, True, True, False, False, False]
    parsed = [ChatCompletionChunk.model_validate(body) for body in bodies]
    assert parsed[-1].usage is not None
    assert parsed[-1].usage.completion_tokens == 4
    final = accumulate(bodies)
    assert final.choices[0].message.content == "Hello there friend"
    assert final.usage.total_tokens == 14


def test_without_include_usage_there_is_no_usage_at_all() -> None:
    chunks = render_chat_stream(META, [ChoiceOutput("Hi", FinishReason.STOP)], USAGE)
    bodies = payloads(chunks)
    assert len(bodies) == 3
    assert all("usage" not in body for body in bodies)
    assert all(body["object"] == "chat.completion.chunk" for body in bodies)


def test_hosts_that_always_report_usage_send_it_without_null_usage_before() -> None:
    chunks = render_chat_stream(
        META, [ChoiceOutput("Hi", FinishReason.STOP)], USAGE, always_send_usage=True
    )
    *deltas, last = payloads(chunks)
    assert last["usage"] == USAGE
    assert all("usage" not in body for body in deltas)


def test_a_tool_call_streams_as_argument_fragments() -> None:
    choice = ChoiceOutput(None, FinishReason.TOOL_CALLS, (CALL,))
    chunks = render_chat_stream(META, [choice], USAGE, split_arguments=thirds)
    bodies = payloads(chunks)
    opening = bodies[0]["choices"][0]["delta"]
    assert opening["content"] is None
    assert opening["tool_calls"] == [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
    ]
    fragments = [b["choices"][0]["delta"]["tool_calls"][0]["function"] for b in bodies[1:-1]]
    assert "".join(f["arguments"] for f in fragments) == CALL.arguments
    assert len(fragments) == 3
    final = accumulate(bodies)
    call = final.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "get_weather",
        CALL.arguments,
    )
    assert final.choices[0].finish_reason == "tool_calls"


def test_text_then_several_tool_calls_and_several_choices() -> None:
    second = ToolCallOutput(id="call_2", name="get_time", arguments="{}")
    choices = [
        ChoiceOutput("Let me check.", FinishReason.TOOL_CALLS, (CALL, second)),
        ChoiceOutput("Other answer", FinishReason.LENGTH),
    ]
    bodies = payloads(render_chat_stream(META, choices, USAGE, include_usage=True))
    final = accumulate(bodies)
    first, other = final.choices
    assert first.message.content == "Let me check."
    assert [(c.id, c.function.name, c.function.arguments) for c in first.message.tool_calls] == [
        ("call_1", "get_weather", CALL.arguments),
        ("call_2", "get_time", "{}"),
    ]
    assert other.message.content == "Other answer"
    assert other.finish_reason == "length"


def test_the_encoder_builds_a_stream_one_chunk_at_a_time() -> None:
    encoder = ChatChunkEncoder(META, include_usage=True)
    events = [
        sse_data(encoder.role()),
        sse_data(encoder.content("Hel")),
        sse_data(encoder.content("lo")),
        sse_data(encoder.finish(FinishReason.STOP)),
        sse_data(encoder.usage(USAGE)),
        SSE_DONE,
    ]
    assert list(encoder.frame) == [
        "id",
        "object",
        "created",
        "model",
        "service_tier",
        "system_fingerprint",
    ]
    with sdk_client(sse_answer(events)) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        received = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert text == "Hello"
    assert received[-1].choices == []
    assert received[-1].usage is not None
    assert received[-1].usage.total_tokens == 14


def test_host_extensions_reach_every_chunk() -> None:
    meta = CompletionMeta(
        id="gen-1", model="openai/gpt-4o", created=1, provider="OpenAI", native_finish_reason=True
    )
    bodies = payloads(render_chat_stream(meta, [ChoiceOutput("x", FinishReason.STOP)], None))
    assert all(body["provider"] == "OpenAI" for body in bodies)
    assert all("native_finish_reason" in body["choices"][0] for body in bodies)
    assert bodies[-1]["choices"][0]["native_finish_reason"] == "stop"


@given(st.text(max_size=60), st.booleans())
def test_any_text_streams_back_to_itself(text: str, include_usage: bool) -> None:
    chunks = render_chat_stream(
        META,
        [ChoiceOutput(text, FinishReason.STOP)],
        USAGE,
        include_usage=include_usage,
        split_text=words,
    )
    final = accumulate(payloads(chunks))
    assert (final.choices[0].message.content or "") == text
    assert (final.usage is not None) == include_usage
