"""What every wire format provides, and the shapes passed between it and `LLMService`.

A wire format (OpenAI chat completions, Anthropic Messages) only maps our request to the
provider's JSON and parses the provider's answers; transport, retries and accounting are
done once, in the service. A `ProviderSpec` says who hosts a wire format: its name, base
URL, key variable and auth headers.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ai.core.usage import Usage
from ai.errors import (
    AuthenticationError,
    ContextLengthError,
    ModelNotFoundError,
    OverloadedError,
    ProviderError,
    RateLimitError,
)
from ai.providers.capabilities import ModelCatalog

Message = Mapping[str, Any]
ToolCall = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat call as the service sees it, independent of any wire format.

    `messages`, `tools` and `tool_choice` use the OpenAI shapes, the lingua franca that
    every wire format converts from. `options` holds the other named parameters (`top_p`,
    `stop`, `seed`, `response_format`, `metadata`, `reasoning_effort`, `thinking_budget`;
    see `ai.providers.parameters`), which each wire format translates; `extra` is sent
    verbatim. `max_tokens_field` is the body field the output limit goes under.
    """

    model: str
    messages: Sequence[Message]
    temperature: float | None
    max_tokens: int | None
    stream: bool = False
    tools: Sequence[Mapping[str, Any]] | None = None
    tool_choice: str | Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    max_tokens_field: str = "max_tokens"


@dataclass(slots=True)
class ChatResult:
    """A finished answer: text, tool calls, usage as reported, and the provider's own cost.

    `reasoning_text` is what the model showed of its reasoning (Anthropic's thinking
    blocks), kept out of `text`; its tokens count as reasoning tokens when the provider
    reports no such split."""

    text: str
    model: str | None
    usage: Usage | None
    finish_reason: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    provider_cost: float | None = None
    response_id: str | None = None
    reasoning_text: str = ""


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call as it streams in: the first piece of a call carries its `id`
    and `name`; later pieces add to its `arguments` (a JSON text, in fragments)."""

    index: int
    id: str | None
    name: str | None
    arguments: str


StreamOutput = str | ToolCallDelta
"""What a stream yields as it goes: text deltas and pieces of tool calls."""


def tool_call_deltas(calls: Sequence[ToolCall]) -> list[ToolCallDelta]:
    """Finished tool calls (OpenAI shape) as one piece each, for a stream replayed whole."""
    deltas = []
    for index, call in enumerate(calls):
        function = call.get("function") or {}
        deltas.append(
            ToolCallDelta(
                index, call.get("id"), function.get("name"), function.get("arguments", "")
            )
        )
    return deltas


class StreamDecoder(ABC):
    """Turns one provider's SSE events into text deltas and, at the end, a `ChatResult`.

    Pieces of tool calls are collected as they arrive; `take_tool_deltas` hands over (and
    forgets) those collected since the last call."""

    def __init__(self) -> None:
        self._tool_deltas: list[ToolCallDelta] = []

    def take_tool_deltas(self) -> list[ToolCallDelta]:
        """The tool-call pieces collected since the last call."""
        taken, self._tool_deltas = self._tool_deltas, []
        return taken

    def _tool_delta(self, delta: ToolCallDelta) -> None:
        self._tool_deltas.append(delta)

    @abstractmethod
    def feed(self, event: str | None, data: str) -> str | None:
        """Consume one event; return the text it adds (or None). Raise on error events."""

    @abstractmethod
    def finished(self) -> bool:
        """True once the provider said the stream is complete."""

    @abstractmethod
    def result(self) -> ChatResult:
        """What the stream amounted to; valid once `finished()`, partial before."""


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """The parts of a provider's error body that decide how we classify it."""

    message: str
    code: str | None = None
    type: str | None = None


