"""One error tree for all of devora-ai, so callers catch by meaning, not by library.

Lower libraries' errors (httpx, redis, asyncpg) are converted to these at one boundary
per subsystem; nothing else in the package raises a foreign exception type on purpose.

    DevoraError
    ├── ConfigurationError              a setting is missing, misspelt or out of range
    ├── OpenAIRequestError              a request to our OpenAI-format server is invalid
    │                                   (ai.providers.openai_serving; status, param, code)
    ├── TemplateError                   a prompt template or its variables are invalid
    │   └── TemplateNotFoundError       no such template, version or label
    ├── FilterError                     a metadata filter is malformed
    ├── StoreError                      a database, cache or vector store failed
    ├── CallRefusedError                a guard refused the call before it was made
    │   └── BudgetExceededError         a budget refuses the call
    └── ProviderError                   an LLM provider call failed (status, provider message)
        ├── AuthenticationError         401/403: the key is wrong or lacks access
        ├── RateLimitError              429: slow down (retry_after when the provider said)
        ├── ProviderTimeoutError        the deadline or a read timeout passed
        ├── ProviderConnectionError     no connection, or it broke before a response
        ├── ModelNotFoundError          404 / unknown model: another model may work
        ├── ContextLengthError          the prompt does not fit the model's context
        ├── OverloadedError             529 / provider overloaded
        ├── InvalidResponseError        the provider answered something we cannot parse
        ├── StreamInterruptedError      a stream broke after it started
        ├── CircuitOpenError            the model failed repeatedly and is paused for a cool-down
        └── AllModelsFailedError        every model in the fallback chain failed

`ProviderTimeoutError` and `ProviderConnectionError` were called `TimeoutError` and
`ConnectionError` in 0.1, shadowing the built-ins; the old names still import, with a
`DeprecationWarning`, for one release.

Every message says what to do next. No message ever contains an API key: values that
look like keys are masked by `redact` before they reach an error, log line or repr.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import warnings
from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

_KEY_PATTERN = re.compile(
    r"(?:sk-[A-Za-z0-9_\-]{6,}|pcsk_[A-Za-z0-9_\-]{6,})"
    r"|(?i:bearer)\s+[A-Za-z0-9_\-\.]{6,}"
)


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Mask API keys in `text`: the given secrets exactly, and anything shaped like a key."""
    for secret in secrets:
        # Repeat: masking one occurrence can expose an overlapping one (`abcXabc` twice).
        # Each pass shortens the text, so this ends.
        while secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, mask_secret(secret))
    return _KEY_PATTERN.sub(lambda match: mask_secret(match.group(0)), text)


def mask_secret(secret: str | None) -> str:
    """Show that a secret is set without showing it: `sk-...f00` style, at most 3 chars."""
    if not secret:
        return "<unset>"
    if len(secret) < 12:
        return "***"
    return f"{secret[:3]}...{secret[-3:]}"


_QUERY_CREDENTIAL = re.compile(
    r"(?i)((?:^|&)(?:password|key|api[_-]?key|token|access_token|secret)=)([^&]*)"
)


def mask_url(url: str) -> str:
    """`url` with its credentials (and nothing else) replaced by `***`, for messages, logs
    and reprs.

    Every place a client reads one from is masked: the user info's password (HTTP basic
    auth, Redis, PostgreSQL) and credential query arguments: `password=` (redis-py with
    unix:// sockets, libpq) and the API keys and tokens some hosts take in the query
    (`key=`, `api_key=`, `token=`).
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable URL>"
    if password:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        url = parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()
    # Edit the query in place: geturl() would turn unix:///path into unix:/path.
    head, question_mark, query = url.partition("?")
    return head + question_mark + _QUERY_CREDENTIAL.sub(r"\g<1>***", query)


def repr_masking_urls(instance: Any, url_fields: Collection[str]) -> str:
    """The repr a dataclass would have, with the credentials of the URLs held by
    `url_fields` masked (`mask_url`) and fields declared `repr=False` left out: for
    settings that name a Redis or PostgreSQL URL, whose password must not reach a log."""
    shown = []
    for item in dataclasses.fields(instance):
        if not item.repr:
            continue
        value = getattr(instance, item.name)
        if item.name in url_fields and isinstance(value, str):
            value = mask_url(value)
        shown.append(f"{item.name}={value!r}")
    return f"{type(instance).__name__}({', '.join(shown)})"


def url_secrets(url: str) -> tuple[str, ...]:
    """The credentials `url` carries (what `mask_url` masks), to mask by value with
    `redact` wherever the URL may be quoted by a lower library."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return ()
    query = url.partition("?")[2]
    found = [password or ""] + [m.group(2) for m in _QUERY_CREDENTIAL.finditer(query)]
    return tuple(secret for secret in found if secret)


