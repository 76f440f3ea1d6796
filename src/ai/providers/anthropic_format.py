"""The Anthropic Messages wire format, converted from and to the OpenAI shapes we expose.

Anthropic has no `response_format`; it is translated (see `_respond_as_json`):
`json_object` becomes an instruction in the system prompt; `json_schema` becomes one tool,
`RESPONSE_TOOL`, whose `input_schema` is the schema, forced with `tool_choice`, and whose
input comes back as the message's text (JSON), finish reason `stop`, as OpenAI returns a
structured answer. Where a tool cannot be forced (the request has tools of its own,
extended thinking is on, or the schema's root is not an object), the schema goes into the
system prompt instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ai.core.usage import Usage
from ai.providers.base import (
    ChatRequest,
    ChatResult,
    ErrorDetails,
    MalformedResponse,
    Message,
    StreamDecoder,
    StreamErrorEvent,
    ToolCall,
    ToolCallDelta,
    WireFormat,
    parse_json,
)
from ai.providers.capabilities import ANTHROPIC_MODELS, ModelCatalog

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
RESPONSE_TOOL = "devora_structured_output"
"""The tool that carries a `json_schema` answer; its input is returned as the text."""
_JSON_ONLY = (
    "Respond with one valid JSON object and nothing else: no prose, no Markdown code fences."
)

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
}


class AnthropicMessagesFormat(WireFormat):
    """Maps requests to `/v1/messages`; system prompts and tool results move where
    Anthropic wants them, and its usage (cache tokens beside input) is normalised."""

    name = "anthropic"
    chat_path = "/v1/messages"

    def __init__(self, catalog: ModelCatalog = ANTHROPIC_MODELS) -> None:
        self.catalog = catalog

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        system, messages = convert_messages(request.messages)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        }
        if system is not None:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [convert_tool(tool) for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = convert_tool_choice(request.tool_choice)
        if request.stream:
            body["stream"] = True
        body.update(_options(request.options))
        response_format = request.options.get("response_format")
        if isinstance(response_format, Mapping):
            _respond_as_json(body, response_format)
        extra = dict(request.extra)
        if "stop" in extra:
            stop = extra.pop("stop")
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        body.update(extra)
        return body

    def parse_response(self, data: Any) -> ChatResult:
        if not isinstance(data, dict):
            raise MalformedResponse("the body is not a JSON object")
        if data.get("type") == "error":
            raise MalformedResponse(f"an error object in a 200 answer: {data.get('error')!r:.200}")
        content = data.get("content")
        if not isinstance(content, list):
            raise MalformedResponse("no `content` list")
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCall] = []
        structured = False
        for block in content:
            if not isinstance(block, dict):
                raise MalformedResponse("a content block is not an object")
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "thinking":
                thoughts.append(str(block.get("thinking", "")))
            elif block.get("type") == "tool_use" and block.get("name") == RESPONSE_TOOL:
                texts.append(json.dumps(block.get("input"), ensure_ascii=False))
                structured = True
            elif block.get("type") == "tool_use":
                calls.append(_tool_call(block.get("id"), block.get("name"), block.get("input")))
        return ChatResult(
            text="".join(texts),
            reasoning_text="".join(thoughts),
            model=data.get("model") if isinstance(data.get("model"), str) else None,
            usage=parse_usage(data.get("usage")),
            finish_reason=_finish_reason(data.get("stop_reason"), structured and not calls),
            tool_calls=calls,
            response_id=data.get("id") if isinstance(data.get("id"), str) else None,
        )

    def stream_decoder(self) -> StreamDecoder:
        return _AnthropicStreamDecoder()

    def error_details(self, data: Any) -> ErrorDetails | None:
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            return None
        return ErrorDetails(
            message=str(error.get("message") or error),
            type=error.get("type") if isinstance(error.get("type"), str) else None,
        )


def convert_messages(
    messages: Sequence[Message],
) -> tuple[str | list[Any] | None, list[dict[str, Any]]]:
    """OpenAI-style messages -> (Anthropic `system`, Anthropic `messages`)."""
    system_parts: list[Any] = []
    converted: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system_parts.extend(content if isinstance(content, list) else [content])
        elif role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": content if content is not None else "",
            }
            if converted and converted[-1]["role"] == "user" and _is_tool_results(converted[-1]):
                converted[-1]["content"].append(block)
            else:
                converted.append({"role": "user", "content": [block]})
        elif role == "assistant" and message.get("tool_calls"):
            converted.append({"role": "assistant", "content": _assistant_blocks(message)})
        else:
            converted.append({"role": role, "content": _convert_content(content)})
    return _join_system(system_parts), converted


def _join_system(parts: list[Any]) -> str | list[Any] | None:
    if not parts:
        return None
    if all(isinstance(part, str) for part in parts):
        return "\n\n".join(parts)
    return [{"type": "text", "text": part} if isinstance(part, str) else part for part in parts]


def _is_tool_results(message: dict[str, Any]) -> bool:
    content = message["content"]
    return isinstance(content, list) and all(b.get("type") == "tool_result" for b in content)


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.get("content"):
        blocks.append({"type": "text", "text": message["content"]})
    for call in message["tool_calls"]:
        function = call.get("function", {})
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = {"_raw": function.get("arguments")}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": arguments,
            }
        )
    return blocks


def _convert_content(content: Any) -> Any:
    """Text stays text; OpenAI `image_url` parts become Anthropic image blocks."""
    if not isinstance(content, list):
        return content
    blocks: list[Any] = []
    for part in content:
        if isinstance(part, Mapping) and part.get("type") == "image_url":
            url = part.get("image_url", {}).get("url", "")
            blocks.append({"type": "image", "source": _image_source(url)})
        else:
            blocks.append(part)
    return blocks


def _image_source(url: str) -> dict[str, str]:
    if url.startswith("data:") and ";base64," in url:
        header, data = url[5:].split(";base64,", 1)
        return {"type": "base64", "media_type": header, "data": data}
    return {"type": "url", "url": url}


def convert_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI function tool -> Anthropic tool; tools already in Anthropic shape pass through."""
    if "input_schema" in tool or tool.get("type", "function") != "function":
        return dict(tool)
    function = tool.get("function", {})
    converted = {
        "name": function.get("name"),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        converted["description"] = function["description"]
    return converted


def convert_tool_choice(choice: str | Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI `tool_choice` -> Anthropic `tool_choice`."""
    if isinstance(choice, str):
        return {"type": {"auto": "auto", "required": "any", "none": "none"}.get(choice, choice)}
    if choice.get("type") == "function":
        return {"type": "tool", "name": choice.get("function", {}).get("name")}
    return dict(choice)


def _options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Named parameters the Anthropic way. `seed` has no Anthropic field:
    `ai.providers.parameters.fit_request` has removed it (or refused the call);
    `response_format` is translated by `_respond_as_json`."""
    body: dict[str, Any] = {}
    if options.get("top_p") is not None:
        body["top_p"] = options["top_p"]
    stop = options.get("stop")
    if stop is not None:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    metadata = options.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("user_id") is not None:
        body["metadata"] = {"user_id": str(metadata["user_id"])}  # the one key it takes
    budget = options.get("thinking_budget")
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": int(budget)}
    return body


def _respond_as_json(body: dict[str, Any], response_format: Mapping[str, Any]) -> None:
    """`response_format` the Anthropic way (see the module docstring)."""
    kind = response_format.get("type")
    if kind == "json_object":
        _add_system(body, _JSON_ONLY)
        return
    spec = response_format.get("json_schema")
    if kind != "json_schema" or not isinstance(spec, Mapping):
        return
    schema = spec.get("schema")
    schema = schema if isinstance(schema, Mapping) else {"type": "object"}
    forced = "tools" not in body and "thinking" not in body and schema.get("type") == "object"
    if not forced:
        _add_system(body, f"{_JSON_ONLY} It must conform to this JSON Schema: {json.dumps(schema)}")
        return
    description = spec.get("description") or "The answer, as a JSON object."
    body["tools"] = [{"name": RESPONSE_TOOL, "description": description, "input_schema": schema}]
    body["tool_choice"] = {"type": "tool", "name": RESPONSE_TOOL}


def _add_system(body: dict[str, Any], text: str) -> None:
    system = body.get("system")
    if system is None:
        body["system"] = text
    elif isinstance(system, str):
        body["system"] = f"{system}\n\n{text}"
    else:
        body["system"] = [*system, {"type": "text", "text": text}]


def _finish_reason(stop_reason: Any, structured: bool) -> str | None:
    """OpenAI's finish reason; an answer given through `RESPONSE_TOOL` alone (`structured`)
    ends with `stop`, as OpenAI's structured answers do."""
    if stop_reason == "tool_use" and structured:
        return "stop"
    return _FINISH_REASONS.get(str(stop_reason))


def parse_usage(raw: Any) -> Usage | None:
    """Anthropic reports cache reads and writes beside `input_tokens`; fold them in."""
    if not isinstance(raw, dict):
        return None
    try:
        uncached = int(raw.get("input_tokens") or 0)
        created = int(raw.get("cache_creation_input_tokens") or 0)
        read = int(raw.get("cache_read_input_tokens") or 0)
        return Usage(
            input_tokens=uncached + created + read,
            output_tokens=int(raw.get("output_tokens") or 0),
            cached_input_tokens=read,
            cache_creation_tokens=created,
        )
    except (TypeError, ValueError, AttributeError, OverflowError):
        # The answer itself is good: keep it, and let the service count the tokens
        # itself (`tokens_estimated`), rather than fail a paid call over its receipt.
        return None


def _tool_call(call_id: Any, name: Any, arguments: Any) -> ToolCall:
    encoded = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": encoded}}


class _AnthropicStreamDecoder(StreamDecoder):
    """Follows message_start / content_block_* / message_delta / message_stop."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[str] = []
        self._thoughts: list[str] = []
        self._blocks: dict[int, dict[str, Any]] = {}
        self._model: str | None = None
        self._id: str | None = None
        self._start_usage: dict[str, Any] = {}
        self._output_tokens: Any = None  # as sent; parse_usage judges it
        self._stop_reason: str | None = None
        self._done = False

    def feed(self, event: str | None, data: str) -> str | None:
        try:
            return self._feed(event, data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedResponse(f"an unreadable stream event: {data[:120]!r}") from exc

    def _feed(self, event: str | None, data: str) -> str | None:
        payload = parse_json(data, "a stream event")
        if not isinstance(payload, dict):
            raise MalformedResponse("a stream event is not a JSON object")
        kind = event or payload.get("type")
        if kind == "error":
            raise StreamErrorEvent(payload.get("error", payload))
        if kind == "message_start":
            message = payload.get("message") or {}
            self._model = message.get("model")
            self._id = message.get("id")
            self._start_usage = dict(message.get("usage") or {})
        elif kind == "content_block_start":
            index = int(payload.get("index", 0))
            block = self._blocks[index] = dict(payload.get("content_block") or {})
            if block.get("type") == "tool_use" and block.get("name") == RESPONSE_TOOL:
                block["type"] = "answer"  # its input is the text (a JSON answer)
            elif block.get("type") == "tool_use":
                self._tool_delta(
                    ToolCallDelta(index, str(block.get("id")), str(block.get("name")), "")
                )
        elif kind == "content_block_delta":
            return self._apply_delta(int(payload.get("index", 0)), payload.get("delta") or {})
        elif kind == "message_delta":
            self._stop_reason = (payload.get("delta") or {}).get("stop_reason") or self._stop_reason
            usage = payload.get("usage") or {}
            if not isinstance(usage, dict):  # unreadable: the service counts tokens itself
                usage = {"output_tokens": "unreadable"}
            if usage.get("output_tokens") is not None:
                self._output_tokens = usage["output_tokens"]
            self._start_usage.update({k: v for k, v in usage.items() if k != "output_tokens"})
        elif kind == "message_stop":
            self._done = True
        return None

    def _apply_delta(self, index: int, delta: dict[str, Any]) -> str | None:
        if delta.get("type") == "text_delta":
            text = str(delta.get("text", ""))
            self._parts.append(text)
            return text or None
        if delta.get("type") == "thinking_delta":
            self._thoughts.append(str(delta.get("thinking", "")))
        elif delta.get("type") == "input_json_delta":
            block = self._blocks.setdefault(index, {"type": "tool_use"})
            fragment = str(delta.get("partial_json", ""))
            if block.get("type") == "answer":
                self._parts.append(fragment)
                return fragment or None
            block.setdefault("_json", []).append(fragment)
            self._tool_delta(ToolCallDelta(index, None, None, fragment))
        return None

    def finished(self) -> bool:
        return self._done

    def _usage_raw(self) -> dict[str, Any]:
        usage_raw = dict(self._start_usage)
        if self._output_tokens is not None:
            usage_raw["output_tokens"] = self._output_tokens
        return usage_raw

    def result(self) -> ChatResult:
        usage_raw = self._usage_raw()
        calls = [
            _tool_call(block.get("id"), block.get("name"), "".join(block.get("_json", [])) or "{}")
            for _, block in sorted(self._blocks.items())
            if block.get("type") == "tool_use"
        ]
        structured = any(block.get("type") == "answer" for block in self._blocks.values())
        return ChatResult(
            text="".join(self._parts),
            reasoning_text="".join(self._thoughts),
            model=self._model,
            usage=parse_usage(usage_raw) if usage_raw else None,
            finish_reason=_finish_reason(self._stop_reason, structured and not calls),
            tool_calls=calls,
            response_id=self._id,
        )
