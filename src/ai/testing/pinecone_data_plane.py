"""The fake Pinecone's data-plane operations: each validates a request into a deferred
action (validation errors are raised before any fault is drawn, the action runs after).

The pipeline that calls these, and the routes, live in `pinecone_api`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ai.testing.pinecone_index import (
    MAX_FETCH_BY_METADATA_LIMIT,
    MAX_TOP_K,
    MAX_UPSERT_BYTES,
    MAX_UPSERT_VECTORS,
    FakeIndex,
    PineconeApiError,
    StoredVector,
    bad_request,
    check_id,
    check_ids,
    check_metadata,
    check_values,
    listed_name,
    namespace_key,
    parse_filter_field,
)
from ai.testing.pinecone_state import PineconeOperation, PineconeState
from ai.testing.wire import JsonReply

_LIST_LIMIT_MAX = 100

Build = Callable[[], JsonReply]


@dataclass(frozen=True, slots=True)
class Call:
    """One validated-to-be request: the raw request, its parsed body and size, the index."""

    request: Request
    body: Any
    size: int
    state: PineconeState
    index: FakeIndex


Prepare = Callable[[Call], Build]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One data-plane operation and how to validate it into a deferred action."""

    operation: PineconeOperation
    prepare: Prepare


# -- helpers -----------------------------------------------------------------------------