class ErrorType(StrEnum):
    """Stable short names of failures, for records, metrics and dashboards.

    Provider failures map one to one onto the `ProviderError` subclasses; `cancelled`,
    `refused`, `invalid_request` (a `ConfigurationError` about the call itself) and
    `unexpected` name calls that ended without a provider error.
    """

    PROVIDER_ERROR = "provider_error"
    AUTHENTICATION = "authentication"
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MODEL_NOT_FOUND = "model_not_found"
    CONTEXT_LENGTH = "context_length"
    OVERLOADED = "overloaded"
    INVALID_RESPONSE = "invalid_response"
    STREAM_INTERRUPTED = "stream_interrupted"
    CIRCUIT_OPEN = "circuit_open"
    ALL_MODELS_FAILED = "all_models_failed"
    CANCELLED = "cancelled"
    REFUSED = "refused"
    INVALID_REQUEST = "invalid_request"
    UNEXPECTED = "unexpected"


class DevoraError(Exception):
    """Root of every error devora-ai raises on purpose."""


class ConfigurationError(DevoraError):
    """A setting is missing, misspelt or out of range; the message names it."""


class TemplateError(DevoraError):
    """A prompt template or the variables given to it are invalid."""


class TemplateNotFoundError(TemplateError, LookupError):
    """No template, version or label by that name; the message lists what exists."""


class FilterError(DevoraError):
    """A metadata filter is malformed; the message names the bad part."""


class StoreError(DevoraError):
    """A storage backend (database, cache, vector store) failed."""


