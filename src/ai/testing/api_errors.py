"""Provider errors, described once and rendered in each provider's own JSON.

Validation and faults raise `ApiError` (status, kind, message); a `Dialect` renders it the
way its provider does: OpenAI `{"error": {"message", "type", "param", "code"}}`, OpenRouter
`{"error": {"code": <status>, "message"}}`, Anthropic
`{"type": "error", "error": {"type", "message"}, "request_id"}`. The dialect also owns the
provider's authentication rules and what each fault kind looks like there. Messages never
contain the API key, not even masked, except for the `echo_key` fault (`hostile.py`), whose
whole point is an upstream that does.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from starlette.responses import Response

from ai.testing.faults import Fault


class ErrorKind(StrEnum):
    """Provider-neutral error categories; each dialect maps them to its type names."""

    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    NOT_FOUND = "not_found"
    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    OVERLOADED = "overloaded"


@dataclass(frozen=True, slots=True)
class ApiError(Exception):
    """An error answer. `param` and `code` follow OpenAI's fields; others ignore them."""

    status: int
    kind: ErrorKind
    message: str
    param: str | None = None
    code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.kind}: {self.message}"


class Dialect(Protocol):
    """One provider's error format, authentication rules and fault answers."""

    def render(self, error: ApiError) -> Response:
        """The HTTP response for `error`, in this provider's JSON."""
        ...

    def check_auth(self, headers: Mapping[str, str], api_key: str) -> ApiError | None:
        """None if the request's credentials and required headers are acceptable."""
        ...

    def unknown_model(self, model: str | None) -> ApiError:
        """The provider's answer for a model it does not serve."""
        ...

    def fault_error(self, fault: Fault, model: str | None) -> ApiError:
        """The status-code answer for a fault (rate limit, 5xx, overload, 401, 404)."""
        ...

    def invalid_json(self) -> ApiError:
        """The provider's answer for a body that is not a JSON object."""
        ...


def retry_after_value(retry_after: float | str) -> str:
    """`Retry-After` as sent: whole seconds stay integers, dates pass through."""
    if isinstance(retry_after, str):
        return retry_after
    if float(retry_after).is_integer():
        return str(int(retry_after))
    return f"{retry_after:g}"


def retry_after_seconds(retry_after: float | str | None) -> float:
    """Seconds until a retry is allowed, for the providers' reset headers."""
    if retry_after is None:
        return 1.0
    if isinstance(retry_after, str):
        try:
            parsed = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            return 1.0
        return max(0.0, parsed.timestamp() - time.time())
    return float(retry_after)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
