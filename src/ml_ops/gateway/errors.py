"""Every way a gateway request can fail, as OpenAI's error JSON with the status the
official SDKs turn into their usual exceptions:

    400 BadRequestError          invalid request, the upstream refused the request's content
    401 AuthenticationError      no key, wrong key, revoked or expired key
    403 PermissionDeniedError    the key may not use that model
    404 NotFoundError            no such model (or route)
    429 RateLimitError           over the key's rpm or tpm (`Retry-After`, x-ratelimit-*),
                                 over a budget (`insufficient_quota`), or upstream 429
    500 InternalServerError      a bug: the message carries the request id, never details
    502 / 503 / 504              the upstream failed, was unavailable, or timed out; 503
                                 also when Redis or the key store did not answer in time

`error_for` is the one place where devora's error tree (`ai.errors`) is converted. No
message ever carries a key: the caller's is never echoed, upstream messages are passed
through `ai.errors.redact`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime

from ai.errors import (
    AllModelsFailedError,
    AuthenticationError,
    BudgetExceededError,
    CallRefusedError,
    CircuitOpenError,
    ConfigurationError,
    ContextLengthError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    StoreError,
    redact,
)
from ai.providers.openai_serving import OpenAIRequestError

logger = logging.getLogger("ml_ops.gateway")

SERVER_ERROR = "server_error"


class GatewayError(OpenAIRequestError):
    """An `OpenAIRequestError` with response headers (Retry-After, x-ratelimit-*)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(redact(message), status=status, type=type, param=param, code=code)
        self.headers = dict(headers or {})


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up, at least 1 (what clients sleep on)."""
    return str(max(1, math.ceil(seconds)))


def no_key() -> GatewayError:
    return GatewayError(
        "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        status=401,
    )


def invalid_key() -> GatewayError:
    return GatewayError(
        "Incorrect API key provided. Ask your gateway administrator for a key "
        "(devora keys create).",
        status=401,
        code="invalid_api_key",
    )


def key_revoked(key_id: str) -> GatewayError:
    return GatewayError(
        f"The API key {key_id} has been revoked; ask your gateway administrator for a new one.",
        status=401,
        code="invalid_api_key",
    )


def key_expired(key_id: str, when: datetime) -> GatewayError:
    return GatewayError(
        f"The API key {key_id} expired at {when.isoformat()}; ask your gateway "
        "administrator for a new one.",
        status=401,
        code="invalid_api_key",
    )


def model_not_allowed(model: str, allowed: tuple[str, ...]) -> GatewayError:
    return GatewayError(
        f"This API key may not use the model `{model}`; it may use: {', '.join(allowed)}.",
        status=403,
        param="model",
        code="model_not_allowed",
    )


def n_not_supported(n: int) -> GatewayError:
    return GatewayError(
        f"n={n}: this gateway returns one choice per request. Send {n} requests instead "
        "(each is priced and rate limited as one call).",
        status=400,
        param="n",
        code="unsupported_value",
    )


def not_found(path: str) -> GatewayError:
    return GatewayError(f"Invalid URL ({path})", status=404)


def method_not_allowed(method: str, path: str) -> GatewayError:
    return GatewayError(f"Invalid method {method} for {path}", status=405)


def internal_error(request_id: str) -> GatewayError:
    return GatewayError(
        f"The gateway failed to handle this request (request id {request_id}); the "
        "administrator will find the details in the gateway's log.",
        status=500,
        type=SERVER_ERROR,
    )


def error_for(error: BaseException, request_id: str) -> GatewayError:
    """The answer for an exception raised while serving a request."""
    if isinstance(error, GatewayError):
        return error
    if isinstance(error, OpenAIRequestError):
        return GatewayError(
            error.message, status=error.status, type=error.type, param=error.param, code=error.code
        )
    if isinstance(error, CallRefusedError):
        return _refused(error)
    if isinstance(error, ProviderError):
        return _upstream(error)
    if isinstance(error, ConfigurationError):
        return GatewayError(str(error), status=400)
    if isinstance(error, StoreError):
        return _store_unavailable(error, request_id)
    logger.error("request %s failed", request_id, exc_info=error)
    return internal_error(request_id)


def _store_unavailable(error: StoreError, request_id: str) -> GatewayError:
    """A shared store (Redis counters, the key store) did not answer in time: 503 with a
    short Retry-After, since it usually comes back (the details go to the log only)."""
    logger.warning("request %s: %s", request_id, error)
    return GatewayError(
        f"The gateway's shared state did not answer in time (request id {request_id}); "
        "retry in a moment.",
        status=503,
        type=SERVER_ERROR,
        code="store_unavailable",
        headers={"retry-after": "1"},
    )


def _refused(error: CallRefusedError) -> GatewayError:
    headers = {}
    if error.retry_after is not None:
        headers["retry-after"] = retry_after_header(error.retry_after)
    if isinstance(error, BudgetExceededError):
        return GatewayError(
            f"You exceeded your budget: {error}",
            status=429,
            type="insufficient_quota",
            code="insufficient_quota",
            headers=headers,
        )
    return GatewayError(str(error), status=403, code="refused", headers=headers)


_UPSTREAM: tuple[tuple[type[ProviderError], int, str], ...] = (
    (ContextLengthError, 400, "context_length_exceeded"),
    (RateLimitError, 429, "upstream_rate_limited"),
    (ProviderTimeoutError, 504, "upstream_timeout"),
    (OverloadedError, 503, "upstream_overloaded"),
    (CircuitOpenError, 503, "upstream_unavailable"),
    (ProviderConnectionError, 502, "upstream_unreachable"),
    (AuthenticationError, 502, "upstream_auth_failed"),
)


def _upstream(error: ProviderError) -> GatewayError:
    """An upstream failure (after retries and fallbacks): the status says whose fault."""
    last = error.errors[-1] if isinstance(error, AllModelsFailedError) and error.errors else error
    status, code = 502, "upstream_error"
    for kind, mapped, name in _UPSTREAM:
        if isinstance(last, kind):
            status, code = mapped, name
            break
    else:
        if last.status is not None and 400 <= last.status < 500 and last.status not in (401, 403):
            status, code = 400, "upstream_rejected"
    headers = {}
    if status == 429 and last.retry_after is not None:
        headers["retry-after"] = retry_after_header(last.retry_after)
    message = last.provider_message or str(last)
    if isinstance(last, AuthenticationError):
        message = "The upstream provider refused the gateway's credentials; tell the administrator."
    return GatewayError(
        message,
        status=status,
        type="invalid_request_error" if status == 400 else SERVER_ERROR,
        code=code,
        headers=headers,
    )
