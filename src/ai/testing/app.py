"""The Starlette application: routes, and the one pipeline every provider call goes through.

    read body -> authenticate (provider's rules) -> validate (provider's 400/404)
    -> draw a fault -> record the request -> status fault, disconnect, delay or a
    replacing body (hostile.py) -> build the answer (reshaped by an `AnswerChange`)
    -> deliver it (paced by pacing.py, or with a content fault, if one was drawn; without
    a fault at the model's configured speed, upstream_pacing.py)

Faults are drawn only for requests that passed authentication and validation, so a pushed
fault is never used up by a request that would have failed anyway. Model listings are
never faulted. Paths:

    POST /v1/chat/completions          OpenAI chat            api "openai"
    POST /v1/embeddings                OpenAI embeddings      api "embeddings"
    GET  /v1/models[/{id}]             OpenAI or Anthropic (by headers)
    POST /v1/messages                  Anthropic Messages     api "anthropic"
    POST /v1/messages/count_tokens     Anthropic token count  api "anthropic"
    POST /v1/rerank                    Cohere/Jina rerank     api "rerank"
    POST /api/v1/chat/completions      OpenRouter chat        api "openrouter"
    GET  /api/v1/models                OpenRouter models
    /_fake/...                         fault, reply and log control (see control.py)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ai.providers.openai_serving import error_body
from ai.testing.anthropic_messages import (
    DIALECT as ANTHROPIC_DIALECT,
)
from ai.testing.anthropic_messages import (
    UNREADABLE_COUNT,
    build_messages_reply,
    count_message_tokens,
    parse_messages,
)
from ai.testing.api_errors import ApiError, Dialect
from ai.testing.catalogue import Api
from ai.testing.control import control_routes
from ai.testing.embeddings import build_embeddings_reply, parse_embeddings
from ai.testing.faults import Fault, FaultKind
from ai.testing.hostile import AnswerChange, replacement_response
from ai.testing.models_api import list_models, retrieve_model
from ai.testing.openai_chat import (
    OPENAI_FLAVOR,
    OPENROUTER_FLAVOR,
    ChatFlavor,
    build_chat_reply,
    parse_chat,
)
from ai.testing.pacing import paced_response
from ai.testing.recording import RecordedRequest, masked_headers
from ai.testing.reply_lengths import reply_text
from ai.testing.rerank import DIALECT as RERANK_DIALECT
from ai.testing.rerank import build_rerank_reply, parse_rerank
from ai.testing.state import FakeState
from ai.testing.upstream_pacing import timed_response
from ai.testing.wire import (
    DroppedConnection,
    JsonReply,
    Reply,
    deliver,
    json_response,
    wait_or_disconnect,
)

_STATUS_FAULTS = frozenset(
    {
        FaultKind.RATE_LIMIT,
        FaultKind.SERVER_ERROR,
        FaultKind.OVERLOADED,
        FaultKind.UNKNOWN_MODEL,
        FaultKind.AUTH_ERROR,
    }
)
_NOT_JSON = object()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated request: its model, whether it streams, and how to build the answer
    (normal, or reshaped by a fault's `AnswerChange`)."""

    model: str | None
    stream: bool
    build: Callable[[AnswerChange], Reply]


Prepare = Callable[[Any, Request, FakeState], Prepared]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One provider operation: which API it belongs to, its dialect, its preparation."""

    api: Api
    dialect: Dialect
    prepare: Prepare
    faultable: bool = True


def _chat(flavor: ChatFlavor) -> Prepare:
    def prepare(body: Any, request: Request, state: FakeState) -> Prepared:
        parsed = parse_chat(flavor, body, state.catalogue, state.prompt_cache)
        return Prepared(
            parsed.model,
            parsed.stream,
            lambda change: build_chat_reply(flavor, parsed, _reply_text(state, body), change),
        )

    return prepare


def _reply_text(state: FakeState, body: Any) -> str | None:
    """A pushed reply, else the output length model's text, else None (the usual one)."""
    return reply_text(state.replies.pop(), state.lengths, body)


def _embeddings(body: Any, request: Request, state: FakeState) -> Prepared:
    parsed = parse_embeddings(body, state.catalogue)
    return Prepared(parsed.model, False, lambda change: build_embeddings_reply(parsed, change))


def _rerank(body: Any, request: Request, state: FakeState) -> Prepared:
    parsed = parse_rerank(body, state.catalogue)
    return Prepared(parsed.model, False, lambda change: build_rerank_reply(parsed))


def _messages(body: Any, request: Request, state: FakeState) -> Prepared:
    parsed = parse_messages(body, state.catalogue, state.prompt_cache)
    return Prepared(
        parsed.model,
        parsed.stream,
        lambda change: build_messages_reply(parsed, _reply_text(state, body), change),
    )


def _count_tokens(body: Any, request: Request, state: FakeState) -> Prepared:
    tokens = count_message_tokens(body, state.catalogue)

    def build(change: AnswerChange) -> Reply:
        return JsonReply({"input_tokens": UNREADABLE_COUNT if change.bad_usage else tokens})

    return Prepared(body["model"], False, build)


def _listing(api: Api) -> Prepare:
    def prepare(body: Any, request: Request, state: FakeState) -> Prepared:
        model_id = request.path_params.get("model_id")
        if model_id is None:
            return Prepared(None, False, lambda change: list_models(api, state.catalogue))
        reply = retrieve_model(api, model_id, state.catalogue, ENDPOINTS[api].dialect)
        return Prepared(model_id, False, lambda change: reply)

    return prepare


