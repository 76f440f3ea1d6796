"""Chat completions in the OpenAI wire format, served for OpenAI and for OpenRouter.

What differs between the two hosts is data in a `ChatFlavor` (id prefix, error format,
cost accounting, the SSE comment OpenRouter sends first), so this module never asks which
host it is serving.

Validation and rendering are product code shared with the gateway
(`ai.providers.openai_serving`): this module adds only what is fake, namely the catalogue
check, the canned answer (`replies.compose`), the prompt accounting, ids and headers, how
text is cut into stream deltas, and the events the content faults inject. Usage is streamed
when asked for (`stream_options.include_usage`, or always on OpenRouter).

An `AnswerChange` (from the `giant_line`, `json_for_stream` and `bad_usage` faults) reshapes
the answer: a giant content delta right after the role chunk (or giant message content),
the JSON completion for a stream request, or `"many"` for the usage token counts (the usage
chunk is then streamed even when not asked for).

Reasoning models (`reasoning_model`) think before they answer: the fake spends a fixed
number of reasoning tokens per effort (`REASONING_TOKENS`, the model's default effort when
none is sent) and reports them in `usage.completion_tokens_details.reasoning_tokens`,
inside `completion_tokens`, as the real API does. `max_completion_tokens` bounds reasoning
and visible output together: when the reasoning uses it all, the answer is empty with
`finish_reason: "length"`.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ai.providers.openai_serving import (
    ChatChunkEncoder,
    ChatCompletionRequest,
    ChoiceOutput,
    CompletionMeta,
    FinishReason,
    OpenAIRequestError,
    ToolCallOutput,
    completion_object,
    error_body,
    not_a_chat_model,
    parse_chat_request,
    render_chat_stream,
    sse_data,
    usage_object,
)
from ai.providers.openai_serving.chat_validation import reasoning_model
from ai.testing.api_errors import Dialect
from ai.testing.catalogue import (
    Api,
    ModelCatalogue,
    openrouter_cost,
    openrouter_provider,
)
from ai.testing.hostile import NO_CHANGE, AnswerChange, giant_text, unreadable_usage
from ai.testing.openai_dialects import (
    UNREADABLE_COUNT,
    USAGE_COUNT_KEYS,
    OpenAIDialect,
    OpenRouterDialect,
    api_error,
)
from ai.testing.openai_prompt import PromptAccount, account_prompt, content_text
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
from ai.testing.wire import JsonReply, Reply, StreamEvent, StreamReply

SYSTEM_FINGERPRINT = "fp_d3f0a7e1c2"
_MALFORMED = b"data: {not json\n\n"
REASONING_TOKENS: dict[str, int] = {
    "none": 0,
    "minimal": 0,
    "low": 64,
    "medium": 256,
    "high": 1024,
}
"""Reasoning tokens the fake spends before answering, by `reasoning_effort`."""
_FINISH_REASONS: dict[Finish, FinishReason] = {
    Finish.STOP: FinishReason.STOP,
    Finish.STOP_SEQUENCE: FinishReason.STOP,
    Finish.LENGTH: FinishReason.LENGTH,
    Finish.TOOL: FinishReason.TOOL_CALLS,
}


def _openai_error_chunk(frame: Mapping[str, Any]) -> dict[str, Any]:
    return error_body(
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
    )


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
    parameter_rules: bool = False
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
    parameter_rules=True,
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
    """A validated chat request reduced to what the answer depends on (`reasoning_tokens`:
    what a reasoning model spends thinking, 0 for other models)."""

    model: str
    stream: bool
    include_usage: bool
    n: int
    turn: Turn
    prompt: PromptAccount
    reasoning_tokens: int = 0


def parse_chat(
    flavor: ChatFlavor, body: Any, catalogue: ModelCatalogue, cache: PromptCache | None = None
) -> ChatRequest:
    """Validate `body` as the host would; raise its `ApiError` (400, or 404 for the model)."""
    if not isinstance(body, dict):
        raise flavor.dialect.invalid_json()
    try:
        parsed = parse_chat_request(
            body, reasoning_rules=flavor.reasoning_rules, parameter_rules=flavor.parameter_rules
        )
        if not catalogue.serves(flavor.api, parsed.model):
            if catalogue.serves(Api.EMBEDDINGS, parsed.model):
                raise not_a_chat_model()
            raise flavor.dialect.unknown_model(parsed.model)
    except OpenAIRequestError as error:
        raise api_error(error) from None
    prompt = account_prompt(body, parsed.model, cache)
    usage_wanted = isinstance(body.get("usage"), dict) and bool(body["usage"].get("include"))
    return ChatRequest(
        model=parsed.model,
        stream=parsed.stream,
        include_usage=parsed.include_usage or usage_wanted,
        n=parsed.n,
        turn=_turn(parsed),
        prompt=prompt,
        reasoning_tokens=_reasoning_tokens(parsed),
    )


def _reasoning_tokens(request: ChatCompletionRequest) -> int:
    """What `request`'s model spends reasoning: by the effort asked for (an effort the host
    let through unchecked counts as the model's default)."""
    profile = reasoning_model(request.model)
    if profile is None:
        return 0
    effort = request.reasoning_effort
    if effort is None or effort not in REASONING_TOKENS:
        effort = profile.default_effort
    return REASONING_TOKENS[effort]


