"""`POST /v1/chat/completions`: an OpenAI request becomes one `LLMService` call with the
key's labels, and the answer goes back in OpenAI's format, JSON or SSE.

Parameters `LLMService` names (temperature, max_tokens, top_p, stop, seed,
response_format, tools, tool_choice, metadata, reasoning_effort) are translated for
every provider; `presence_penalty`, `frequency_penalty`, `logprobs` and
`parallel_tool_calls` at their defaults are dropped; any other parameter is forwarded
verbatim (`extra`), which an OpenAI-format upstream understands and another refuses with
its own 400. `user` (OpenAI's end-user hint) is not forwarded. `n` must be 1.

A client that hangs up before its answer is ready cancels the upstream call, streamed
(`chat_stream`) or not: nobody would read the answer, so nobody should pay for the rest
of it. `LLMService` records the call as cancelled; the access log says 499.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from ai.core.records import TagKey
from ai.providers.openai_serving import (
    ChatCompletionRequest,
    ChoiceOutput,
    CompletionMeta,
    completion_object,
    not_a_chat_model,
    parse_chat_request,
)
from ml_ops.gateway.access_log import AccessEntry
from ml_ops.gateway.answers import finish_reason, tool_calls, usage_of
from ml_ops.gateway.asgi import (
    ClientGone,
    Receive,
    Scope,
    Send,
    cancel_and_wait,
    finished_before_disconnect,
    header,
    read_json,
    send_json,
    wait_for_disconnect,
)
from ml_ops.gateway.call_context import CallContext
from ml_ops.gateway.chat_stream import relay_stream
from ml_ops.gateway.errors import n_not_supported
from ml_ops.gateway.keys import VirtualKey
from ml_ops.gateway.router_alias import ROUTE_HEADER, complexity_hint
from ml_ops.gateway.routing import ChatRoute
from ml_ops.gateway.state import GatewayState

_NAMED = (
    "temperature",
    "top_p",
    "seed",
    "response_format",
    "tool_choice",
    "metadata",
    "reasoning_effort",
)
_HANDLED = frozenset(
    {*_NAMED, "model", "messages", "stream", "stream_options", "n", "max_tokens"}
    | {"max_completion_tokens", "stop", "tools", "user", "store"}
)
_DROPPED_AT = {
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logprobs": False,
    "parallel_tool_calls": True,
}


def call_options(
    request: ChatCompletionRequest, route: ChatRoute, key: VirtualKey
) -> dict[str, Any]:
    """The `LLMService` options for `request`, with the alias's defaults and the key's
    labels (user, agent, tags team and key_id)."""
    body = request.body
    options: dict[str, Any] = {"user": key.user, "tags": key.tags}
    if key.agent:
        options["agent"] = key.agent
    for name in _NAMED:
        value = body.get(name)
        if value is not None:
            options[name] = value
    if request.max_tokens is not None:
        options["max_tokens"] = request.max_tokens
    if request.stop:
        options["stop"] = list(request.stop)
    if request.tools:
        options["tools"] = list(request.tools)
    for name, value in route.call_defaults.items():
        options.setdefault(name, value)
    extra = {
        name: value
        for name, value in body.items()
        if name not in _HANDLED and value is not None and _DROPPED_AT.get(name, ...) != value
    }
    if extra:
        options["extra"] = extra
    return options


class ChatCompletions:
    """The handler (wrapped by `state.endpoint`)."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, entry: AccessEntry, context: CallContext
    ) -> None:
        state = self.state
        key = await state.authenticate(scope)
        entry.key = key
        request = parse_chat_request(
            await read_json(receive), reasoning_rules=False, parameter_rules=True
        )
        entry.model, entry.stream = request.model, request.stream
        if state.access_log.log_content:
            entry.messages = list(request.messages)
        alias = state.allowed_alias(key, request.model)
        router = state.catalog.routers.get(alias)
        route = state.catalog.chat.get(alias)
        if route is None and router is None:  # an embedding model sent to chat
            raise not_a_chat_model()
        if request.n != 1:
            raise n_not_supported(request.n)
        hint = complexity_hint(scope)
        decision = await state.admit(key)
        headers = decision.headers()
        tags = key.tags if hint is None else {**key.tags, TagKey.COMPLEXITY.value: hint}
        if router is not None:
            route, context.routed = await router.choose(request.messages, request.tools, tags)
            headers[ROUTE_HEADER] = context.routed.route
        assert route is not None
        options = call_options(request, route, key)
        options["tags"] = tags
        if context.routed is not None:
            options["model"] = context.routed.alias  # RouteApplier makes it the target's
        if "no-cache" in (header(scope, b"cache-control") or ""):
            options["cache"] = "bypass"  # a fresh answer, whatever the response cache holds
        if namespace := state.cache_namespace(key):
            options["cache_namespace"] = namespace  # gateway.cache.scope: team or key
        try:
            if request.stream:
                await relay_stream(route, request, options, headers, receive, send, entry, context)
            else:
                await self._complete(
                    route, request, options, headers, receive, send, entry, context
                )
        finally:
            await state.settle(key, context)

    async def _complete(
        self,
        route: ChatRoute,
        request: ChatCompletionRequest,
        options: Mapping[str, Any],
        headers: dict[str, str],
        receive: Receive,
        send: Send,
        entry: AccessEntry,
        context: CallContext,
    ) -> None:
        watcher = asyncio.ensure_future(wait_for_disconnect(receive))
        try:
            call = asyncio.ensure_future(route.service.complete(request.messages, **options))
            if not await finished_before_disconnect(call, watcher):
                raise ClientGone
            text, stats = call.result()
        finally:
            await cancel_and_wait(watcher)
        calls = tool_calls(stats)
        choice = ChoiceOutput(
            content=text if text or not calls else None,
            finish_reason=finish_reason(stats),
            tool_calls=calls,
        )
        meta = CompletionMeta(
            id="chatcmpl-" + stats.request_id, model=request.model, created=int(time.time())
        )
        headers["x-request-id"] = stats.request_id
        if self.state.access_log.log_content:
            entry.completion = text
        await send_json(send, 200, completion_object(meta, [choice], usage_of(stats)), headers)
