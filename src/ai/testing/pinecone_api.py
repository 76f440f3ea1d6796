"""A loopback fake of Pinecone's REST API: the data plane, and the few control-plane calls
clients use to find an index. Every request goes through one pipeline:

    read body -> `Api-Key` check (401) -> validate (400/404/413) -> draw a fault
    -> record the request -> status fault, disconnect or delay -> run it -> deliver

Data plane (served at the root for the default index, and at `/index/{name}` for every
index, so one fake can host several):

    POST /vectors/upsert                 {"vectors": [...], "namespace"} -> {"upsertedCount"}
    POST /query                          {"vector" | "id", "topK", "filter", "namespace",
                                          "includeValues", "includeMetadata"}
    GET  /vectors/fetch?ids=..&namespace=..
    POST /vectors/fetch_by_metadata      {"filter", "namespace", "limit", "paginationToken"}
    POST /vectors/delete                 {"ids" | "deleteAll" | "filter", "namespace"}
    POST /describe_index_stats           (GET too)
    GET  /namespaces, GET|DELETE /namespaces/{namespace}

Control plane: `/indexes` (see `pinecone_control_plane`). Test control: `/_fake/...`.

Errors use Pinecone's two shapes: the data plane sends gRPC-gateway statuses
(`{"code": 3, "message": "...", "details": []}`), the control plane
`{"error": {"code": "NOT_FOUND", "message": "..."}, "status": 404}`. Requests may carry
`X-Pinecone-API-Version` (any value is accepted and recorded).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ai.testing import pinecone_control_plane as control_plane
from ai.testing.api_errors import retry_after_value
from ai.testing.faults import Fault, FaultKind
from ai.testing.pinecone_data_plane import DATA_PLANE, Build, Call, Endpoint
from ai.testing.pinecone_fake_control import fake_control_routes
from ai.testing.pinecone_index import GrpcCode, PineconeApiError, bad_request
from ai.testing.pinecone_state import PineconeOperation, PineconeRequest, PineconeState
from ai.testing.recording import masked_headers
from ai.testing.wire import DroppedConnection, deliver, json_response, wait_or_disconnect

_GRPC_CODES = {
    400: GrpcCode.INVALID_ARGUMENT,
    401: GrpcCode.UNAUTHENTICATED,
    404: GrpcCode.NOT_FOUND,
    405: GrpcCode.UNIMPLEMENTED,
    409: GrpcCode.ALREADY_EXISTS,
    413: GrpcCode.INVALID_ARGUMENT,
    429: GrpcCode.RESOURCE_EXHAUSTED,
    503: GrpcCode.UNAVAILABLE,
}
_REST_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "UNKNOWN",
    503: "UNAVAILABLE",
}
_NOT_JSON = object()


ControlPrepare = Callable[[Request, Any, Any], Build]
CONTROL_PLANE: list[tuple[str, str, PineconeOperation, ControlPrepare]] = [
    ("/indexes", "GET", PineconeOperation.LIST_INDEXES, control_plane.list_indexes),
    ("/indexes", "POST", PineconeOperation.CREATE_INDEX, control_plane.create_index),
    ("/indexes/{name}", "GET", PineconeOperation.DESCRIBE_INDEX, control_plane.describe_index),
    ("/indexes/{name}", "DELETE", PineconeOperation.DELETE_INDEX, control_plane.delete_index),
]


# -- the pipeline --------------------------------------------------------------------------


def render(error: PineconeApiError, *, control: bool) -> Response:
    """`error` in the data plane's or the control plane's JSON."""
    if control:
        code = _REST_CODES.get(error.status, "UNKNOWN")
        body: Any = {"error": {"code": code, "message": error.message}, "status": error.status}
    else:
        grpc = _GRPC_CODES.get(error.status, GrpcCode.INTERNAL)
        body = {"code": int(grpc), "message": error.message, "details": []}
    return json_response(body, error.status, error.headers)


def _fault_error(fault: Fault) -> PineconeApiError | None:
    kind = fault.kind
    if kind is FaultKind.RATE_LIMIT:
        headers = (
            {}
            if fault.retry_after is None
            else {"retry-after": retry_after_value(fault.retry_after)}
        )
        message = (
            "Request failed. You've reached the max requests per second for this index; "
            "retry with exponential backoff."
        )
        return PineconeApiError(429, message, headers)
    if kind is FaultKind.SERVER_ERROR:
        return PineconeApiError(fault.status, "Internal error; please retry.")
    if kind is FaultKind.OVERLOADED:
        return PineconeApiError(503, "The service is currently unavailable; please retry.")
    if kind is FaultKind.AUTH_ERROR:
        return PineconeApiError(401, "Invalid API Key")
    return None


def _body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


async def handle(
    request: Request,
    state: PineconeState,
    operation: PineconeOperation,
    prepare: Callable[[Any, int], Build],
    *,
    control: bool,
    index_name: str | None = None,
) -> Response:
    """Run one request through the pipeline in the module docstring."""
    raw = await request.body()
    body = _body(raw)
    key = request.headers.get("api-key", "")
    authenticated = hmac.compare_digest(key.encode(), state.api_key.encode())

    def record(fault: Fault | None) -> None:
        state.requests.append(
            PineconeRequest(
                operation=operation,
                method=request.method,
                path=request.url.path,
                index=index_name,
                headers=masked_headers(request.scope["headers"]),
                body=None if body is _NOT_JSON else body,
                fault=None if fault is None else fault.kind,
                authenticated=authenticated,
            )
        )

    try:
        if not authenticated:
            raise PineconeApiError(401, "Invalid API Key")
        if body is _NOT_JSON:
            raise bad_request("The request body is not valid JSON.")
        build = prepare(body, len(raw))
    except PineconeApiError as error:
        record(None)
        return render(error, control=control)
    fault = state.faults.take(operation)
    record(fault)
    if fault is not None:
        if fault.kind is FaultKind.DISCONNECT:
            return DroppedConnection()
        if fault.kind is FaultKind.SLOW_FIRST_BYTE and not await wait_or_disconnect(
            request.receive, fault.delay
        ):
            return Response(b"", 499)  # the client left; uvicorn discards this
        refusal = _fault_error(fault)
        if refusal is not None:
            return render(refusal, control=control)
    try:
        reply = build()
    except PineconeApiError as error:
        return render(error, control=control)
    if reply.body is None and fault is None:
        return Response(b"", reply.status)
    return deliver(reply, fault)


def _data_route(path: str, method: str, endpoint: Endpoint, state: PineconeState) -> Route:
    async def call(request: Request) -> Response:
        name = request.path_params.get("index_name")
        index = state.indexes.get(name if name is not None else state.indexes.default.name)

        def prepare(body: Any, size: int) -> Build:
            if index is None:
                raise PineconeApiError(404, f"Index {name or state.indexes.default.name} not found")
            return endpoint.prepare(Call(request, body, size, state, index))

        label = name or state.indexes.default.name
        return await handle(
            request, state, endpoint.operation, prepare, control=False, index_name=label
        )

    return Route(path, call, methods=[method])


def _data_routes(state: PineconeState) -> list[BaseRoute]:
    return [_data_route(path, method, endpoint, state) for path, method, endpoint in DATA_PLANE]


def _control_route(
    path: str,
    method: str,
    operation: PineconeOperation,
    prepare: ControlPrepare,
    state: PineconeState,
) -> Route:
    async def call(request: Request) -> Response:
        def bound(body: Any, size: int) -> Build:
            return prepare(request, state.indexes, body)

        return await handle(request, state, operation, bound, control=True)

    return Route(path, call, methods=[method])


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = f"No route for {request.method} {request.url.path}"
    return render(PineconeApiError(status, message), control=False)


def build_pinecone_app(state: PineconeState) -> Starlette:
    """The ASGI app of one fake Pinecone project over `state`."""
    routes: list[BaseRoute] = [
        *(
            _control_route(path, method, op, prep, state)
            for path, method, op, prep in CONTROL_PLANE
        ),
        *_data_routes(state),
        Mount("/index/{index_name}", routes=_data_routes(state)),
        *fake_control_routes(state),
    ]
    handlers: dict[Any, Any] = {404: _not_found, 405: _not_found}
    return Starlette(routes=routes, exception_handlers=handlers)
