"""What the fake answers, independent of any wire format.

Both wire formats reduce a request to a `Turn` (last user text, last tool result, tools,
limits) and turn the `Outcome` back into their own JSON or SSE. The answer is deterministic
so tests can assert on it:

* a text pushed with `server.replies.push(...)` is answered verbatim, first in first out;
* if tools are offered, not disabled, and the last message is the user's, the answer is a
  call of the forced tool (else the first one) with arguments built from its JSON schema;
* if the last message carries a tool result, the answer quotes it;
* with an OpenAI `response_format` JSON schema, the answer is an example of that schema
  (its required properties filled); in JSON mode (`json_object`) it is
  `{"reply": <the default text>}`;
* otherwise `Hello from the devora fake (<model>). You said: <first 200 chars>`.

Stop sequences cut the text before the first match; `max_tokens` truncates it and the
finish reason says so.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ai.testing.token_counting import count_tokens, truncate_to_tokens

_STREAM_PIECES = re.compile(r"\S*\s*", re.DOTALL)
_MAX_SCHEMA_DEPTH = 8


class ReplyQueue:
    """Texts the next completions answer verbatim; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._texts: deque[str] = deque()

    def push(self, text: str) -> None:
        """The next completion (of any chat API) answers exactly `text`."""
        if not isinstance(text, str):
            raise TypeError(f"a reply must be a str, got {type(text).__name__}")
        with self._lock:
            self._texts.append(text)

    def pop(self) -> str | None:
        """The oldest pushed text, or None when none is waiting."""
        with self._lock:
            return self._texts.popleft() if self._texts else None

    def clear(self) -> None:
        """Drop every pushed text."""
        with self._lock:
            self._texts.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._texts)


class Finish(StrEnum):
    """Why generation stopped, before each wire format names it its own way."""

    STOP = "stop"
    LENGTH = "length"
    TOOL = "tool"
    STOP_SEQUENCE = "stop_sequence"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the caller offered: its name and JSON schema for the arguments."""

    name: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Turn:
    """Everything about a request that decides the answer."""

    model: str
    user_text: str
    tool_result: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    forced_tool: str | None = None
    tools_enabled: bool = True
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    json_schema: Mapping[str, Any] | None = None
    json_object: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the fake decided to make; `arguments` is compact JSON of `input`."""

    name: str
    input: dict[str, Any]
    arguments: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer: text or a tool call, why it ended, and its output token count."""

    text: str
    tool_call: ToolCall | None
    finish: Finish
    output_tokens: int
    stop_sequence: str | None = None


def default_text(model: str, user_text: str) -> str:
    """The deterministic answer when nothing more specific applies."""
    return f"Hello from the devora fake ({model}). You said: {user_text[:200]}"


def compose(turn: Turn, pushed: str | None) -> Outcome:
    """Decide the answer for `turn`; `pushed` is a queued reply text, which wins."""
    if pushed is None and turn.tool_result is None and turn.tools and turn.tools_enabled:
        tool = _pick_tool(turn)
        if tool is not None:
            arguments = example_from_schema(tool.schema)
            if not isinstance(arguments, dict):
                arguments = {}
            text = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
            call = ToolCall(name=tool.name, input=arguments, arguments=text)
            tokens = count_tokens(tool.name) + count_tokens(text) + 8
            return Outcome(text="", tool_call=call, finish=Finish.TOOL, output_tokens=tokens)
    return _finish_text(turn, _text_for(turn, pushed))


def _pick_tool(turn: Turn) -> ToolSpec | None:
    if turn.forced_tool is None:
        return turn.tools[0]
    return next((tool for tool in turn.tools if tool.name == turn.forced_tool), None)


def _text_for(turn: Turn, pushed: str | None) -> str:
    if pushed is not None:
        return pushed
    if turn.tool_result is not None:
        return f"The tool returned: {turn.tool_result}"
    if turn.json_schema is not None:
        return json.dumps(example_from_schema(turn.json_schema), ensure_ascii=False)
    text = default_text(turn.model, turn.user_text)
    if turn.json_object:
        return json.dumps({"reply": text}, ensure_ascii=False)
    return text


def _finish_text(turn: Turn, text: str) -> Outcome:
    finish = Finish.STOP
    matched: str | None = None
    cut = len(text)
    for stop in turn.stop:
        position = text.find(stop) if stop else -1
        if 0 <= position < cut:
            cut, matched = position, stop
    if matched is not None:
        text, finish = text[:cut], Finish.STOP_SEQUENCE
    tokens = count_tokens(text)
    if turn.max_tokens is not None and tokens > turn.max_tokens:
        text = truncate_to_tokens(text, turn.max_tokens)
        tokens, finish, matched = turn.max_tokens, Finish.LENGTH, None
    return Outcome(
        text=text, tool_call=None, finish=finish, output_tokens=tokens, stop_sequence=matched
    )


def example_from_schema(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A value valid for simple JSON schemas: required properties filled, strings "example",
    numbers 1, booleans true, arrays with one item, enums their first value; `$ref`s into
    `$defs`/`definitions` are followed (pydantic schemas use them)."""
    return _example(schema, schema if root is None else root, 0)


def _example(schema: object, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(schema, Mapping) or depth > _MAX_SCHEMA_DEPTH:
        return "example"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _example(_resolve(ref, root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            usable = [
                o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")
            ]
            return _example((usable or options)[0], root, depth + 1)
    return _example_of_type(schema, _schema_type(schema), root, depth)


def _schema_type(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), "null")
    if isinstance(declared, str):
        return declared
    return "object" if "properties" in schema else "string"


def _example_of_type(
    schema: Mapping[str, Any], kind: str, root: Mapping[str, Any], depth: int
) -> Any:
    if kind == "object":
        properties = schema.get("properties")
        required = schema.get("required")
        if not isinstance(properties, Mapping) or not isinstance(required, list):
            return {}
        return {
            name: _example(properties.get(name), root, depth + 1)
            for name in required
            if isinstance(name, str)
        }
    if kind == "array":
        items = schema.get("items")
        return [_example(items, root, depth + 1)] if isinstance(items, Mapping) else []
    scalars: dict[str, Any] = {"number": 1, "integer": 1, "boolean": True, "null": None}
    return scalars.get(kind, "example")


def _resolve(ref: str, root: Mapping[str, Any]) -> object:
    if not ref.startswith("#/"):
        return None
    node: object = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part.replace("~1", "/").replace("~0", "~"))
    return node


def stream_pieces(text: str) -> list[str]:
    """Split `text` into word-sized deltas whose concatenation is exactly `text`."""
    return [piece for piece in _STREAM_PIECES.findall(text) if piece]


def json_fragments(arguments: str, parts: int = 3) -> list[str]:
    """Split tool-call argument JSON into a few fragments, as providers stream them."""
    if not arguments:
        return []
    size = max(1, -(-len(arguments) // parts))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def quote_tool_result(content: object) -> str:
    """Text of a tool result in either wire format (string, or list of text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        texts = [
            block.get("text", "")
            for block in content
            if isinstance(block, Mapping) and isinstance(block.get("text"), str)
        ]
        return " ".join(texts)
    return "" if content is None else json.dumps(content, ensure_ascii=False)