class CallRefusedError(DevoraError):
    """A guard (`ai.core.guards.CallGuard`) refused the call before any provider request.

    `guard` names the guard; `retry_after` is when trying again may succeed, if known.
    The refused call still leaves one `RequestRecord` (outcome "refused").
    """

    def __init__(
        self, message: str, *, guard: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(redact(message))
        self.guard = guard
        self.retry_after = retry_after


class BudgetExceededError(CallRefusedError):
    """A budget refuses the call; raise the limit or wait for the next period."""


class ProviderError(DevoraError):
    """An LLM provider call failed.

    `status` is the HTTP status when there was one, `provider_message` the provider's own
    words, `retryable` whether trying again (after `retry_after` seconds when known) can help.
    `secrets` are masked by value in both texts (the configured API keys, whatever their
    shape), besides everything that looks like a key.
    """

    retryable_by_default = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status: int | None = None,
        provider_message: str | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        super().__init__(redact(message, secrets))
        self.provider = provider
        self.model = model
        self.status = status
        self.provider_message = redact(provider_message, secrets) if provider_message else None
        self.retry_after = retry_after
        self.retryable = self.retryable_by_default if retryable is None else retryable

    @property
    def error_type(self) -> ErrorType:
        """Stable short name for records and dashboards, e.g. `rate_limit`."""
        return _ERROR_TYPES.get(type(self), ErrorType.PROVIDER_ERROR)

    @property
    def fallback_can_help(self) -> bool:
        """True when another model may succeed where this one failed."""
        return self.retryable or isinstance(
            self, ModelNotFoundError | ContextLengthError | OverloadedError
        )


class AuthenticationError(ProviderError):
    """The API key is missing, wrong or lacks access (401/403)."""


class RateLimitError(ProviderError):
    """The provider asks us to slow down (429)."""

    retryable_by_default = True


class ProviderTimeoutError(ProviderError):
    """A read timeout or the overall deadline passed."""

    retryable_by_default = True


class ProviderConnectionError(ProviderError):
    """The connection was refused or broke before any response."""

    retryable_by_default = True


class ModelNotFoundError(ProviderError):
    """The provider does not know the model (404); a fallback model may work."""


class ContextLengthError(ProviderError):
    """The request does not fit the model's context window; a larger model may."""


class OverloadedError(ProviderError):
    """The provider is overloaded (Anthropic 529, 503 with overloaded)."""

    retryable_by_default = True


class InvalidResponseError(ProviderError):
    """The provider answered with something that is not the documented format."""


class StreamInterruptedError(ProviderError):
    """A stream broke after it started; `partial_text` holds what arrived."""

    def __init__(self, message: str, *, partial_text: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.partial_text = partial_text


class CircuitOpenError(ProviderError):
    """The model's circuit breaker is open after repeated failures; it is skipped until
    its cool-down ends. A fallback model may serve the call meanwhile."""

    @property
    def fallback_can_help(self) -> bool:
        return True


class AllModelsFailedError(ProviderError):
    """Every model of the fallback chain failed; `errors` holds one error per model tried."""

    def __init__(self, message: str, *, errors: Sequence[ProviderError]) -> None:
        last = errors[-1] if errors else None
        super().__init__(
            message,
            provider=last.provider if last else None,
            model=last.model if last else None,
            status=last.status if last else None,
            provider_message=last.provider_message if last else None,
        )
        self.errors = list(errors)

    @property
    def error_type(self) -> ErrorType:
        return self.errors[-1].error_type if self.errors else ErrorType.ALL_MODELS_FAILED


_ERROR_TYPES: dict[type[ProviderError], ErrorType] = {
    ProviderError: ErrorType.PROVIDER_ERROR,
    AuthenticationError: ErrorType.AUTHENTICATION,
    RateLimitError: ErrorType.RATE_LIMIT,
    ProviderTimeoutError: ErrorType.TIMEOUT,
    ProviderConnectionError: ErrorType.CONNECTION,
    ModelNotFoundError: ErrorType.MODEL_NOT_FOUND,
    ContextLengthError: ErrorType.CONTEXT_LENGTH,
    OverloadedError: ErrorType.OVERLOADED,
    InvalidResponseError: ErrorType.INVALID_RESPONSE,
    StreamInterruptedError: ErrorType.STREAM_INTERRUPTED,
    CircuitOpenError: ErrorType.CIRCUIT_OPEN,
    AllModelsFailedError: ErrorType.ALL_MODELS_FAILED,
}


def describe_failure(error: BaseException) -> tuple[ErrorType, str]:
    """The error type and (masked) message a record keeps for any way a call can end
    without an answer: a provider error, a guard's refusal, the caller's cancellation, or
    an exception nothing else classified."""
    if isinstance(error, ProviderError):
        return error.error_type, str(error)
    if isinstance(error, CallRefusedError):
        return ErrorType.REFUSED, str(error)
    if isinstance(error, ConfigurationError):  # the caller's request, refused before sending
        return ErrorType.INVALID_REQUEST, str(error)
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return ErrorType.CANCELLED, "the caller cancelled the call before it finished"
    return ErrorType.UNEXPECTED, redact(f"{type(error).__name__}: {error}")


_DEPRECATED_NAMES = {
    "TimeoutError": ProviderTimeoutError,
    "ConnectionError": ProviderConnectionError,
}


def __getattr__(name: str) -> type[ProviderError]:
    """The pre-0.2 names of renamed errors, with a `DeprecationWarning`."""
    renamed = _DEPRECATED_NAMES.get(name)
    if renamed is None:
        raise AttributeError(f"module 'ai.errors' has no attribute {name!r}")
    warnings.warn(
        f"ai.errors.{name} is now ai.errors.{renamed.__name__}: the old name shadowed the "
        "built-in and goes away in the next release.",
        DeprecationWarning,
        stacklevel=2,
    )
    return renamed