def _object(body: Any) -> Mapping[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise bad_request("The request body must be a JSON object.")
    return body


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be a boolean")
    return value


def _integer(raw: object, name: str, low: int, high: int, default: int | None = None) -> int:
    if raw is None and default is not None:
        return default
    if isinstance(raw, str) and raw.isdigit():  # query-string parameters
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise bad_request(f"{name} must be an integer between {low} and {high}")
    return raw


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: object) -> int:
    if token is None:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = decoded["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise bad_request("Invalid pagination token") from None
    if not isinstance(offset, int) or offset < 0:
        raise bad_request("Invalid pagination token")
    return offset


def _read_units(records: int) -> int:
    """Illustrative read units: one per ten records, at least one."""
    return max(1, math.ceil(records / 10))


def _stored(item: object, dimension: int) -> StoredVector:
    if not isinstance(item, Mapping):
        raise bad_request("each vector must be a JSON object with 'id' and 'values'")
    vector_id = check_id(item.get("id"))
    if item.get("sparseValues") is not None:
        raise bad_request("The fake serves dense vectors only; sparseValues are not supported.")
    values = check_values(item.get("values"), dimension)
    return StoredVector(vector_id, values, check_metadata(item.get("metadata"), vector_id))


def _scored(
    vector: StoredVector, score: float, with_values: bool, with_metadata: bool
) -> dict[str, Any]:
    scored: dict[str, Any] = {
        "id": vector.id,
        "score": score,
        "values": vector.values.tolist() if with_values else [],
    }
    if with_metadata and vector.metadata:
        scored["metadata"] = vector.metadata
    return scored


# -- data plane ----------------------------------------------------------------------------


def _upsert(call: Call) -> Build:
    body = _object(call.body)
    if call.size > MAX_UPSERT_BYTES:
        raise PineconeApiError(
            413,
            f"Request size {call.size} bytes exceeds the maximum supported size of "
            f"{MAX_UPSERT_BYTES} bytes",
        )
    raw = body.get("vectors")
    if not isinstance(raw, list) or not raw:
        raise bad_request("vectors must be a non-empty list")
    if len(raw) > MAX_UPSERT_VECTORS:
        raise bad_request(
            f"Number of vectors {len(raw)} exceeds the limit of {MAX_UPSERT_VECTORS} "
            "vectors per upsert request"
        )
    namespace = namespace_key(body.get("namespace"))
    vectors = [_stored(item, call.index.dimension) for item in raw]
    return lambda: JsonReply({"upsertedCount": call.index.upsert(namespace, vectors)})


def _query(call: Call) -> Build:
    body = _object(call.body)
    top_k = _integer(body.get("topK"), "topK", 1, MAX_TOP_K)
    if body.get("sparseVector") is not None:
        raise bad_request("The fake serves dense vectors only; sparseVector is not supported.")
    vector, by_id = body.get("vector"), body.get("id")
    if (vector is None) == (by_id is None):
        raise bad_request("Exactly one of 'vector' or 'id' must be provided")
    echoed = body.get("namespace") or ""
    namespace = namespace_key(echoed)
    filter = parse_filter_field(body.get("filter"))
    with_values, with_metadata = _flag(body, "includeValues"), _flag(body, "includeMetadata")
    query = None if vector is None else check_values(vector, call.index.dimension, "Query vector")
    stored_id = None if by_id is None else check_id(by_id)

    def build() -> JsonReply:
        target = query
        if stored_id is not None:
            found = call.index.fetch(namespace, [stored_id])
            target = found[0].values if found else None
        hits = [] if target is None else call.index.query(namespace, target, top_k, filter)
        return JsonReply(
            {
                "matches": [_scored(v, s, with_values, with_metadata) for v, s in hits],
                "namespace": echoed,
                "usage": {"readUnits": 1},
            }
        )

    return build


def _fetch(call: Call) -> Build:
    params = call.request.query_params
    ids = check_ids(params.getlist("ids"))
    echoed = params.get("namespace") or ""
    namespace = namespace_key(echoed)

    def build() -> JsonReply:
        found = call.index.fetch(namespace, ids)
        return JsonReply(
            {
                "vectors": {v.id: v.describe() for v in found},
                "namespace": echoed,
                "usage": {"readUnits": _read_units(len(found))},
            }
        )

    return build


def _fetch_by_metadata(call: Call) -> Build:
    body = _object(call.body)
    raw_filter = body.get("filter")
    if not raw_filter:
        raise bad_request("Empty filter provided for fetch by metadata request")
    filter = parse_filter_field(raw_filter)
    limit = _integer(body.get("limit"), "limit", 1, MAX_FETCH_BY_METADATA_LIMIT, default=100)
    offset = _offset(body.get("paginationToken"))
    echoed = body.get("namespace") or ""
    namespace = namespace_key(echoed)

    def build() -> JsonReply:
        found = call.index.matching(namespace, filter)
        page = found[offset : offset + limit]
        answer: dict[str, Any] = {
            "vectors": {v.id: v.describe() for v in page},
            "namespace": echoed,
            "usage": {"readUnits": _read_units(len(page))},
        }
        if offset + limit < len(found):
            answer["pagination"] = {"next": _token(offset + limit)}
        return JsonReply(answer)

    return build


def _delete(call: Call) -> Build:
    body = _object(call.body)
    namespace = namespace_key(body.get("namespace"))
    ids, raw_filter = body.get("ids"), body.get("filter")
    delete_all = _flag(body, "deleteAll")
    if delete_all and ids:
        raise bad_request("No explicit IDs allowed when delete_all=true")
    if delete_all and raw_filter is not None:
        raise bad_request("No filter allowed when delete_all=true")
    if raw_filter is not None and not raw_filter:
        raise bad_request("Delete with empty metadata filter is not allowed")
    if raw_filter is None and not delete_all and ids is None:
        raise bad_request("Must specify one of ids, deleteAll or filter")
    index = call.index
    # As on Pinecone, a filter wins over ids sent alongside it.
    filter = parse_filter_field(raw_filter)
    valid = None if raw_filter is not None or delete_all else check_ids(ids)

    def build() -> JsonReply:
        if valid is None:
            index.delete_matching(namespace, filter)
        else:
            index.delete_ids(namespace, valid)
        return JsonReply({})

    return build


def _describe_index_stats(call: Call) -> Build:
    body = _object(call.body)
    if body.get("filter"):
        raise bad_request(
            "Serverless and starter indexes do not support describing index stats "
            "with metadata filtering."
        )
    index = call.index

    def build() -> JsonReply:
        counts = index.counts()
        return JsonReply(
            {
                "namespaces": {listed_name(n): {"vectorCount": c} for n, c in counts.items()},
                "dimension": index.dimension,
                "indexFullness": 0.0,
                "totalVectorCount": sum(counts.values()),
                "metric": str(index.metric),
                "vectorType": "dense",
            }
        )

    return build


def _list_namespaces(call: Call) -> Build:
    params = call.request.query_params
    limit = _integer(params.get("limit"), "limit", 1, _LIST_LIMIT_MAX, default=_LIST_LIMIT_MAX)
    offset = _offset(params.get("paginationToken"))
    prefix = params.get("prefix") or ""

    def build() -> JsonReply:
        listed = sorted(
            (listed_name(name), count)
            for name, count in call.index.counts().items()
            if listed_name(name).startswith(prefix)
        )
        page = listed[offset : offset + limit]
        # record_count is an int64, which proto3 JSON encodes as a string.
        answer: dict[str, Any] = {
            "namespaces": [{"name": n, "record_count": str(c)} for n, c in page],
            "total_count": len(listed),
        }
        if offset + limit < len(listed):
            answer["pagination"] = {"next": _token(offset + limit)}
        return JsonReply(answer)

    return build


def _namespace_in_path(call: Call) -> str:
    namespace = namespace_key(call.request.path_params["namespace"])
    if not call.index.has_namespace(namespace):
        raise PineconeApiError(404, "Namespace not found")
    return namespace


def _describe_namespace(call: Call) -> Build:
    namespace = _namespace_in_path(call)
    count = call.index.counts().get(namespace, 0)
    return lambda: JsonReply({"name": listed_name(namespace), "record_count": str(count)})


def _delete_namespace(call: Call) -> Build:
    namespace = _namespace_in_path(call)

    def build() -> JsonReply:
        call.index.delete_namespace(namespace)
        return JsonReply({})

    return build


_STATS = Endpoint(PineconeOperation.DESCRIBE_INDEX_STATS, _describe_index_stats)
DATA_PLANE: list[tuple[str, str, Endpoint]] = [
    ("/vectors/upsert", "POST", Endpoint(PineconeOperation.UPSERT, _upsert)),
    ("/query", "POST", Endpoint(PineconeOperation.QUERY, _query)),
    ("/vectors/fetch", "GET", Endpoint(PineconeOperation.FETCH, _fetch)),
    (
        "/vectors/fetch_by_metadata",
        "POST",
        Endpoint(PineconeOperation.FETCH_BY_METADATA, _fetch_by_metadata),
    ),
    ("/vectors/delete", "POST", Endpoint(PineconeOperation.DELETE, _delete)),
    ("/describe_index_stats", "POST", _STATS),
    ("/describe_index_stats", "GET", _STATS),
    ("/namespaces", "GET", Endpoint(PineconeOperation.LIST_NAMESPACES, _list_namespaces)),
    (
        "/namespaces/{namespace:path}",
        "GET",
        Endpoint(PineconeOperation.DESCRIBE_NAMESPACE, _describe_namespace),
    ),
    (
        "/namespaces/{namespace:path}",
        "DELETE",
        Endpoint(PineconeOperation.DELETE_NAMESPACE, _delete_namespace),
    ),
]
"""(path, method, endpoint) for every data-plane route, relative to an index's host."""
