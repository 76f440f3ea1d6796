"""Chat completions in the OpenAI wire format, served for OpenAI and for OpenRouter.

What differs between the two hosts is data in a `ChatFlavor` (id prefix, error format,
cost accounting, the SSE comment OpenRouter sends first), so this module never asks which
host it is serving.

Non-stream answers are full `chat.completion` objects. Streams are `chat.completion.chunk`
events: a first delta with the role, content deltas (or tool-call argument fragments), a
finish chunk, then, when usage is asked for (`stream_options.include_usage`, or always on
OpenRouter), a chunk with `"choices": []` and the usage, and `data: [DONE]`. With
`include_usage` every earlier chunk carries `"usage": null`, as the real API does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ai.testing.api_errors import ApiError, Dialect, ErrorKind
from ai.testing.catalogue import (
    Api,
    ModelCatalogue,
    openrouter_cost,
    openrouter_provider,
)
from ai.testing.openai_dialects import OpenAIDialect, OpenRouterDialect
from ai.testing.openai_prompt import PromptAccount, account_prompt, content_text
from ai.testing.openai_validation import validate_chat
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
from ai.testing.wire import JsonReply, Reply, StreamEvent, StreamReply, sse_data

SYSTEM_FINGERPRINT = "fp_d3f0a7e1c2"
_DONE = b"data: [DONE]\n\n"
_MALFORMED = b"data: {not json\n\n"
_FINISH_NAMES: dict[Finish, str] = {
    Finish.STOP: "stop",
    Finish.STOP_SEQUENCE: "stop",
    Finish.LENGTH: "length",
    Finish.TOOL: "tool_calls",
}


def _openai_error_chunk(frame: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


def _openrouter_error_chunk(frame: Mapping[str, Any]) -> dict[str, Any]:
    choice = {
        "index": 0,
        "delta": {"content": ""},
        "finish_reason": "error",
        "native_finish_reason": "error",
    }
    error = {"code": "server_error", "message": "Provider disconnected unexpectedly"}
    return {**frame, "error": error, "choices": [choice]}


def _openai_headers(response_id: str) -> dict[str, str]:
    return {
        "x-request-id": "req_" + uuid.uuid4().hex,
        "openai-processing-ms": "1",
        "openai-version": "2020-10-01",
    }


def _openrouter_headers(response_id: str) -> dict[str, str]:
    return {"x-generation-id": response_id}


def _openai_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:29]


def _openrouter_id() -> str:
    return f"gen-{int(time.time())}-{uuid.uuid4().hex[:20]}"


@dataclass(frozen=True, slots=True)
class ChatFlavor:
    """The host-specific parts of the OpenAI chat wire format."""

    api: Api
    dialect: Dialect
    new_id: Callable[[], str]
    headers: Callable[[str], dict[str, str]]
    error_chunk: Callable[[Mapping[str, Any]], dict[str, Any]]
    reasoning_rules: bool = False
    reports_cost: bool = False
    names_provider: bool = False
    always_stream_usage: bool = False
    sse_preamble: bytes = b""


OPENAI_FLAVOR = ChatFlavor(
    api=Api.OPENAI,
    dialect=OpenAIDialect(),
    new_id=_openai_id,
    headers=_openai_headers,
    error_chunk=_openai_error_chunk,
    reasoning_rules=True,
)
OPENROUTER_FLAVOR = ChatFlavor(
    api=Api.OPENROUTER,
    dialect=OpenRouterDialect(),
    new_id=_openrouter_id,
    headers=_openrouter_headers,
    error_chunk=_openrouter_error_chunk,
    reports_cost=True,
    names_provider=True,
    always_stream_usage=True,
    sse_preamble=b": OPENROUTER PROCESSING\n\n",
)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated chat request reduced to what the answer depends on."""

    model: str
    stream: bool
    include_usage: bool
    n: int
    turn: Turn
    prompt: PromptAccount


def parse_chat(
    flavor: ChatFlavor, body: Any, catalogue: ModelCatalogue, cache: PromptCache | None = None
) -> ChatRequest:
    """Validate `body` as the host would; raise its `ApiError` (400, or 404 for the model)."""
    if not isinstance(body, dict):
        raise flavor.dialect.invalid_json()
    validate_chat(body, reasoning_rules=flavor.reasoning_rules)
    model: str = body["model"]
    if not catalogue.serves(flavor.api, model):
        if catalogue.serves(Api.EMBEDDINGS, model):
            raise ApiError(
                404,
                ErrorKind.NOT_FOUND,
                "This is not a chat model and thus not supported in the v1/chat/completions "
                "endpoint. Did you mean to use v1/completions?",
                param="model",
            )
        raise flavor.dialect.unknown_model(model)
    stream = bool(body.get("stream"))
    options = body.get("stream_options") or {}
    prompt = account_prompt(body, model, cache)
    usage_wanted = isinstance(body.get("usage"), dict) and bool(body["usage"].get("include"))
    return ChatRequest(
        model=model,
        stream=stream,
        include_usage=bool(options.get("include_usage")) or usage_wanted,
        n=int(body.get("n") or 1),
        turn=_turn(body, model),
        prompt=prompt,
    )


