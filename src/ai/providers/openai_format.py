"""The OpenAI chat-completions wire format: OpenAI, OpenRouter and OpenAI-compatible servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai.core.usage import Usage
from ai.providers.base import (
    ChatRequest,
    ChatResult,
    ErrorDetails,
    MalformedResponse,
    StreamDecoder,
    StreamErrorEvent,
    ToolCall,
    ToolCallDelta,
    WireFormat,
    embedded_http_status,
    parse_json,
)
from ai.providers.capabilities import ModelCatalog
from ai.providers.parameters import budget_effort

_PASSED_AS_IS = frozenset({"top_p", "stop", "seed", "response_format", "metadata"})


class OpenAIChatFormat(WireFormat):
    """Maps requests to `/chat/completions` and parses its JSON and SSE answers.

    `catalog` holds the capabilities of the models this host serves (OpenAI's own on
    api.openai.com; by default everything passes, as on an unknown OpenAI-compatible
    server). A router
    (`router=True`, OpenRouter) takes reasoning controls in its `reasoning` object.
    """

    name = "openai"
    chat_path = "/chat/completions"

    def __init__(self, catalog: ModelCatalog | None = None, *, router: bool = False) -> None:
        self.catalog = catalog or ModelCatalog()
        self.router = router

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "messages": list(request.messages)}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body[request.max_tokens_field] = request.max_tokens
        if request.tools:
            body["tools"] = list(request.tools)
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        if request.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(self._options(request.options))
        body.update(request.extra)
        return body

    def _options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Named parameters under OpenAI's names; reasoning as this host takes it."""
        body = {k: v for k, v in options.items() if k in _PASSED_AS_IS}
        effort, budget = options.get("reasoning_effort"), options.get("thinking_budget")
        if self.router and (effort is not None or budget is not None):
            body["reasoning"] = {"effort": effort} if effort is not None else {"max_tokens": budget}
        elif effort is not None or budget is not None:
            body["reasoning_effort"] = (
                effort if effort is not None else budget_effort(int(budget or 0))
            )
        return body

    def embedded_error_status(self, data: Any) -> int | None:
        if not isinstance(data, dict) or data.get("error") is None or "choices" in data:
            return None
        return embedded_http_status(data["error"]) or 502

    def parse_response(self, data: Any) -> ChatResult:
        if not isinstance(data, dict):
            raise MalformedResponse("the body is not a JSON object")
        if "error" in data and "choices" not in data:
            raise MalformedResponse(f"an error object in a 200 answer: {data['error']!r:.200}")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise MalformedResponse("no `choices` list")
        choice = choices[0]
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise MalformedResponse("`choices[0].message` is missing")
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise MalformedResponse("`message.content` is not a string")
        tool_calls = message.get("tool_calls") or []
        if not isinstance(tool_calls, list) or not all(isinstance(c, dict) for c in tool_calls):
            raise MalformedResponse("`message.tool_calls` is not a list of objects")
        return ChatResult(
            text=content or "",
            model=_str_or_none(data.get("model")),
            usage=parse_usage(data.get("usage")),
            finish_reason=_str_or_none(choice.get("finish_reason")),
            tool_calls=list(tool_calls),
            provider_cost=_provider_cost(data.get("usage")),
            response_id=_str_or_none(data.get("id")),
        )

    def stream_decoder(self) -> StreamDecoder:
        return _OpenAIStreamDecoder()

    def error_details(self, data: Any) -> ErrorDetails | None:
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, str):
            return ErrorDetails(message=error)
        if not isinstance(error, dict):
            return None
        code = error.get("code")
        return ErrorDetails(
            message=str(error.get("message") or error),
            code=str(code) if code is not None else None,
            type=_str_or_none(error.get("type")),
        )


def parse_usage(raw: Any) -> Usage | None:
    """OpenAI usage -> `Usage`; cached and reasoning counts are already subsets there."""
    if not isinstance(raw, dict):
        return None
    try:
        prompt = int(raw.get("prompt_tokens") or 0)
        completion = int(raw.get("completion_tokens") or 0)
        prompt_details = raw.get("prompt_tokens_details") or {}
        completion_details = raw.get("completion_tokens_details") or {}
        cached = int(prompt_details.get("cached_tokens") or 0)
        cache_write = int(prompt_details.get("cache_write_tokens") or 0)
        reasoning = int(completion_details.get("reasoning_tokens") or 0)
        return Usage(
            input_tokens=prompt,
            output_tokens=completion,
            cached_input_tokens=min(cached, prompt),
            cache_creation_tokens=min(cache_write, prompt - min(cached, prompt)),
            reasoning_tokens=min(reasoning, completion),
        )
    except (TypeError, ValueError, AttributeError, OverflowError):
        # The answer itself is good: keep it, and let the service count the tokens
        # itself (`tokens_estimated`), rather than fail a paid call over its receipt.
        return None


def _provider_cost(raw: Any) -> float | None:
    """OpenRouter reports the billed cost in `usage.cost`; it beats our own estimate."""
    if isinstance(raw, dict) and isinstance(raw.get("cost"), int | float):
        return float(raw["cost"])
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class _OpenAIStreamDecoder(StreamDecoder):
    """Accumulates `chat.completion.chunk` events; the usage chunk has `choices: []`."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[str] = []
        self._tool_calls: dict[int, ToolCall] = {}
        self._model: str | None = None
        self._usage: Usage | None = None
        self._cost: float | None = None
        self._finish: str | None = None
        self._id: str | None = None
        self._done = False

    def feed(self, event: str | None, data: str) -> str | None:
        try:
            return self._feed(data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedResponse(f"an unreadable stream event: {data[:120]!r}") from exc

    def _feed(self, data: str) -> str | None:
        if data == "[DONE]":
            self._done = True
            return None
        chunk = parse_json(data, "a stream event")
        if not isinstance(chunk, dict):
            raise MalformedResponse("a stream event is not a JSON object")
        if chunk.get("error") is not None:  # `"error": null` is no error (as non-streamed)
            raise StreamErrorEvent(chunk["error"])
        self._model = _str_or_none(chunk.get("model")) or self._model
        self._id = _str_or_none(chunk.get("id")) or self._id
        if chunk.get("usage"):
            self._usage = parse_usage(chunk["usage"])
            self._cost = _provider_cost(chunk["usage"])
        return self._apply_choices(chunk.get("choices") or [])

    def _apply_choices(self, choices: list[Any]) -> str | None:
        text: str | None = None
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._parts.append(content)
                text = (text or "") + content
            for call in delta.get("tool_calls") or []:
                self._merge_tool_call(call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return text

    def _merge_tool_call(self, fragment: dict[str, Any]) -> None:
        index = int(fragment.get("index", 0))
        call = self._tool_calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if fragment.get("id"):
            call["id"] = fragment["id"]
        function = fragment.get("function") or {}
        if function.get("name"):
            call["function"]["name"] += function["name"]
        if function.get("arguments"):
            call["function"]["arguments"] += function["arguments"]
        self._tool_delta(
            ToolCallDelta(
                index,
                _str_or_none(fragment.get("id")),
                _str_or_none(function.get("name")),
                str(function.get("arguments") or ""),
            )
        )

    def finished(self) -> bool:
        return self._done

    def result(self) -> ChatResult:
        return ChatResult(
            text="".join(self._parts),
            model=self._model,
            usage=self._usage,
            finish_reason=self._finish,
            tool_calls=[self._tool_calls[i] for i in sorted(self._tool_calls)],
            provider_cost=self._cost,
            response_id=self._id,
        )
