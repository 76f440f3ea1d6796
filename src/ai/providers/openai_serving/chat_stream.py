"""A chat answer streamed as OpenAI's `chat.completion.chunk` server-sent events.

The order clients (and the official SDK's stream accumulator) rely on, per choice:

1. a role delta: `{"role": "assistant", "content": ""}`, or for an answer that starts
   with a tool call `{"role": "assistant", "content": null, "tool_calls": [<opening>]}`,
   the opening carrying the call's id and name and empty arguments;
2. content deltas, or tool-call argument fragments (`{"tool_calls": [{"index", "function":
   {"arguments": <fragment>}}]}`), each further tool call opened by its own chunk;
3. a finish chunk: an empty delta and the `finish_reason`.

With `stream_options.include_usage` every one of those chunks carries `"usage": null`, and
after the last choice one more chunk has `"choices": []` and the usage. `data: [DONE]`
ends the stream.

`ChatChunkEncoder` builds the chunks one at a time, for servers that relay a stream as it
arrives; `render_chat_stream` renders a finished answer in one go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai.providers.openai_serving.chat_response import (
    ChoiceOutput,
    CompletionMeta,
    FinishReason,
    ToolCallOutput,
)
from ai.providers.openai_serving.framing import SSE_DONE, sse_data

Splitter = Callable[[str], Sequence[str]]
"""Cuts a text (or arguments JSON) into the deltas to stream; their concatenation must be
the whole text."""


def whole(text: str) -> list[str]:
    """The default `Splitter`: one delta with the whole text, none for an empty one."""
    return [text] if text else []


class ChatChunkEncoder:
    """Builds the `chat.completion.chunk` objects of one streamed answer.

    Each method returns the chunk as a dict; frame it with `sse_data` (and end the stream
    with `SSE_DONE`). `include_usage` is the request's `stream_options.include_usage`: it
    adds `"usage": null` to every chunk but the usage chunk.
    """

    def __init__(self, meta: CompletionMeta, *, include_usage: bool = False) -> None:
        self.meta = meta
        self.include_usage = include_usage
        self._frame: dict[str, Any] = {
            **meta.head("chat.completion.chunk"),
            "service_tier": meta.service_tier,
            "system_fingerprint": meta.system_fingerprint,
        }

    @property
    def frame(self) -> dict[str, Any]:
        """The fields every chunk starts with (a fresh copy): id, object, created, model..."""
        return dict(self._frame)

    def chunk(
        self, delta: Mapping[str, Any], *, index: int = 0, finish_reason: FinishReason | None = None
    ) -> dict[str, Any]:
        """A chunk with one choice carrying `delta` (and `finish_reason`, if it ends)."""
        finish = None if finish_reason is None else finish_reason.value
        choice: dict[str, Any] = {
            "index": index,
            "delta": dict(delta),
            "logprobs": None,
            "finish_reason": finish,
        }
        if self.meta.native_finish_reason:
            choice["native_finish_reason"] = finish
        body = {**self._frame, "choices": [choice]}
        if self.include_usage:
            body["usage"] = None
        return body

    def role(self, *, index: int = 0, tool_call: ToolCallOutput | None = None) -> dict[str, Any]:
        """The first chunk of a choice; with `tool_call`, it also opens that call."""
        if tool_call is None:
            return self.chunk({"role": "assistant", "content": "", "refusal": None}, index=index)
        delta = {
            "role": "assistant",
            "content": None,
            "tool_calls": [_opening(0, tool_call)],
            "refusal": None,
        }
        return self.chunk(delta, index=index)

    def content(self, text: str, *, index: int = 0) -> dict[str, Any]:
        """A content delta."""
        return self.chunk({"content": text}, index=index)

    def tool_call(self, call: ToolCallOutput, *, call_index: int, index: int = 0) -> dict[str, Any]:
        """Opens tool call number `call_index` of a choice (id, name, empty arguments)."""
        return self.chunk({"tool_calls": [_opening(call_index, call)]}, index=index)

    def tool_arguments(
        self, fragment: str, *, call_index: int = 0, index: int = 0
    ) -> dict[str, Any]:
        """A fragment of tool call `call_index`'s arguments JSON."""
        delta = {"tool_calls": [{"index": call_index, "function": {"arguments": fragment}}]}
        return self.chunk(delta, index=index)

    def finish(self, reason: FinishReason, *, index: int = 0) -> dict[str, Any]:
        """The last chunk of a choice: an empty delta and why it ended."""
        return self.chunk({}, index=index, finish_reason=reason)

    def usage(self, usage: Mapping[str, Any]) -> dict[str, Any]:
        """The usage chunk, sent after every choice finished: `"choices": []` and the usage."""
        return {**self._frame, "choices": [], "usage": dict(usage)}


def _opening(call_index: int, call: ToolCallOutput) -> dict[str, Any]:
    return {
        "index": call_index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One framed SSE event; `output` marks those that carry generated text or arguments
    (what a transport may count, pace or, in a fault test, cut after)."""

    data: bytes
    output: bool = False


def render_chat_stream(
    meta: CompletionMeta,
    choices: Sequence[ChoiceOutput],
    usage: Mapping[str, Any] | None,
    *,
    include_usage: bool = False,
    always_send_usage: bool = False,
    split_text: Splitter = whole,
    split_arguments: Splitter = whole,
) -> list[StreamChunk]:
    """The whole SSE stream of a finished answer, `data: [DONE]` included.

    The usage chunk is sent when `include_usage` (or `always_send_usage`, for hosts that
    always report it) and `usage` is given. `split_text` and `split_arguments` decide how
    text and arguments are cut into deltas (one delta each by default).
    """
    encoder = ChatChunkEncoder(meta, include_usage=include_usage)
    chunks: list[StreamChunk] = []
    for index, choice in enumerate(choices):
        chunks.extend(_choice_chunks(encoder, index, choice, split_text, split_arguments))
    if usage is not None and (include_usage or always_send_usage):
        chunks.append(StreamChunk(sse_data(encoder.usage(usage))))
    chunks.append(StreamChunk(SSE_DONE))
    return chunks


def _choice_chunks(
    encoder: ChatChunkEncoder,
    index: int,
    choice: ChoiceOutput,
    split_text: Splitter,
    split_arguments: Splitter,
) -> list[StreamChunk]:
    """Role delta, content or argument deltas, finish: the chunks of one choice."""

    def framed(chunk: dict[str, Any], *, output: bool = False) -> StreamChunk:
        return StreamChunk(sse_data(chunk), output)

    calls = choice.tool_calls
    opens_with_call = bool(calls) and not choice.content
    first = encoder.role(index=index, tool_call=calls[0] if opens_with_call else None)
    chunks = [framed(first)]
    for piece in split_text(choice.content or ""):
        chunks.append(framed(encoder.content(piece, index=index), output=True))
    for call_index, call in enumerate(calls):
        if call_index > 0 or not opens_with_call:
            chunks.append(framed(encoder.tool_call(call, call_index=call_index, index=index)))
        for part in split_arguments(call.arguments):
            fragment = encoder.tool_arguments(part, call_index=call_index, index=index)
            chunks.append(framed(fragment, output=True))
    chunks.append(framed(encoder.finish(choice.finish_reason, index=index)))
    return chunks
