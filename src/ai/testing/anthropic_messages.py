"""Anthropic Messages (`POST /v1/messages`), JSON and SSE, with prompt-cache accounting.

Usage follows the real API: `input_tokens` counts only the uncached part of the prompt;
`cache_creation_input_tokens` and `cache_read_input_tokens` are reported beside it. A
prefix up to a `cache_control` breakpoint (tools, then system, then messages, in order)
is written the first time it is seen and read every later time; see `PromptCache`.

A stream is `message_start`, `content_block_start`, `ping`, `content_block_delta`s,
`content_block_stop`, `message_delta` (stop reason and final usage), `message_stop`, each
as `event: <type>` plus `data: <json>`; the SDK routes on the `event:` line. With extended
thinking (`anthropic_thinking`) a `thinking` block comes first, at index 0: its
`thinking_delta`s, one `signature_delta`, its `content_block_stop`; the answer's block is
then index 1.

An `AnswerChange` (from the `giant_line`, `json_for_stream` and `bad_usage` faults) reshapes
the answer: a giant `text_delta` before the answer block's first delta, the JSON message
for a stream request, or `"lots"` for the token counts of `message`, `message_start` and
`message_delta`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ai.testing.anthropic_dialect import AnthropicDialect, request_id
from ai.testing.anthropic_thinking import Thinking, think, thinking_budget
from ai.testing.anthropic_validation import validate_messages_body
from ai.testing.catalogue import Api, ModelCatalogue
from ai.testing.hostile import NO_CHANGE, AnswerChange, giant_text, unreadable_usage
from ai.testing.replies import (
    Finish,
    Outcome,
    ToolSpec,
    Turn,
    compose,
    json_fragments,
    quote_tool_result,
    stream_pieces,
)
from ai.testing.state import PromptCache
from ai.testing.token_counting import count_tokens
from ai.testing.wire import JsonReply, Reply, StreamEvent, StreamReply, dumps, sse_event

DIALECT = AnthropicDialect()
_IMAGE_TOKENS = 256
_PER_MESSAGE_TOKENS = 3
_BASE_TOKENS = 4
_STOP_REASONS: dict[Finish, str] = {
    Finish.STOP: "end_turn",
    Finish.LENGTH: "max_tokens",
    Finish.TOOL: "tool_use",
    Finish.STOP_SEQUENCE: "stop_sequence",
}
_ERROR_EVENT = sse_event(
    "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
)
_MALFORMED = b"event: content_block_delta\ndata: {not json\n\n"
UNREADABLE_COUNT = "lots"
"""What the `bad_usage` fault puts where Anthropic sends token counts."""
_TOKEN_KEYS = ("input_tokens", "output_tokens")


@dataclass(frozen=True, slots=True)
class InputUsage:
    """Prompt tokens split the way Anthropic reports them."""

    input_tokens: int
    cache_creation: int = 0
    cache_read: int = 0

    @property
    def total(self) -> int:
        """All prompt tokens, cached or not (what count_tokens reports)."""
        return self.input_tokens + self.cache_creation + self.cache_read

    def as_usage(self, output_tokens: int, *, unreadable: bool = False) -> dict[str, Any]:
        """The `usage` object of a message (with `unreadable`, counts no client can read)."""
        usage = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }
        return unreadable_usage(usage, _TOKEN_KEYS, UNREADABLE_COUNT) if unreadable else usage


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A validated Messages request reduced to what the answer depends on (`thinking`: the
    thinking the answer starts with, when enabled; `turn.max_tokens` is what it leaves)."""

    model: str
    stream: bool
    turn: Turn
    usage: InputUsage
    thinking: Thinking | None = None


def _known_model(body: Any, catalogue: ModelCatalogue, *, needs_max_tokens: bool) -> str:
    if not isinstance(body, dict):
        raise DIALECT.invalid_json()
    validate_messages_body(body, needs_max_tokens=needs_max_tokens)
    model: str = body["model"]
    if not catalogue.serves(Api.ANTHROPIC, model):
        raise DIALECT.unknown_model(model)
    return model


