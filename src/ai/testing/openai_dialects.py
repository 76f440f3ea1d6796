"""Errors, authentication and fault answers of the two OpenAI-format hosts.

OpenAI: `{"error": {"message", "type", "param", "code"}}`, `x-request-id`, and
`x-ratelimit-*` headers on 429s. OpenRouter speaks the same request format but reports
errors as `{"error": {"code": <HTTP status>, "message", "metadata"?}}`.
Both authenticate with `Authorization: Bearer <key>`.

Request validation is product code (`ai.providers.openai_serving`) and raises
`OpenAIRequestError`; `api_error` turns it into the fakes' `ApiError`, so each host renders
it in its own format.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Mapping

from starlette.responses import Response

from ai.providers.openai_serving import (
    OpenAIRequestError,
    error_body,
    invalid_json,
    model_not_found,
)
from ai.testing.api_errors import (
    ApiError,
    ErrorKind,
    bearer_token,
    retry_after_seconds,
    retry_after_value,
)
from ai.testing.faults import Fault, FaultKind
from ai.testing.wire import json_response

_OPENAI_TYPES: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "invalid_request_error",
    ErrorKind.NOT_FOUND: "invalid_request_error",
    ErrorKind.RATE_LIMIT: "requests",
    ErrorKind.SERVER: "server_error",
    ErrorKind.OVERLOADED: "server_error",
}
_OPENAI_5XX: dict[int, str] = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
}
_KINDS_BY_STATUS: dict[int, ErrorKind] = {
    401: ErrorKind.AUTHENTICATION,
    404: ErrorKind.NOT_FOUND,
    429: ErrorKind.RATE_LIMIT,
}
_RPM_LIMIT = 10_000
UNREADABLE_COUNT = "many"
"""What the `bad_usage` fault puts where OpenAI-format APIs report token counts."""
USAGE_COUNT_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
"""The token counts of an OpenAI-format `usage` object (chat and embeddings)."""
_TPM_LIMIT = 30_000_000


def api_error(error: OpenAIRequestError) -> ApiError:
    """The fakes' `ApiError` for a request the serving code refused (same status, message,
    param and code; the kind follows from the status)."""
    kind = _KINDS_BY_STATUS.get(error.status, ErrorKind.INVALID_REQUEST)
    if error.status >= 500:
        kind = ErrorKind.SERVER
    return ApiError(error.status, kind, error.message, param=error.param, code=error.code)


def _duration(seconds: float) -> str:
    """OpenAI's reset-header duration format: `120ms`, `2s`, `1m30s`."""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _request_id() -> str:
    return "req_" + uuid.uuid4().hex


def _key_matches(token: str | None, api_key: str) -> bool:
    return token is not None and hmac.compare_digest(token.encode(), api_key.encode())