class WireFormat(ABC):
    """One API shape. Subclasses fill in the JSON mapping; the shared error mapping lives here.

    `catalog` says what the models it serves accept (`ai.providers.capabilities`).
    """

    name: str
    chat_path: str
    catalog: ModelCatalog = ModelCatalog()

    @abstractmethod
    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body for `request`."""

    @abstractmethod
    def parse_response(self, data: Any) -> ChatResult:
        """Parse a non-streaming answer; raise `InvalidResponseError` if it is not the format."""

    @abstractmethod
    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one streamed answer."""

    @abstractmethod
    def error_details(self, data: Any) -> ErrorDetails | None:
        """Pull message, code and type out of the provider's error JSON, if it is one."""

    def embedded_error_status(self, data: Any) -> int | None:
        """The HTTP status an error object inside a 200 answer stands for, or None.

        Some hosts (OpenRouter) answer 200 with `{"error": {...}}` when the model behind
        them failed; classified by its embedded code, that is an ordinary retryable error."""
        return None

    def error_from_status(
        self,
        status: int,
        body: bytes,
        *,
        provider: str,
        model: str,
        retry_after: float | None,
        secrets: Sequence[str] = (),
    ) -> ProviderError:
        """Classify an HTTP error answer into our error tree, keeping the provider's words
        (at most 500 characters of them)."""
        details = self._details_from_body(body)
        provider_message = details.message if details else body[:500].decode("utf-8", "replace")
        provider_message = provider_message[:500]
        common: dict[str, Any] = {
            "provider": provider,
            "model": model,
            "status": status,
            "provider_message": provider_message,
            "secrets": secrets,
        }
        said = provider_message.strip().rstrip(".") or "(no message)"
        what = f"{provider} returned HTTP {status} for model {model!r}: {said}"
        if status in (401, 403):
            return AuthenticationError(
                f"{what}. Check the API key for {provider} (its environment variable or "
                "the `api_key` setting).",
                **common,
            )
        if status == 429 and _mentions(details, "insufficient_quota"):
            return RateLimitError(
                f"{what}. The account is out of quota; add credits (not retryable).",
                retryable=False,
                **common,
            )
        if status == 429:
            return RateLimitError(
                f"{what}. Rate limited: lower the request rate or raise your limits.",
                retry_after=retry_after,
                **common,
            )
        if status == 404 or (details and details.code == "model_not_found"):
            return ModelNotFoundError(
                f"{what}. Check the model name, or add a fallback model.", **common
            )
        if _is_context_length(status, details):
            return ContextLengthError(
                f"{what}. Shorten the prompt or use a model with a larger context.", **common
            )
        if status == 529 or (status == 503 and _mentions(details, "overload")):
            return OverloadedError(
                f"{what}. The provider is overloaded; add a fallback model on another provider.",
                retry_after=retry_after,
                **common,
            )
        retryable = status in (408, 409) or status >= 500
        advice = (
            "A failure on the provider's side; it may pass."
            if retryable
            else "Fix the request (not retryable)."
        )
        return ProviderError(
            f"{what}. {advice}", retry_after=retry_after, retryable=retryable, **common
        )

    def _details_from_body(self, body: bytes) -> ErrorDetails | None:
        try:
            return self.error_details(parse_json(body))
        except (MalformedResponse, TypeError, AttributeError, KeyError, RecursionError):
            return None


def _mentions(details: ErrorDetails | None, word: str) -> bool:
    if details is None:
        return False
    haystack = " ".join(filter(None, (details.message, details.code, details.type))).lower()
    return word in haystack


def _is_context_length(status: int, details: ErrorDetails | None) -> bool:
    if status not in (400, 413) or details is None:
        return False
    return (
        details.code == "context_length_exceeded"
        or _mentions(details, "context length")
        or _mentions(details, "context window")
        or _mentions(details, "prompt is too long")
        or _mentions(details, "maximum context")
    )


class MalformedResponse(Exception):
    """Raised by wire formats when an answer breaks the format; the service converts it
    to `InvalidResponseError` with the provider and model filled in."""


def parse_json(data: str | bytes, what: str = "the body") -> Any:
    """Upstream JSON, or `MalformedResponse`: bad syntax, bad UTF-8 and nesting too deep
    for the parser (a `RecursionError`) are all the same thing, an answer we cannot read."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        preview = data[:120] if isinstance(data, str) else data[:120].decode("utf-8", "replace")
        reason = "is nested too deeply" if isinstance(exc, RecursionError) else "is not JSON"
        raise MalformedResponse(f"{what} {reason}: {preview!r}") from exc


def embedded_http_status(error: Any) -> int | None:
    """The HTTP status an error object names in its `code` (OpenRouter reports a failed
    upstream so, in a 200 answer or a stream event), or None when it names none."""
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return None


class StreamErrorEvent(Exception):
    """The provider sent an error event inside a stream.

    `error` is the event's error object as sent; `status` the HTTP status its `code`
    names, if any, so that it is classified like the same object in a non-streamed answer.
    """

    def __init__(self, error: Any) -> None:
        message = error.get("message") if isinstance(error, dict) else error
        super().__init__(str(message))
        self.error = error
        self.error_type: str | None = error.get("type") if isinstance(error, dict) else None
        self.status = embedded_http_status(error)


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Who hosts a wire format: name, default URL, environment variables and auth headers.

    `price_source` is the genai-prices provider id whose price list this host charges
    (``groq``, ``together``); None prices calls by the model name alone.
    """

    name: str
    wire: WireFormat
    default_base_url: str
    api_key_env: str
    base_url_env: str
    auth_headers: Callable[[str], dict[str, str]]
    api_key_required: bool = True
    static_headers: Mapping[str, str] = field(default_factory=dict)
    price_source: str | None = None
