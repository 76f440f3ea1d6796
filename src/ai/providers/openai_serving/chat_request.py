"""A validated `POST /v1/chat/completions` request, as typed values.

`parse_chat_request` runs the OpenAI checks (see `chat_validation`) and reduces the body
to what a server acts on: the model, the messages, streaming and usage reporting, the
number of choices, the limits and the tools. The whole body stays available as `body`, so
a server can forward parameters this object does not name (`seed`, `logit_bias`, ...).
Messages and tools keep OpenAI's JSON shapes, which `ai.providers.ChatRequest` also uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ai.providers.openai_serving.chat_validation import validate_chat_body
from ai.providers.openai_serving.errors import invalid_json


@dataclass(frozen=True, slots=True)
class ChatCompletionRequest:
    """A chat completions request that passed OpenAI's validation.

    `max_tokens` is `max_completion_tokens` when given, else the legacy `max_tokens` (for
    reasoning models it bounds reasoning and visible output together); `stop` is always a
    tuple; `include_usage` is `stream_options.include_usage`; `response_format` is kept
    only when it is an object, `reasoning_effort` only when it is a string.
    """

    model: str
    messages: tuple[Mapping[str, Any], ...]
    stream: bool = False
    include_usage: bool = False
    n: int = 1
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: str | Mapping[str, Any] | None = None
    response_format: Mapping[str, Any] | None = None
    reasoning_effort: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tool_names(self) -> tuple[str, ...]:
        """Names of the offered function tools, in request order."""
        return tuple(tool["function"]["name"] for tool in self.tools)


def parse_chat_request(
    body: object, *, reasoning_rules: bool = True, parameter_rules: bool = False
) -> ChatCompletionRequest:
    """Validate `body` (decoded JSON) as OpenAI does; raise its `OpenAIRequestError`.

    Any JSON value is accepted as input: a non-object body gets OpenAI's "could not parse
    the JSON body" 400, so a server can pass whatever `json.loads` returned. Which models
    exist is the caller's business (answer unknown ones with `model_not_found`). The two
    keywords switch api.openai.com's own rule groups on (see `validate_chat_body`).
    """
    if not isinstance(body, dict):
        raise invalid_json()
    validate_chat_body(body, reasoning_rules=reasoning_rules, parameter_rules=parameter_rules)
    options = body.get("stream_options") or {}
    stop = body.get("stop")
    response_format = body.get("response_format")
    effort = body.get("reasoning_effort")
    return ChatCompletionRequest(
        model=body["model"],
        messages=tuple(body["messages"]),
        stream=bool(body.get("stream")),
        include_usage=bool(options.get("include_usage")),
        n=int(body.get("n") or 1),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=(stop,) if isinstance(stop, str) else tuple(stop or ()),
        tools=tuple(body.get("tools") or ()),
        tool_choice=body.get("tool_choice"),
        response_format=response_format if isinstance(response_format, dict) else None,
        reasoning_effort=effort if isinstance(effort, str) else None,
        body=body,
    )
