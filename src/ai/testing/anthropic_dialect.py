"""Anthropic's error format, authentication and fault answers.

Errors are `{"type": "error", "error": {"type", "message"}, "request_id"}` with a
`request-id` header. The key may come as `x-api-key` (the documented header) or as
`Authorization: Bearer` (what the current SDK sends); `anthropic-version` is required.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from starlette.responses import Response

from ai.testing.api_errors import (
    ApiError,
    ErrorKind,
    bearer_token,
    retry_after_seconds,
    retry_after_value,
)
from ai.testing.faults import Fault, FaultKind
from ai.testing.wire import json_response

_TYPES: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.SERVER: "api_error",
    ErrorKind.OVERLOADED: "overloaded_error",
}
_REQUESTS_PER_MINUTE = 4000


def request_id() -> str:
    """An Anthropic-style request id (`req_...`)."""
    return "req_" + uuid.uuid4().hex[:24]


def invalid(message: str) -> ApiError:
    """A 400 `invalid_request_error`."""
    return ApiError(400, ErrorKind.INVALID_REQUEST, message)


class AnthropicDialect:
    """api.anthropic.com's error format and authentication."""

    def render(self, error: ApiError) -> Response:
        """`{"type": "error", "error": {...}, "request_id": ...}`."""
        rid = request_id()
        body = {
            "type": "error",
            "error": {"type": _TYPES[error.kind], "message": error.message},
            "request_id": rid,
        }
        return json_response(body, error.status, {"request-id": rid, **error.headers})

    def check_auth(self, headers: Mapping[str, str], api_key: str) -> ApiError | None:
        """`x-api-key` or Bearer must match; `anthropic-version` must be present."""
        key = headers.get("x-api-key") or bearer_token(headers)
        if key is None:
            return ApiError(401, ErrorKind.AUTHENTICATION, "x-api-key header is required")
        if not hmac.compare_digest(key.encode(), api_key.encode()):
            return self._invalid_key()
        if not headers.get("anthropic-version"):
            return invalid("anthropic-version: header is required")
        return None

    def _invalid_key(self) -> ApiError:
        return ApiError(401, ErrorKind.AUTHENTICATION, "invalid x-api-key")

    def unknown_model(self, model: str | None) -> ApiError:
        """404 `not_found_error` naming the model, as the real API does."""
        return ApiError(404, ErrorKind.NOT_FOUND, f"model: {model}")

    def invalid_json(self) -> ApiError:
        """400 for a body that is not a JSON object."""
        return invalid("There was an issue with the request body: it must be a JSON object.")

    def fault_error(self, fault: Fault, model: str | None) -> ApiError:
        """The status-code form of `fault` as Anthropic would send it."""
        kind = fault.kind
        if kind is FaultKind.RATE_LIMIT:
            return self._rate_limited(fault)
        if kind is FaultKind.AUTH_ERROR:
            return self._invalid_key()
        if kind is FaultKind.UNKNOWN_MODEL:
            return self.unknown_model(model)
        if kind is FaultKind.OVERLOADED:
            return ApiError(529, ErrorKind.OVERLOADED, "Overloaded")
        status = fault.status if kind is FaultKind.SERVER_ERROR else 500
        return ApiError(status, ErrorKind.SERVER, "Internal server error")

    def _rate_limited(self, fault: Fault) -> ApiError:
        reset = datetime.now(UTC) + timedelta(seconds=retry_after_seconds(fault.retry_after))
        headers = {
            "anthropic-ratelimit-requests-limit": str(_REQUESTS_PER_MINUTE),
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if fault.retry_after is not None:
            headers["retry-after"] = retry_after_value(fault.retry_after)
        message = (
            "This request would exceed the rate limit for your organization of "
            f"{_REQUESTS_PER_MINUTE} requests per minute. Please try again later."
        )
        return ApiError(429, ErrorKind.RATE_LIMIT, message, headers=headers)