def _turn(body: Mapping[str, Any], model: str) -> Turn:
    messages: list[dict[str, Any]] = body["messages"]
    last = messages[-1]
    user_text = next(
        (content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        "",
    )
    tools = tuple(
        ToolSpec(tool["function"]["name"], tool["function"].get("parameters") or {})
        for tool in body.get("tools") or ()
    )
    choice = body.get("tool_choice")
    forced = choice["function"]["name"] if isinstance(choice, dict) else None
    response_format = body.get("response_format")
    schema = None
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
    stop = body.get("stop")
    return Turn(
        model=model,
        user_text=user_text,
        tool_result=quote_tool_result(last.get("content")) if last.get("role") == "tool" else None,
        tools=tools,
        forced_tool=forced,
        tools_enabled=choice != "none" and last.get("role") == "user",
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        stop=(stop,) if isinstance(stop, str) else tuple(stop or ()),
        json_schema=schema if isinstance(schema, dict) else None,
        json_object=isinstance(response_format, dict)
        and response_format.get("type") == "json_object",
    )


def usage_block(
    flavor: ChatFlavor, model: str, prompt: PromptAccount, completion: int
) -> dict[str, Any]:
    """The `usage` object, with OpenRouter's cost fields when the flavor reports cost."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": prompt.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    if flavor.reports_cost:
        cost = openrouter_cost(model, prompt.prompt_tokens, completion, prompt.cached_tokens)
        usage["prompt_tokens_details"]["cache_write_tokens"] = 0
        usage["cost"] = cost
        usage["is_byok"] = False
        usage["cost_details"] = {"upstream_inference_cost": None}
    return usage


def build_chat_reply(flavor: ChatFlavor, request: ChatRequest, pushed: str | None) -> Reply:
    """The answer to `request` (`pushed` is a queued reply text, if any)."""
    outcome = compose(request.turn, pushed)
    response_id = flavor.new_id()
    frame: dict[str, Any] = {
        "id": response_id,
        "created": int(time.time()),
        "model": request.model,
    }
    if flavor.names_provider:
        frame["provider"] = openrouter_provider(request.model)
    usage = usage_block(flavor, request.model, request.prompt, outcome.output_tokens * request.n)
    headers = flavor.headers(response_id)
    if request.stream:
        return _stream_reply(flavor, request, outcome, frame, usage, headers)
    return JsonReply(_completion(flavor, request, outcome, frame, usage), headers)


def _call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _completion(
    flavor: ChatFlavor,
    request: ChatRequest,
    outcome: Outcome,
    frame: Mapping[str, Any],
    usage: dict[str, Any],
) -> dict[str, Any]:
    finish = _FINISH_NAMES[outcome.finish]
    choices = []
    for index in range(request.n):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if outcome.tool_call else outcome.text,
            "refusal": None,
            "annotations": [],
        }
        if outcome.tool_call is not None:
            message["tool_calls"] = [
                {
                    "id": _call_id(),
                    "type": "function",
                    "function": {
                        "name": outcome.tool_call.name,
                        "arguments": outcome.tool_call.arguments,
                    },
                }
            ]
        choice: dict[str, Any] = {
            "index": index,
            "message": message,
            "logprobs": None,
            "finish_reason": finish,
        }
        if flavor.names_provider:
            choice["native_finish_reason"] = finish
        choices.append(choice)
    return {
        "id": frame["id"],
        "object": "chat.completion",
        "created": frame["created"],
        "model": frame["model"],
        **({"provider": frame["provider"]} if "provider" in frame else {}),
        "choices": choices,
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _stream_reply(
    flavor: ChatFlavor,
    request: ChatRequest,
    outcome: Outcome,
    frame: dict[str, Any],
    usage: dict[str, Any],
    headers: dict[str, str],
) -> StreamReply:
    base = {
        "id": frame["id"],
        "object": "chat.completion.chunk",
        "created": frame["created"],
        "model": frame["model"],
        **({"provider": frame["provider"]} if "provider" in frame else {}),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    usage_null = request.include_usage

    def chunk(choice: dict[str, Any], *, content: bool = False) -> StreamEvent:
        body = {**base, "choices": [choice]}
        if usage_null:
            body["usage"] = None
        return StreamEvent(sse_data(body), content)

    events: list[StreamEvent] = []
    for index in range(request.n):
        events.extend(_choice_events(flavor, index, outcome, chunk))
    if request.include_usage or flavor.always_stream_usage:
        events.append(StreamEvent(sse_data({**base, "choices": [], "usage": usage})))
    events.append(StreamEvent(_DONE))
    return StreamReply(
        events=events,
        error_event=sse_data(flavor.error_chunk(base)),
        malformed_event=_MALFORMED,
        preamble=flavor.sse_preamble,
        headers=headers,
    )


def _choice_events(
    flavor: ChatFlavor,
    index: int,
    outcome: Outcome,
    chunk: Callable[..., StreamEvent],
) -> list[StreamEvent]:
    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "index": index,
            "delta": delta,
            "logprobs": None,
            "finish_reason": finish,
        }
        if flavor.names_provider:
            body["native_finish_reason"] = finish
        return body

    call = outcome.tool_call
    if call is None:
        first = chunk(choice({"role": "assistant", "content": "", "refusal": None}))
        deltas = [
            chunk(choice({"content": piece}), content=True) for piece in stream_pieces(outcome.text)
        ]
    else:
        opening = {
            "index": 0,
            "id": _call_id(),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        first = chunk(
            choice({"role": "assistant", "content": None, "tool_calls": [opening], "refusal": None})
        )
        deltas = [
            chunk(
                choice({"tool_calls": [{"index": 0, "function": {"arguments": part}}]}),
                content=True,
            )
            for part in json_fragments(call.arguments)
        ]
    finish = chunk(choice({}, _FINISH_NAMES[outcome.finish]))
    return [first, *deltas, finish]