class OpenAIDialect:
    """api.openai.com's error format and authentication."""

    def render(self, error: ApiError) -> Response:
        """`{"error": {...}}` with the OpenAI type name for the error kind."""
        body = error_body(error.message, _OPENAI_TYPES[error.kind], error.param, error.code)
        headers = {"x-request-id": _request_id(), **error.headers}
        return json_response(body, error.status, headers)

    def check_auth(self, headers: Mapping[str, str], api_key: str) -> ApiError | None:
        """Bearer key required; a wrong one gets `invalid_api_key` (the key is not echoed)."""
        token = bearer_token(headers)
        if token is None:
            return ApiError(
                401,
                ErrorKind.AUTHENTICATION,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if not _key_matches(token, api_key):
            return self._invalid_key()
        return None

    def _invalid_key(self) -> ApiError:
        return ApiError(
            401,
            ErrorKind.AUTHENTICATION,
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )

    def unknown_model(self, model: str | None) -> ApiError:
        """404 `model_not_found`."""
        return api_error(model_not_found(model))

    def invalid_json(self) -> ApiError:
        """400 for a body that is not a JSON object."""
        return api_error(invalid_json())

    def fault_error(self, fault: Fault, model: str | None) -> ApiError:
        """The status-code form of `fault` as api.openai.com would send it."""
        kind = fault.kind
        if kind is FaultKind.RATE_LIMIT:
            return self._rate_limited(fault, model)
        if kind is FaultKind.AUTH_ERROR:
            return self._invalid_key()
        if kind is FaultKind.UNKNOWN_MODEL:
            return self.unknown_model(model)
        if kind is FaultKind.OVERLOADED:
            return ApiError(
                503,
                ErrorKind.OVERLOADED,
                "The engine is currently overloaded, please try again later.",
            )
        status = fault.status if kind is FaultKind.SERVER_ERROR else 500
        message = _OPENAI_5XX.get(status, _OPENAI_5XX[500])
        return ApiError(status, ErrorKind.SERVER, message)

    def _rate_limited(self, fault: Fault, model: str | None) -> ApiError:
        wait = retry_after_seconds(fault.retry_after)
        headers = {
            "x-ratelimit-limit-requests": str(_RPM_LIMIT),
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": _duration(wait),
            "x-ratelimit-limit-tokens": str(_TPM_LIMIT),
            "x-ratelimit-remaining-tokens": str(_TPM_LIMIT),
            "x-ratelimit-reset-tokens": "0s",
        }
        if fault.retry_after is not None:
            headers["retry-after"] = retry_after_value(fault.retry_after)
        message = (
            f"Rate limit reached for {model} in organization org-devorafake on requests per "
            f"min (RPM): Limit {_RPM_LIMIT}, Used {_RPM_LIMIT}, Requested 1. Please try again "
            f"in {_duration(wait)}. Visit https://platform.openai.com/account/rate-limits "
            "to learn more."
        )
        return ApiError(
            429, ErrorKind.RATE_LIMIT, message, code="rate_limit_exceeded", headers=headers
        )


class OpenRouterDialect:
    """openrouter.ai's error format (`code` is the HTTP status) and authentication."""

    def render(self, error: ApiError) -> Response:
        """`{"error": {"code": status, "message": ...}}`, as OpenRouter documents."""
        inner: dict[str, object] = {"code": error.status, "message": error.message}
        if error.kind is ErrorKind.RATE_LIMIT or error.status >= 500:
            inner["metadata"] = {"provider_name": None, "raw": None}
        return json_response({"error": inner}, error.status, dict(error.headers))

    def check_auth(self, headers: Mapping[str, str], api_key: str) -> ApiError | None:
        """Bearer key required; OpenRouter's own 401 messages."""
        token = bearer_token(headers)
        if token is None:
            return ApiError(401, ErrorKind.AUTHENTICATION, "No auth credentials found")
        if not _key_matches(token, api_key):
            return ApiError(401, ErrorKind.AUTHENTICATION, "User not found.")
        return None

    def unknown_model(self, model: str | None) -> ApiError:
        """404 "No endpoints found" (OpenRouter's answer when no provider serves the id)."""
        return ApiError(404, ErrorKind.NOT_FOUND, f"No endpoints found for {model}.")

    def invalid_json(self) -> ApiError:
        """400 for a body that is not a JSON object."""
        return ApiError(400, ErrorKind.INVALID_REQUEST, "Invalid JSON in request body")

    def fault_error(self, fault: Fault, model: str | None) -> ApiError:
        """The status-code form of `fault` as OpenRouter would send it."""
        kind = fault.kind
        if kind is FaultKind.RATE_LIMIT:
            wait = retry_after_seconds(fault.retry_after)
            headers = {
                "x-ratelimit-limit": "20",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int((time.time() + wait) * 1000)),
            }
            if fault.retry_after is not None:
                headers["retry-after"] = retry_after_value(fault.retry_after)
            message = f"Rate limit exceeded: {model} is temporarily rate-limited upstream."
            return ApiError(429, ErrorKind.RATE_LIMIT, message, headers=headers)
        if kind is FaultKind.AUTH_ERROR:
            return ApiError(401, ErrorKind.AUTHENTICATION, "User not found.")
        if kind is FaultKind.UNKNOWN_MODEL:
            return self.unknown_model(model)
        if kind is FaultKind.OVERLOADED:
            return ApiError(503, ErrorKind.OVERLOADED, f"{model} is overloaded upstream.")
        status = fault.status if kind is FaultKind.SERVER_ERROR else 500
        messages = {502: "Provider returned error", 503: "Service temporarily unavailable"}
        return ApiError(status, ErrorKind.SERVER, messages.get(status, "Internal Server Error"))