def _turn(request: ChatCompletionRequest) -> Turn:
    messages = request.messages
    last = messages[-1]
    user_text = next(
        (content_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        "",
    )
    tools = tuple(
        ToolSpec(tool["function"]["name"], tool["function"].get("parameters") or {})
        for tool in request.tools
    )
    choice = request.tool_choice
    forced = choice["function"]["name"] if isinstance(choice, Mapping) else None
    response_format = request.response_format
    schema = None
    if response_format is not None and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
    return Turn(
        model=request.model,
        user_text=user_text,
        tool_result=quote_tool_result(last.get("content")) if last.get("role") == "tool" else None,
        tools=tools,
        forced_tool=forced,
        tools_enabled=choice != "none" and last.get("role") == "user",
        max_tokens=request.max_tokens,
        stop=request.stop,
        json_schema=schema if isinstance(schema, dict) else None,
        json_object=response_format is not None and response_format.get("type") == "json_object",
    )


def usage_block(
    flavor: ChatFlavor, model: str, prompt: PromptAccount, completion: int, reasoning: int = 0
) -> dict[str, Any]:
    """The `usage` object, with OpenRouter's cost fields when the flavor reports cost
    (`reasoning` tokens are part of the `completion` tokens)."""
    usage = usage_object(
        prompt.prompt_tokens,
        completion,
        cached_tokens=prompt.cached_tokens,
        reasoning_tokens=reasoning,
    )
    if flavor.reports_cost:
        cost = openrouter_cost(model, prompt.prompt_tokens, completion, prompt.cached_tokens)
        usage["prompt_tokens_details"]["cache_write_tokens"] = 0
        usage["cost"] = cost
        usage["is_byok"] = False
        usage["cost_details"] = {"upstream_inference_cost": None}
    return usage


def build_chat_reply(
    flavor: ChatFlavor, request: ChatRequest, pushed: str | None, change: AnswerChange = NO_CHANGE
) -> Reply:
    """The answer to `request` (`pushed` is a queued reply text, if any), reshaped by
    `change`."""
    outcome, reasoning = _think_then_answer(request, pushed)
    response_id = flavor.new_id()
    meta = CompletionMeta(
        id=response_id,
        model=request.model,
        created=int(time.time()),
        system_fingerprint=SYSTEM_FINGERPRINT,
        provider=openrouter_provider(request.model) if flavor.names_provider else None,
        native_finish_reason=flavor.names_provider,
    )
    completion = (outcome.output_tokens + reasoning) * request.n
    usage = usage_block(flavor, request.model, request.prompt, completion, reasoning * request.n)
    if change.bad_usage:
        usage = unreadable_usage(usage, USAGE_COUNT_KEYS, UNREADABLE_COUNT)
    headers = flavor.headers(response_id)
    choices = [_choice(outcome) for _ in range(request.n)]
    if request.stream and not change.as_json:
        return _stream_reply(flavor, request, meta, choices, usage, headers, change)
    if change.giant_content is not None:
        giant = giant_text(change.giant_content)
        choices = [dataclasses.replace(choice, content=giant) for choice in choices]
    return JsonReply(completion_object(meta, choices, usage), headers)


def _think_then_answer(request: ChatRequest, pushed: str | None) -> tuple[Outcome, int]:
    """The answer and the reasoning tokens spent on it; `max_tokens` (the request's
    `max_completion_tokens`) covers both, reasoning first."""
    reasoning, budget = request.reasoning_tokens, request.turn.max_tokens
    if not reasoning or budget is None:
        return compose(request.turn, pushed), reasoning
    if budget <= reasoning:
        return Outcome(text="", tool_call=None, finish=Finish.LENGTH, output_tokens=0), budget
    turn = dataclasses.replace(request.turn, max_tokens=budget - reasoning)
    return compose(turn, pushed), reasoning


def _call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _choice(outcome: Outcome) -> ChoiceOutput:
    """One choice of the answer; every choice's tool call gets its own id."""
    finish = _FINISH_REASONS[outcome.finish]
    call = outcome.tool_call
    if call is None:
        return ChoiceOutput(content=outcome.text, finish_reason=finish)
    output = ToolCallOutput(id=_call_id(), name=call.name, arguments=call.arguments)
    return ChoiceOutput(content=None, finish_reason=finish, tool_calls=(output,))


def _stream_reply(
    flavor: ChatFlavor,
    request: ChatRequest,
    meta: CompletionMeta,
    choices: list[ChoiceOutput],
    usage: dict[str, Any],
    headers: dict[str, str],
    change: AnswerChange,
) -> StreamReply:
    chunks = render_chat_stream(
        meta,
        choices,
        usage,
        include_usage=request.include_usage,
        always_send_usage=flavor.always_stream_usage or change.bad_usage,
        split_text=stream_pieces,
        split_arguments=json_fragments,
    )
    events = [StreamEvent(chunk.data, chunk.output) for chunk in chunks]
    if change.giant_content is not None:
        encoder = ChatChunkEncoder(meta, include_usage=request.include_usage)
        giant = encoder.content(giant_text(change.giant_content))
        events.insert(1, StreamEvent(sse_data(giant), content=True))
    return StreamReply(
        events=events,
        error_event=sse_data(flavor.error_chunk(ChatChunkEncoder(meta).frame)),
        malformed_event=_MALFORMED,
        preamble=flavor.sse_preamble,
        headers=headers,
    )