ENDPOINTS: dict[Api, Endpoint] = {
    Api.OPENAI: Endpoint(Api.OPENAI, OPENAI_FLAVOR.dialect, _chat(OPENAI_FLAVOR)),
    Api.OPENROUTER: Endpoint(Api.OPENROUTER, OPENROUTER_FLAVOR.dialect, _chat(OPENROUTER_FLAVOR)),
    Api.EMBEDDINGS: Endpoint(Api.EMBEDDINGS, OPENAI_FLAVOR.dialect, _embeddings),
    Api.ANTHROPIC: Endpoint(Api.ANTHROPIC, ANTHROPIC_DIALECT, _messages),
    Api.RERANK: Endpoint(Api.RERANK, RERANK_DIALECT, _rerank),
}
COUNT_TOKENS = Endpoint(Api.ANTHROPIC, ANTHROPIC_DIALECT, _count_tokens)
LISTINGS: dict[Api, Endpoint] = {
    api: Endpoint(api, ENDPOINTS[api].dialect, _listing(api), faultable=False)
    for api in (Api.OPENAI, Api.ANTHROPIC, Api.OPENROUTER)
}


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


async def handle(request: Request, endpoint: Endpoint, state: FakeState) -> Response:
    """Run one provider request through the pipeline described in the module docstring."""
    body = _parse_body(await request.body())
    recorded = None if body is _NOT_JSON else body
    model = body.get("model") if isinstance(body, dict) else None
    auth_error = endpoint.dialect.check_auth(request.headers, state.api_key)
    try:
        if auth_error is not None:
            raise auth_error
        prepared = endpoint.prepare(body, request, state)
    except ApiError as error:
        _record(state, request, endpoint, recorded, model, None, auth_error is None)
        return endpoint.dialect.render(error)
    fault = None
    if endpoint.faultable:
        fault = state.faults.take(endpoint.api, prepared.model, stream=prepared.stream)
    _record(state, request, endpoint, recorded, prepared.model, fault, True)
    if fault is not None:
        early = await _fault_response(request, endpoint, prepared, fault)
        if early is not None:
            return early
    reply = prepared.build(AnswerChange.for_fault(fault))
    paced = paced_response(reply, fault) or timed_response(
        reply, fault, state.latency.get(prepared.model)
    )
    return paced if paced is not None else deliver(reply, fault)


def _record(
    state: FakeState,
    request: Request,
    endpoint: Endpoint,
    body: Any,
    model: object,
    fault: Fault | None,
    authenticated: bool,
) -> None:
    state.requests.append(
        RecordedRequest(
            api=endpoint.api,
            path=request.scope["path"],
            headers=masked_headers(request.scope["headers"]),
            body=body,
            model=model if isinstance(model, str) else None,
            fault=None if fault is None else fault.kind,
            method=request.method,
            authenticated=authenticated,
        )
    )


async def _fault_response(
    request: Request, endpoint: Endpoint, prepared: Prepared, fault: Fault
) -> Response | None:
    """The response that replaces the answer, or None to answer (after any delay)."""
    kind = fault.kind
    if kind is FaultKind.DISCONNECT:
        return DroppedConnection()
    if kind is FaultKind.SLOW_FIRST_BYTE:
        if not await wait_or_disconnect(request.receive, fault.delay):
            return Response(b"", 499)  # the client left; uvicorn discards this
        return None
    if kind in _STATUS_FAULTS or (kind is FaultKind.STREAM_ERROR_EVENT and not prepared.stream):
        return endpoint.dialect.render(endpoint.dialect.fault_error(fault, prepared.model))
    return replacement_response(request.headers, endpoint.dialect, prepared.stream, fault)


def _route(path: str, endpoint: Endpoint, state: FakeState, method: str = "POST") -> Route:
    async def call(request: Request) -> Response:
        return await handle(request, endpoint, state)

    return Route(path, call, methods=[method])


def _models_route(path: str, state: FakeState) -> Route:
    """`/v1/models` is shared: Anthropic clients send `anthropic-version` or `x-api-key`."""

    async def call(request: Request) -> Response:
        headers = request.headers
        anthropic = "anthropic-version" in headers or "x-api-key" in headers
        return await handle(request, LISTINGS[Api.ANTHROPIC if anthropic else Api.OPENAI], state)

    return Route(path, call, methods=["GET"])


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = f"Invalid URL ({request.method} {request.url.path})"
    return json_response(error_body(message), status)


ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


def build_app(state: FakeState) -> Starlette:
    """The ASGI app serving every fake API over `state`."""
    routes = [
        _route("/v1/chat/completions", ENDPOINTS[Api.OPENAI], state),
        _route("/v1/embeddings", ENDPOINTS[Api.EMBEDDINGS], state),
        _route("/v1/messages", ENDPOINTS[Api.ANTHROPIC], state),
        _route("/v1/rerank", ENDPOINTS[Api.RERANK], state),
        _route("/v1/messages/count_tokens", COUNT_TOKENS, state),
        _models_route("/v1/models", state),
        _models_route("/v1/models/{model_id:path}", state),
        _route("/api/v1/chat/completions", ENDPOINTS[Api.OPENROUTER], state),
        _route("/api/v1/models", LISTINGS[Api.OPENROUTER], state, method="GET"),
        *control_routes(state),
    ]
    handlers: dict[Any, ExceptionHandler] = {404: _not_found, 405: _not_found}
    return Starlette(routes=routes, exception_handlers=handlers)
