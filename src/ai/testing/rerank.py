"""Cohere/Jina rerank: ``POST /v1/rerank`` with deterministic relevance scores.

Request ``{"model", "query", "documents": [str | {"text": str}], "top_n"?,
"return_documents"?}``; answer ``{"id", "results": [{"index", "relevance_score",
"document"?}], "meta": {"billed_units": {"search_units": 1}}}``, results best first. This
is the shape Cohere's v1 rerank and Jina's rerank share.

A score is the cosine similarity of the fake embeddings of query and document
(`ai.testing.embeddings.embed`: hashed words and word pairs, plural "s" dropped), clipped
to [0, 1]: documents sharing words with the query score higher, the same pair always scores
the same. Errors follow Cohere's format, ``{"message": "..."}``, with Bearer authentication.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ai.testing.api_errors import (
    ApiError,
    ErrorKind,
    bearer_token,
    retry_after_value,
)
from ai.testing.catalogue import DEFAULT_MODELS, Api, ModelCatalogue, owner_of
from ai.testing.embeddings import embed
from ai.testing.faults import Fault, FaultKind
from ai.testing.wire import JsonReply, json_response

RERANK_MODELS = tuple(model for model in DEFAULT_MODELS if owner_of(model) is Api.RERANK)
"""Models the fake reranks with (in the default catalogue)."""
MAX_DOCUMENTS = 1000
_DIMENSIONS = 256


@dataclass(frozen=True, slots=True)
class RerankRequest:
    """A validated rerank request."""

    model: str
    query: str
    documents: tuple[str, ...]
    top_n: int | None
    return_documents: bool


class RerankDialect:
    """Cohere's error format (``{"message"}``) and Bearer authentication."""

    def render(self, error: ApiError) -> Response:
        return json_response({"message": error.message}, error.status, dict(error.headers))

    def check_auth(self, headers: Mapping[str, str], api_key: str) -> ApiError | None:
        token = bearer_token(headers)
        if token is None or not hmac.compare_digest(token.encode(), api_key.encode()):
            return ApiError(401, ErrorKind.AUTHENTICATION, "invalid api token")
        return None

    def unknown_model(self, model: str | None) -> ApiError:
        return ApiError(404, ErrorKind.NOT_FOUND, f"model '{model}' not found")

    def invalid_json(self) -> ApiError:
        return ApiError(400, ErrorKind.INVALID_REQUEST, "invalid request: body is not JSON")

    def fault_error(self, fault: Fault, model: str | None) -> ApiError:
        kind = fault.kind
        if kind is FaultKind.RATE_LIMIT:
            headers = (
                {"retry-after": retry_after_value(fault.retry_after)}
                if fault.retry_after is not None
                else {}
            )
            return ApiError(
                429, ErrorKind.RATE_LIMIT, "You are using a Trial key...", headers=headers
            )
        if kind is FaultKind.AUTH_ERROR:
            return ApiError(401, ErrorKind.AUTHENTICATION, "invalid api token")
        if kind is FaultKind.UNKNOWN_MODEL:
            return self.unknown_model(model)
        if kind is FaultKind.OVERLOADED:
            return ApiError(503, ErrorKind.OVERLOADED, "the service is overloaded")
        status = fault.status if kind is FaultKind.SERVER_ERROR else 500
        return ApiError(status, ErrorKind.SERVER, "internal server error")


DIALECT = RerankDialect()


def parse_rerank(body: Any, catalogue: ModelCatalogue) -> RerankRequest:
    """Validate as the real endpoints do; raise `ApiError` (400, or 404 for the model)."""
    if not isinstance(body, dict):
        raise DIALECT.invalid_json()
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("model is required")
    if not catalogue.serves(Api.RERANK, model):
        raise DIALECT.unknown_model(model)
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _invalid("query must be a non-empty string")
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise _invalid("documents must be a non-empty list")
    if len(documents) > MAX_DOCUMENTS:
        raise _invalid(f"too many documents: at most {MAX_DOCUMENTS}")
    texts = tuple(_document_text(item) for item in documents)
    top_n = body.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise _invalid("top_n must be a positive integer")
    return RerankRequest(model, query, texts, top_n, bool(body.get("return_documents", False)))


def relevance(query: str, document: str) -> float:
    """The fake's score: cosine of the two texts' fake embeddings, clipped to [0, 1]."""
    a, b = embed(query, _DIMENSIONS), embed(document, _DIMENSIONS)
    return max(0.0, min(1.0, sum(x * y for x, y in zip(a, b, strict=True))))


def build_rerank_reply(request: RerankRequest) -> JsonReply:
    """Results best first (ties by index), `top_n` of them when given."""
    scores = [relevance(request.query, document) for document in request.documents]
    order = sorted(range(len(scores)), key=lambda index: (-scores[index], index))
    if request.top_n is not None:
        order = order[: request.top_n]
    results: list[dict[str, Any]] = []
    for index in order:
        result: dict[str, Any] = {"index": index, "relevance_score": scores[index]}
        if request.return_documents:
            result["document"] = {"text": request.documents[index]}
        results.append(result)
    return JsonReply(
        {
            "id": str(uuid.uuid4()),
            "results": results,
            "meta": {"api_version": {"version": "1"}, "billed_units": {"search_units": 1}},
        }
    )


def _document_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and isinstance(item.get("text"), str):
        return str(item["text"])
    raise _invalid("each document must be a string or an object with a 'text' string")


def _invalid(message: str) -> ApiError:
    return ApiError(400, ErrorKind.INVALID_REQUEST, f"invalid request: {message}")