def parse_messages(body: Any, catalogue: ModelCatalogue, cache: PromptCache) -> MessagesRequest:
    """Validate as the Messages API does (raising its `ApiError`) and account the prompt."""
    model = _known_model(body, catalogue, needs_max_tokens=True)
    turn = _turn(body, model)
    thinking = think(model, turn) if thinking_budget(body) is not None else None
    if thinking is not None:
        turn = dataclasses.replace(turn, max_tokens=body["max_tokens"] - thinking.tokens)
    return MessagesRequest(
        model=model,
        stream=bool(body.get("stream")),
        turn=turn,
        usage=account_input(body, model, cache),
        thinking=thinking,
    )


def count_message_tokens(body: Any, catalogue: ModelCatalogue) -> int:
    """`POST /v1/messages/count_tokens`: prompt tokens, cache ignored."""
    model = _known_model(body, catalogue, needs_max_tokens=False)
    return account_input(body, model, None).total


def _segments(body: Mapping[str, Any]) -> Iterator[tuple[str, object, bool]]:
    """(role or section, block, has cache_control) for every prompt block, in cache order."""
    for tool in body.get("tools") or ():
        yield "tools", tool, "cache_control" in tool
    system = body.get("system")
    if isinstance(system, str):
        yield "system", system, False
    elif isinstance(system, list):
        for block in system:
            yield "system", block, "cache_control" in block
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            yield message["role"], content, False
            continue
        for block in content:
            yield message["role"], block, "cache_control" in block


def _block_tokens(block: object) -> int:
    if isinstance(block, str):
        return count_tokens(block)
    assert isinstance(block, dict)
    kind = block.get("type")
    if kind == "text":
        return count_tokens(block.get("text", ""))
    if kind == "tool_result":
        return count_tokens(quote_tool_result(block.get("content"))) + 4
    if kind in ("image", "document"):
        return _IMAGE_TOKENS
    return count_tokens(dumps(_without_cache_control(block)).decode())


def _without_cache_control(block: object) -> object:
    """The block as it counts for the cache key: `cache_control` itself is not content."""
    if isinstance(block, dict):
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def account_input(body: Mapping[str, Any], model: str, cache: PromptCache | None) -> InputUsage:
    """Split prompt tokens into uncached, cache-written and cache-read parts."""
    segments = list(_segments(body))
    overhead = _BASE_TOKENS + _PER_MESSAGE_TOKENS * len(body["messages"])
    total = overhead
    cached = cache is not None and any(marked for _, _, marked in segments)
    hasher = hashlib.blake2b(model.encode("utf-8"), digest_size=16)
    breakpoints: list[tuple[str, int]] = []
    for section, block, marked in segments:
        total += _block_tokens(block)
        if not cached:
            continue
        plain = dumps(_without_cache_control(block))
        hasher.update(section.encode("utf-8") + b"\x00" + plain + b"\x00")
        if marked:
            breakpoints.append((hasher.hexdigest(), total - overhead))
    if cache is None or not breakpoints:
        return InputUsage(total)
    read, creation = cache.account(breakpoints)
    return InputUsage(total - read - creation, cache_creation=creation, cache_read=read)


def _turn(body: Mapping[str, Any], model: str) -> Turn:
    messages: list[dict[str, Any]] = body["messages"]
    last = messages[-1]
    blocks = last["content"] if isinstance(last["content"], list) else []
    results = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"]
    user_text = next(
        (_text_of(m["content"]) for m in reversed(messages) if m["role"] == "user"), ""
    )
    tools = tuple(
        ToolSpec(tool["name"], tool["input_schema"])
        for tool in body.get("tools") or ()
        if isinstance(tool.get("input_schema"), dict)
    )
    choice = body.get("tool_choice") or {"type": "auto"}
    return Turn(
        model=model,
        user_text=user_text,
        tool_result=quote_tool_result(results[-1].get("content")) if results else None,
        tools=tools,
        forced_tool=choice.get("name") if choice["type"] == "tool" else None,
        tools_enabled=choice["type"] != "none" and last["role"] == "user",
        max_tokens=body["max_tokens"],
        stop=tuple(body.get("stop_sequences") or ()),
    )


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _message_id() -> str:
    return "msg_01" + uuid.uuid4().hex[:22]


def _tool_use_id() -> str:
    return "toolu_01" + uuid.uuid4().hex[:22]


