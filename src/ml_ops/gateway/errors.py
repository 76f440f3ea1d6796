"""Every way a gateway request can fail, as OpenAI's error JSON with the status the
official SDKs turn into their usual exceptions:

    400 BadRequestError          invalid request, the upstream refused the request's content
                                 (its 400, 413 or 422: context length, a bad parameter)
    401 AuthenticationError      no key, wrong key, revoked or expired key
    403 PermissionDeniedError    the key may not use that model
    404 NotFoundError            no such model (or route)
    413 APIStatusError           the body is over the gateway's size limit
    429 RateLimitError           over the key's rpm or tpm (`Retry-After`, x-ratelimit-*),
                                 over a budget (`insufficient_quota`), or upstream 429
    500 InternalServerError      a bug: the message carries the request id, never details
    502 / 503 / 504              the upstream failed, was unreachable, refused the gateway's
                                 credentials, does not know a configured model (the alias is
                                 misconfigured, not the request), was unavailable, or timed
                                 out; 503 also when Redis or the key store did not answer

When every model of an alias failed, the answer is about the most telling failure: an
outage of the upstream (5xx, timeout, connection, 429) before a configuration problem
(a model the provider does not know, refused credentials) before a problem with the
request itself, the primary model first among equals; the message names the others.

`error_for` is the one place where devora's error tree (`ai.errors`) is converted. No
message ever carries a key: the caller's is never echoed, upstream messages are passed
through `ai.errors.redact`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import IntEnum

from ai.errors import (
    AllModelsFailedError,
    AuthenticationError,
    BudgetExceededError,
    CallRefusedError,
    CircuitOpenError,
    ConfigurationError,
    ContextLengthError,
    ModelNotFoundError,
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
    # Not OpenAI's "Bearer YOUR_KEY": `redact` would mask that as if it were a key.
    return GatewayError(
        "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer <key>).",
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


def error_for(error: BaseException, request_id: str, *, alias: str | None = None) -> GatewayError:
    """The answer for an exception raised while serving a request for the model name
    `alias` (when known: upstream errors about configuration name it)."""
    if isinstance(error, GatewayError):
        return error
    if isinstance(error, OpenAIRequestError):
        return GatewayError(
            error.message, status=error.status, type=error.type, param=error.param, code=error.code
        )
    if isinstance(error, CallRefusedError):
        return _refused(error)
    if isinstance(error, ProviderError):
        return _upstream(error, alias)
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
    (ModelNotFoundError, 502, "upstream_model_not_found"),
)
_REQUEST_STATUSES = frozenset({400, 413, 422})
"""Upstream answers about the request's content, which the client can fix."""


class _Blame(IntEnum):
    """Whose failure an upstream error is; the lowest is reported first."""

    UPSTREAM = 0  # an outage: 5xx, timeout, connection, overload, 429
    CONFIGURATION = 1  # the gateway's: a model the provider does not know, bad credentials
    REQUEST = 2  # the client's: context length, a parameter the provider refused


def _status(error: ProviderError) -> tuple[int, str]:
    for kind, status, code in _UPSTREAM:
        if isinstance(error, kind):
            return status, code
    if error.status in _REQUEST_STATUSES:
        return 400, "upstream_rejected"
    return 502, "upstream_error"


def _blame(error: ProviderError) -> _Blame:
    status, _ = _status(error)
    if status == 400:
        return _Blame.REQUEST
    if isinstance(error, AuthenticationError | ModelNotFoundError):
        return _Blame.CONFIGURATION
    return _Blame.UPSTREAM


def _upstream(error: ProviderError, alias: str | None) -> GatewayError:
    """An upstream failure (after retries and fallbacks): the status says whose fault."""
    tried = error.errors if isinstance(error, AllModelsFailedError) and error.errors else [error]
    chosen = min(tried, key=_blame)  # the first of the lowest blame: primary before fallbacks
    status, code = _status(chosen)
    headers = {}
    if status == 429 and chosen.retry_after is not None:
        headers["retry-after"] = retry_after_header(chosen.retry_after)
    message, others = _upstream_message(chosen, alias), _others(chosen, tried)
    if others and not message.rstrip().endswith((".", "!", "?")):
        message = message.rstrip() + "."
    return GatewayError(
        message + others,
        status=status,
        type="invalid_request_error" if status == 400 else SERVER_ERROR,
        code=code,
        headers=headers,
    )


def _upstream_message(error: ProviderError, alias: str | None) -> str:
    if isinstance(error, AuthenticationError):
        provider = f" ({error.provider})" if error.provider else ""
        return (
            f"The upstream provider{provider} refused the gateway's credentials; tell the "
            "administrator."
        )
    said = error.provider_message or str(error)
    if isinstance(error, ModelNotFoundError):
        name = f"`{alias}`" if alias else "this model"
        return (
            f"The gateway's {name} is misconfigured: {error.provider} does not know the model "
            f"`{error.model}` ({said.rstrip('.')}). Tell the gateway's administrator."
        )
    return said


def _others(chosen: ProviderError, tried: Sequence[ProviderError]) -> str:
    """What became of the other models tried, in a few words each."""
    others = [
        f"{error.model} ({error.provider}): {error.error_type.value}"
        + (f", HTTP {error.status}" if error.status else "")
        for error in tried
        if error is not chosen
    ]
    return f" Also failed: {'; '.join(others)}." if others else ""
