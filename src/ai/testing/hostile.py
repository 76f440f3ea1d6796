"""Answers a hostile or broken upstream gives: the content side of the newer faults.

Two groups, both drawn through the ordinary pipeline in `app.py`:

- Faults that *replace* the answer (`replacement_response`): `deep_json`, `echo_key`,
  `huge_error`, `error_in_200`. They need nothing from the provider module but its
  `Dialect`, so they are built here, the same way for every API.
- Faults that *reshape* the answer (`AnswerChange`): `giant_line`, `json_for_stream`,
  `bad_usage`. Only the provider modules know where the content and the usage sit in their
  JSON and their streams, so they receive an `AnswerChange` and apply it while building the
  normal answer.

Pacing faults (`trickle`, `keepalive`) live in `pacing.py`. Large bodies are built with
linear work only (repetition and one `bytes.replace`), so a 20 MB answer costs
milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ai.providers.openai_serving.framing import JSON_MEDIA_TYPE
from ai.testing.api_errors import ApiError, Dialect, ErrorKind, bearer_token
from ai.testing.faults import Fault, FaultKind
from ai.testing.wire import EventStream, json_response

GIANT_CHARACTER = "x"
"""What a `giant_line` content is made of: one ASCII character, so characters == bytes."""

ERROR_IN_200_MESSAGE = "Provider returned error"
"""The message of an `error_in_200` body (OpenRouter's wording)."""

_HUGE_MARKER = "@@devora-huge-error@@"
_HUGE_FILLER = b"upstream stack frame omitted; "
_KINDS_BY_STATUS: dict[int, ErrorKind] = {
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.AUTHENTICATION,
    404: ErrorKind.NOT_FOUND,
    429: ErrorKind.RATE_LIMIT,
}


@dataclass(frozen=True, slots=True)
class AnswerChange:
    """How a drawn fault reshapes the normal answer, for the provider modules to apply.

    `as_json`: a stream request gets the non-stream JSON answer. `giant_content`: the
    answer carries `giant_content` characters of content (streams: one extra content event
    right after the role chunk; JSON: the message content). `bad_usage`: the usage token
    counts are strings (streams: the usage chunk is sent even when not asked for).
    """

    as_json: bool = False
    giant_content: int | None = None
    bad_usage: bool = False

    @classmethod
    def for_fault(cls, fault: Fault | None) -> AnswerChange:
        """The change `fault` asks for (none for most kinds)."""
        kind = None if fault is None else fault.kind
        if fault is not None and kind is FaultKind.GIANT_LINE:
            return cls(giant_content=fault.size)
        if kind is FaultKind.JSON_FOR_STREAM:
            return cls(as_json=True)
        if kind is FaultKind.BAD_USAGE:
            return cls(bad_usage=True)
        return NO_CHANGE


NO_CHANGE = AnswerChange()
"""The normal answer."""


def giant_text(size: int) -> str:
    """The content of a `giant_line` answer: `size` ASCII characters."""
    return GIANT_CHARACTER * size


def unreadable_usage(usage: Mapping[str, Any], keys: Iterable[str], word: str) -> dict[str, Any]:
    """`usage` with each of `keys` (where present) replaced by `word`, a count no client
    can read as a number."""
    changed = dict(usage)
    for key in keys:
        if key in changed:
            changed[key] = word
    return changed


def replacement_response(
    headers: Mapping[str, str], dialect: Dialect, stream: bool, fault: Fault
) -> Response | None:
    """The response that replaces the answer for a replacing fault, else None.

    `headers` are the request's (for `echo_key`), `dialect` the provider's error format.
    """
    kind = fault.kind
    if kind is FaultKind.DEEP_JSON:
        return deep_json_response(fault.depth, fault.status, stream=stream)
    if kind is FaultKind.ECHO_KEY:
        return dialect.render(echo_key_error(headers, fault.status))
    if kind is FaultKind.HUGE_ERROR:
        return huge_error_response(dialect, fault.size, fault.status)
    if kind is FaultKind.ERROR_IN_200:
        return json_response({"error": {"message": ERROR_IN_200_MESSAGE, "code": fault.code}})
    return None


def nested_json(depth: int) -> bytes:
    """`[[[...]]]`, `depth` arrays deep: valid JSON that recursive parsers choke on."""
    return b"[" * depth + b"]" * depth


def deep_json_response(depth: int, status: int, *, stream: bool) -> Response:
    """The nested JSON as the body; for a 200 stream request, as one SSE `data:` event."""
    if stream and status == 200:
        return EventStream([b"data: " + nested_json(depth) + b"\n\n"], cut=False, headers={})
    return Response(nested_json(depth), status, media_type=JSON_MEDIA_TYPE)


def _error_kind(status: int) -> ErrorKind:
    if status >= 500:
        return ErrorKind.SERVER
    return _KINDS_BY_STATUS.get(status, ErrorKind.INVALID_REQUEST)


def echo_key_error(headers: Mapping[str, str], status: int) -> ApiError:
    """An error quoting the key the client sent (`x-api-key` or `Authorization: Bearer`)."""
    key = headers.get("x-api-key") or bearer_token(headers) or ""
    message = (
        f"Incorrect API key provided: {key}. You can find your API key in your account settings."
    )
    return ApiError(status, _error_kind(status), message)


def huge_error_response(dialect: Dialect, size: int, status: int) -> Response:
    """The provider's error JSON for `status`, its message padded so the body is exactly
    `size` bytes (or the bare envelope, should that be longer)."""
    rendered = dialect.render(ApiError(status, _error_kind(status), _HUGE_MARKER))
    body = bytes(rendered.body)
    marker = _HUGE_MARKER.encode("ascii")
    pad = max(0, size - (len(body) - len(marker)))
    filler = (_HUGE_FILLER * (pad // len(_HUGE_FILLER) + 1))[:pad]
    headers = {
        name: value
        for name, value in rendered.headers.items()
        if name not in ("content-length", "content-type")
    }
    return Response(
        body.replace(marker, filler, 1), status, headers=headers, media_type=JSON_MEDIA_TYPE
    )