def build_messages_reply(
    request: MessagesRequest, pushed: str | None, change: AnswerChange = NO_CHANGE
) -> Reply:
    """The answer to `request` (`pushed` is a queued reply text, if any), reshaped by
    `change`."""
    outcome = compose(request.turn, pushed)
    thinking = request.thinking
    thought = [] if thinking is None else [thinking.block()]
    output_tokens = outcome.output_tokens + (0 if thinking is None else thinking.tokens)
    stream = request.stream and not change.as_json
    headers = {"request-id": request_id()}
    message: dict[str, Any] = {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [*thought, _answer_block(outcome)],
        "stop_reason": _STOP_REASONS[outcome.finish],
        "stop_sequence": outcome.stop_sequence,
        "usage": request.usage.as_usage(output_tokens, unreadable=change.bad_usage),
    }
    if not stream:
        if change.giant_content is not None:
            giant = {"type": "text", "text": giant_text(change.giant_content)}
            message["content"] = [*thought, giant]
        return JsonReply(message, headers)
    events = _stream_events(
        message,
        outcome,
        request.usage,
        thinking,
        unreadable=change.bad_usage,
        giant=change.giant_content,
    )
    return StreamReply(
        events=events,
        error_event=_ERROR_EVENT,
        malformed_event=_MALFORMED,
        headers=headers,
    )


def _answer_block(outcome: Outcome) -> dict[str, Any]:
    call = outcome.tool_call
    if call is not None:
        return {"type": "tool_use", "id": _tool_use_id(), "name": call.name, "input": call.input}
    return {"type": "text", "text": outcome.text}


def _event(name: str, body: dict[str, Any], *, content: bool = False) -> StreamEvent:
    return StreamEvent(sse_event(name, {"type": name, **body}), content=content)


def _delta_event(index: int, delta: dict[str, Any], *, content: bool = True) -> StreamEvent:
    """One `content_block_delta` event of block `index`."""
    return _event("content_block_delta", {"index": index, "delta": delta}, content=content)


def _opening_and_deltas(
    block: dict[str, Any], outcome: Outcome
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `content_block_start` block and the deltas that fill it."""
    if block["type"] == "tool_use":
        arguments = outcome.tool_call.arguments if outcome.tool_call else ""
        parts = json_fragments(arguments)
        return {**block, "input": {}}, [
            {"type": "input_json_delta", "partial_json": part} for part in parts
        ]
    pieces = stream_pieces(outcome.text)
    return {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces]


def _thinking_events(thinking: Thinking) -> list[StreamEvent]:
    """Block 0 of a thinking answer: start, `thinking_delta`s, the signature, stop."""
    opening = {"type": "thinking", "thinking": "", "signature": ""}
    deltas = [{"type": "thinking_delta", "thinking": p} for p in stream_pieces(thinking.text)]
    return [
        _event("content_block_start", {"index": 0, "content_block": opening}),
        *(_delta_event(0, delta) for delta in deltas),
        _delta_event(
            0, {"type": "signature_delta", "signature": thinking.signature}, content=False
        ),
        _event("content_block_stop", {"index": 0}),
    ]


def _answer_events(
    index: int, block: dict[str, Any], outcome: Outcome, giant: int | None
) -> list[StreamEvent]:
    """The answer's block: start, deltas (a giant `text_delta` first, for that fault), stop."""
    opening, deltas = _opening_and_deltas(block, outcome)
    if giant is not None:
        deltas.insert(0, {"type": "text_delta", "text": giant_text(giant)})
    return [
        _event("content_block_start", {"index": index, "content_block": opening}),
        *(_delta_event(index, delta) for delta in deltas),
        _event("content_block_stop", {"index": index}),
    ]


def _stream_events(
    message: dict[str, Any],
    outcome: Outcome,
    usage: InputUsage,
    thinking: Thinking | None,
    *,
    unreadable: bool = False,
    giant: int | None = None,
) -> list[StreamEvent]:
    """The events of a streamed `message`, in the real API's order (`unreadable` for the
    `bad_usage` fault's token counts, `giant` for the `giant_line` fault's delta)."""
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage.as_usage(1, unreadable=unreadable),
    }
    blocks = [] if thinking is None else _thinking_events(thinking)
    blocks += _answer_events(len(message["content"]) - 1, message["content"][-1], outcome, giant)
    final_usage = dict(message["usage"])
    final_usage.pop("service_tier")
    final_usage.pop("cache_creation")
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    return [
        _event("message_start", {"message": start}),
        blocks[0],
        _event("ping", {}),
        *blocks[1:],
        _event("message_delta", {"delta": delta, "usage": final_usage}),
        _event("message_stop", {}),
    ]
