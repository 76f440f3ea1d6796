"""The fake's control plane: just enough of `api.pinecone.io/indexes` for clients to find,
create, list and delete indexes.

    GET    /indexes          {"indexes": [IndexModel, ...]}
    POST   /indexes          create (201 + IndexModel; 409 if the name is taken)
    GET    /indexes/{name}   IndexModel (404 if unknown)
    DELETE /indexes/{name}   202

An `IndexModel` is rendered in the shape of the API version the client asked for:
`X-Pinecone-API-Version` 2026-07 or later (the Python SDK 10 line) gets `schema` and
`deployment`; earlier versions (and no header) get the 2025 shape with `dimension`,
`metric`, `spec.serverless` and `vector_type`. Both carry `host`, with its `http://` scheme
so clients do not assume https. New indexes are ready at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request

from ai.testing.pinecone_index import (
    MAX_DIMENSION,
    FakeIndex,
    IndexRegistry,
    Metric,
    PineconeApiError,
    bad_request,
)
from ai.testing.wire import JsonReply

SCHEMA_API_VERSION = "2026-07"
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?")
_VECTOR_FIELD = "_values"

Build = Callable[[], JsonReply]


def index_host(request: Request, registry: IndexRegistry, index: FakeIndex) -> str:
    """The data-plane URL of `index` on this fake: the root for the default index,
    `/index/{name}` under it for the others."""
    base = f"{request.url.scheme}://{request.url.netloc}"
    return base if index is registry.default else f"{base}/index/{index.name}"


def index_model(request: Request, registry: IndexRegistry, index: FakeIndex) -> dict[str, Any]:
    """An `IndexModel` in the shape of the request's API version."""
    version = request.headers.get("x-pinecone-api-version", "")
    common: dict[str, Any] = {
        "name": index.name,
        "host": index_host(request, registry, index),
        "status": {"ready": True, "state": "Ready"},
        "deletion_protection": "disabled",
        "tags": None,
    }
    if version >= SCHEMA_API_VERSION:
        field = {"type": "dense_vector", "dimension": index.dimension, "metric": str(index.metric)}
        return {
            **common,
            "schema": {"fields": {_VECTOR_FIELD: field}},
            "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
        }
    return {
        **common,
        "dimension": index.dimension,
        "metric": str(index.metric),
        "vector_type": "dense",
        "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
    }


def _known(registry: IndexRegistry, request: Request) -> FakeIndex:
    name = request.path_params["name"]
    index = registry.get(name)
    if index is None:
        raise PineconeApiError(404, f"Resource {name} not found")
    return index


def list_indexes(request: Request, registry: IndexRegistry, body: object) -> Build:
    """`GET /indexes`."""
    return lambda: JsonReply(
        {"indexes": [index_model(request, registry, i) for i in registry.all()]}
    )


def describe_index(request: Request, registry: IndexRegistry, body: object) -> Build:
    """`GET /indexes/{name}`."""
    index = _known(registry, request)
    return lambda: JsonReply(index_model(request, registry, index))


def delete_index(request: Request, registry: IndexRegistry, body: object) -> Build:
    """`DELETE /indexes/{name}` (202, empty body)."""
    name = _known(registry, request).name

    def build() -> JsonReply:
        registry.delete(name)
        return JsonReply(None, status=202)

    return build


def create_index(request: Request, registry: IndexRegistry, body: object) -> Build:
    """`POST /indexes`, in the 2026-07 (`schema`) or the 2025 (`dimension`) form."""
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise bad_request(
            "Index name must be 1-45 characters, lowercase alphanumeric characters or "
            "hyphens, and must not begin or end with a hyphen."
        )
    dimension, metric = _vector_settings(body)

    def build() -> JsonReply:
        index = registry.create(name, dimension, metric)
        return JsonReply(index_model(request, registry, index), status=201)

    return build


def _vector_settings(body: Mapping[str, Any]) -> tuple[int, Metric]:
    schema = body.get("schema")
    if schema is not None:
        fields = schema.get("fields") if isinstance(schema, Mapping) else None
        if not isinstance(fields, Mapping):
            raise bad_request("schema must be an object with 'fields'.")
        dense = [f for f in fields.values() if isinstance(f, Mapping)]
        if len(dense) != 1 or dense[0].get("type") != "dense_vector" or len(fields) != 1:
            raise bad_request("The fake serves dense indexes: declare one dense_vector field.")
        return _dimension(dense[0].get("dimension")), _metric(dense[0].get("metric"))
    if body.get("vector_type", "dense") != "dense":
        raise bad_request("The fake serves dense indexes only (vector_type 'dense').")
    return _dimension(body.get("dimension")), _metric(body.get("metric"))


def _dimension(raw: object) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_DIMENSION:
        raise bad_request(f"dimension must be an integer from 1 to {MAX_DIMENSION}.")
    return raw


def _metric(raw: object) -> Metric:
    if raw is None:
        return Metric.COSINE
    try:
        return Metric(str(raw).lower())
    except ValueError:
        raise bad_request("metric must be one of 'cosine', 'euclidean' or 'dotproduct'.") from None
