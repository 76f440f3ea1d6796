"""Fault injection: what can go wrong with a provider call, and when it should.

A `Fault` is a value (what happens); a rule in the `FaultBook` says when (which API or model,
how many times, every Nth request). Tests push faults from Python; the CLI's users post the
same thing as JSON to `/_fake/faults` (see `fault_rule_from_json`).

What a client sees for each kind:

=================== =====================================================================
rate_limit          429 in the provider's error format, `Retry-After` (seconds or an HTTP
                    date) and, on OpenAI-format APIs, `x-ratelimit-*` headers
server_error        500/502/503 (any 5xx) in the provider's error format
overloaded          Anthropic: 529 `overloaded_error`; OpenAI/OpenRouter: 503
disconnect          the TCP connection closes with no HTTP response at all: httpx raises
                    `RemoteProtocolError` ("Server disconnected without sending a
                    response"), the SDKs raise `APIConnectionError`
slow_first_byte     nothing is sent for `delay` seconds, then the normal answer; a client
                    whose read timeout is shorter sees `httpx.ReadTimeout`
stream_cut          streams: the first `after_chunks` content events, then the connection
                    closes without the terminator (httpx `RemoteProtocolError` while
                    iterating); non-streams: headers and half the body, then the close
malformed_json      200 with a truncated JSON body; streams: a `data: {not json` line
stream_error_event  streams: an error event after a couple of deltas (Anthropic
                    `event: error` overloaded_error; OpenAI/OpenRouter a `data:` chunk with
                    an `error` object); non-streams: a 500 like server_error
unknown_model       404 exactly as for a model the provider does not know
auth_error          401 exactly as for a wrong API key
trickle             the normal answer (JSON or SSE), `chunk_bytes` at a time, `interval`
                    seconds apart, headers at once: a slow drip that never trips a read
                    timeout but blows any total deadline
keepalive           streams: the first `after_chunks` content events, then only
                    `: OPENROUTER PROCESSING` comment lines every `interval` seconds;
                    non-streams: headers, then one space byte every `interval` seconds;
                    forever, until the client hangs up (or the server stops)
giant_line          streams: one extra content event of `size` characters right after the
                    role chunk, then the normal stream; non-streams: a 200 whose message
                    content is `size` characters (chat APIs only)
deep_json           a body of JSON arrays nested `depth` deep with `status` (Python's json
                    raises RecursionError); a 200 stream request gets it as one `data:`
                    event of a `text/event-stream`
echo_key            the provider's error JSON (401 unless `status`) whose message quotes
                    the API key the client sent, verbatim, as careless self-hosted servers
                    do (the request log still masks it)
huge_error          the provider's error JSON with `status`, exactly `size` bytes long
error_in_200        OpenAI format only: 200 with `{"error": {"message", "code"}}`, also
                    for stream requests (OpenRouter, when the model behind it fails)
json_for_stream     stream requests (chat APIs only) get the plain `application/json`
                    answer, as servers that ignore `stream` send
bad_usage           a valid answer whose `usage` token counts are strings; streams carry
                    them in the usage chunk (sent even if not asked for) or `message_delta`
=================== =====================================================================

Faults that only make sense for some APIs (`giant_line`, `error_in_200`,
`json_for_stream`) or only for streams (`json_for_stream`) are never drawn by other
requests, and a rule that names such an API is refused.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ai.testing.catalogue import Api


class FaultKind(StrEnum):
    """The closed set of failures the fake can simulate."""

    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    OVERLOADED = "overloaded"
    DISCONNECT = "disconnect"
    SLOW_FIRST_BYTE = "slow_first_byte"
    STREAM_CUT = "stream_cut"
    MALFORMED_JSON = "malformed_json"
    STREAM_ERROR_EVENT = "stream_error_event"
    UNKNOWN_MODEL = "unknown_model"
    AUTH_ERROR = "auth_error"
    TRICKLE = "trickle"
    KEEPALIVE = "keepalive"
    GIANT_LINE = "giant_line"
    DEEP_JSON = "deep_json"
    ECHO_KEY = "echo_key"
    HUGE_ERROR = "huge_error"
    ERROR_IN_200 = "error_in_200"
    JSON_FOR_STREAM = "json_for_stream"
    BAD_USAGE = "bad_usage"


MIN_HUGE_ERROR_SIZE = 256
"""`huge_error` bodies are exact sizes; below this the provider's error envelope won't fit."""

# The statuses each kind that takes one accepts (and how to say so in an error message).
_STATUS_RANGES: dict[FaultKind, tuple[int, int, str]] = {
    FaultKind.SERVER_ERROR: (500, 599, "5xx"),
    FaultKind.DEEP_JSON: (200, 599, "2xx-5xx"),
    FaultKind.ECHO_KEY: (400, 599, "4xx or 5xx"),
    FaultKind.HUGE_ERROR: (400, 599, "4xx or 5xx"),
}
_CHAT_APIS = frozenset({Api.OPENAI, Api.OPENROUTER, Api.ANTHROPIC})
# Kinds that mean nothing for some APIs; every other kind applies to every API.
_APIS: dict[FaultKind, frozenset[Api]] = {
    FaultKind.GIANT_LINE: _CHAT_APIS,
    FaultKind.JSON_FOR_STREAM: _CHAT_APIS,
    FaultKind.ERROR_IN_200: frozenset({Api.OPENAI, Api.OPENROUTER, Api.EMBEDDINGS}),
}
_STREAM_ONLY = frozenset({FaultKind.JSON_FOR_STREAM})


@dataclass(frozen=True, slots=True)
class Fault:
    """One simulated failure. Build it with the named constructors, e.g. `Fault.rate_limit()`."""

    kind: FaultKind
    retry_after: float | str | None = None
    status: int = 500
    delay: float = 0.0
    after_chunks: int = 2
    interval: float = 0.0
    chunk_bytes: int = 1
    size: int = 0
    depth: int = 0
    code: int = 502

    def __post_init__(self) -> None:
        low, high, words = _STATUS_RANGES.get(self.kind, (0, 999, ""))
        if not low <= self.status <= high:
            raise ValueError(f"{self.kind} status must be {words}, got {self.status}")
        _check_hostile(self)
        if self.delay < 0:
            raise ValueError(f"slow_first_byte delay must be >= 0, got {self.delay}")
        if self.after_chunks < 0:
            raise ValueError(f"stream_cut after_chunks must be >= 0, got {self.after_chunks}")
        if isinstance(self.retry_after, bool) or (
            isinstance(self.retry_after, int | float) and self.retry_after < 0
        ):
            raise ValueError(f"retry_after must be >= 0 seconds, got {self.retry_after!r}")

    @classmethod
    def rate_limit(cls, retry_after: float | str | None = 1) -> Fault:
        """429; `retry_after` in seconds or as an HTTP date string, None for no header."""
        return cls(FaultKind.RATE_LIMIT, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """A 5xx (500, 502 and 503 are the usual ones) in the provider's error format."""
        return cls(FaultKind.SERVER_ERROR, status=status)

    @classmethod
    def overloaded(cls) -> Fault:
        """Anthropic's 529 `overloaded_error`; a 503 on the OpenAI-format APIs."""
        return cls(FaultKind.OVERLOADED)

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without any HTTP response (a transport error for clients)."""
        return cls(FaultKind.DISCONNECT)

    @classmethod
    def slow_first_byte(cls, delay: float) -> Fault:
        """Wait `delay` seconds before the response headers (for read-timeout tests)."""
        return cls(FaultKind.SLOW_FIRST_BYTE, delay=delay)

    @classmethod
    def stream_cut(cls, after_chunks: int = 2) -> Fault:
        """Drop the connection after `after_chunks` content events (or half a JSON body)."""
        return cls(FaultKind.STREAM_CUT, after_chunks=after_chunks)

    @classmethod
    def malformed_json(cls) -> Fault:
        """A 200 whose JSON (or one SSE data line) does not parse."""
        return cls(FaultKind.MALFORMED_JSON)

    @classmethod
    def stream_error_event(cls) -> Fault:
        """An error event in the middle of a stream; a 500 for non-stream requests."""
        return cls(FaultKind.STREAM_ERROR_EVENT)

    @classmethod
    def unknown_model(cls) -> Fault:
        """The provider's 404 for a model it does not know."""
        return cls(FaultKind.UNKNOWN_MODEL)

    @classmethod
    def auth_error(cls) -> Fault:
        """The provider's 401 for a wrong API key."""
        return cls(FaultKind.AUTH_ERROR)

    @classmethod
    def trickle(cls, interval: float, chunk_bytes: int = 1) -> Fault:
        """The normal answer `chunk_bytes` at a time, `interval` seconds apart (total-deadline
        tests: no single read ever waits long)."""
        return cls(FaultKind.TRICKLE, interval=interval, chunk_bytes=chunk_bytes)

    @classmethod
    def keepalive(cls, interval: float, after_chunks: int = 0) -> Fault:
        """After `after_chunks` content events, SSE comments (non-streams: spaces) every
        `interval` seconds until the client hangs up: a stream that is alive but never ends."""
        return cls(FaultKind.KEEPALIVE, interval=interval, after_chunks=after_chunks)

    @classmethod
    def giant_line(cls, size: int) -> Fault:
        """One content delta (or the message content) of `size` characters, to test limits
        on line and body sizes; chat APIs only."""
        return cls(FaultKind.GIANT_LINE, size=size)

    @classmethod
    def deep_json(cls, depth: int, status: int = 200) -> Fault:
        """A body of JSON nested `depth` levels deep, for parsers that recurse."""
        return cls(FaultKind.DEEP_JSON, depth=depth, status=status)

    @classmethod
    def echo_key(cls, status: int = 401) -> Fault:
        """An error whose message quotes the client's API key, to test that clients redact
        upstream error text before logging or re-raising it."""
        return cls(FaultKind.ECHO_KEY, status=status)

    @classmethod
    def huge_error(cls, size: int, status: int = 500) -> Fault:
        """An error body of exactly `size` bytes (at least `MIN_HUGE_ERROR_SIZE`), to test
        that clients cap what they read and keep of an error."""
        return cls(FaultKind.HUGE_ERROR, size=size, status=status)

    @classmethod
    def error_in_200(cls, code: int = 502) -> Fault:
        """A 200 whose body is `{"error": {..., "code": code}}`, as OpenRouter sends when the
        model behind it fails; OpenAI-format APIs only."""
        return cls(FaultKind.ERROR_IN_200, code=code)

    @classmethod
    def json_for_stream(cls) -> Fault:
        """Answer a stream request with the plain JSON answer, as servers ignoring `stream`
        do; drawn only by stream requests to the chat APIs."""
        return cls(FaultKind.JSON_FOR_STREAM)

    @classmethod
    def bad_usage(cls) -> Fault:
        """A valid answer whose usage token counts are strings, not integers."""
        return cls(FaultKind.BAD_USAGE)

    def applies_to(self, api: Api, *, stream: bool = False) -> bool:
        """Whether this fault means something for a request to `api` (streamed or not)."""
        if self.kind in _STREAM_ONLY and not stream:
            return False
        allowed = _APIS.get(self.kind)
        return allowed is None or api in allowed

    def describe(self) -> dict[str, Any]:
        """JSON form of the fault, only with the parameters its kind uses."""
        params: dict[str, Any] = {"kind": str(self.kind)}
        for name in _PARAMETERS[self.kind]:
            params[name] = getattr(self, name)
        return params


# Which constructor parameters each kind takes; used to validate and describe JSON faults.
_PARAMETERS: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.RATE_LIMIT: ("retry_after",),
    FaultKind.SERVER_ERROR: ("status",),
    FaultKind.SLOW_FIRST_BYTE: ("delay",),
    FaultKind.STREAM_CUT: ("after_chunks",),
    FaultKind.TRICKLE: ("interval", "chunk_bytes"),
    FaultKind.KEEPALIVE: ("interval", "after_chunks"),
    FaultKind.GIANT_LINE: ("size",),
    FaultKind.DEEP_JSON: ("depth", "status"),
    FaultKind.ECHO_KEY: ("status",),
    FaultKind.HUGE_ERROR: ("size", "status"),
    FaultKind.ERROR_IN_200: ("code",),
}
for _kind in FaultKind:
    _PARAMETERS.setdefault(_kind, ())
# Where a kind's named constructor defaults differ from the dataclass's, so that JSON
# faults get the same defaults as `Fault.keepalive(...)` and friends.
_JSON_DEFAULTS: dict[FaultKind, dict[str, Any]] = {
    FaultKind.KEEPALIVE: {"after_chunks": 0},
    FaultKind.DEEP_JSON: {"status": 200},
    FaultKind.ECHO_KEY: {"status": 401},
}
_INTEGER_PARAMETERS = frozenset({"status", "after_chunks", "chunk_bytes", "size", "depth", "code"})


def _check_hostile(fault: Fault) -> None:
    """Validate the parameters of the hostile-upstream kinds (only those the kind uses)."""
    kind = fault.kind
    if kind in (FaultKind.TRICKLE, FaultKind.KEEPALIVE) and not (
        math.isfinite(fault.interval) and fault.interval > 0
    ):
        raise ValueError(f"{kind} interval must be a finite number > 0, got {fault.interval}")
    if kind is FaultKind.TRICKLE and fault.chunk_bytes < 1:
        raise ValueError(f"trickle chunk_bytes must be >= 1, got {fault.chunk_bytes}")
    if kind is FaultKind.GIANT_LINE and fault.size < 1:
        raise ValueError(f"giant_line size must be >= 1, got {fault.size}")
    if kind is FaultKind.HUGE_ERROR and fault.size < MIN_HUGE_ERROR_SIZE:
        raise ValueError(f"huge_error size must be >= {MIN_HUGE_ERROR_SIZE}, got {fault.size}")
    if kind is FaultKind.DEEP_JSON and fault.depth < 1:
        raise ValueError(f"deep_json depth must be >= 1, got {fault.depth}")
    if kind is FaultKind.ERROR_IN_200 and not 400 <= fault.code <= 599:
        raise ValueError(f"error_in_200 code must be 4xx or 5xx, got {fault.code}")


@dataclass(slots=True)
class FaultRule:
    """When a fault applies. Counters are guarded by the owning `FaultBook`'s lock."""

    fault: Fault
    times: int | None = None
    model: str | None = None
    api: Api | None = None
    every: int = 1
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be None (always) or >= 1, got {self.times}")
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")
        if self.api is not None and not (
            self.fault.applies_to(self.api) or self.fault.applies_to(self.api, stream=True)
        ):
            raise ValueError(f"{self.fault.kind} does not apply to the {self.api} API")

    def matches(self, api: Api, model: str | None, *, stream: bool = False) -> bool:
        """Whether a request to `api` for `model` is one this rule counts (never one the
        fault means nothing for, such as a non-stream request for `json_for_stream`)."""
        if self.api is not None and self.api is not api:
            return False
        if not self.fault.applies_to(api, stream=stream):
            return False
        return self.model is None or self.model == model

    @property
    def exhausted(self) -> bool:
        """True once the rule has fired `times` times."""
        return self.times is not None and self.fired >= self.times

    def describe(self) -> dict[str, Any]:
        """JSON form for `GET /_fake/faults`."""
        return {
            **self.fault.describe(),
            "times": self.times,
            "model": self.model,
            "api": None if self.api is None else str(self.api),
            "every": self.every,
            "seen": self.seen,
            "fired": self.fired,
        }


def _as_api(api: Api | str | None) -> Api | None:
    if api is None:
        return None
    try:
        return Api(api)
    except ValueError:
        allowed = ", ".join(repr(str(a)) for a in Api)
        raise ValueError(f"api must be one of {allowed} or None, got {api!r}") from None


class FaultBook:
    """The server's fault rules, shared by the test thread and the server thread.

    Every rule that matches a request counts it (for `every=`); the first rule, in the order
    added, whose count comes due fires, and only that one uses up one of its `times`. So
    `push(a); push(b)` gives `a` to the next request and `b` to the one after, while a due
    `every=` rule that loses to an earlier rule skips that turn rather than firing late.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def push(self, fault: Fault, *, model: str | None = None, api: Api | str | None = None) -> None:
        """Apply `fault` to the next matching request, once."""
        self.add(fault, times=1, model=model, api=api)

    def add(
        self,
        fault: Fault,
        *,
        times: int | None = None,
        model: str | None = None,
        api: Api | str | None = None,
        every: int = 1,
    ) -> FaultRule:
        """Add a rule: `times=None` fires on every due request, `every=N` on each Nth match."""
        return self.add_rule(
            FaultRule(fault, times=times, model=model, api=_as_api(api), every=every)
        )

    def add_rule(self, rule: FaultRule) -> FaultRule:
        """Add a rule built elsewhere (the HTTP fault API parses JSON into one)."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> int:
        """Remove every rule; returns how many there were."""
        with self._lock:
            count = len(self._rules)
            self._rules.clear()
        return count

    def take(self, api: Api, model: str | None, *, stream: bool = False) -> Fault | None:
        """The fault for this request, if any rule fires (called once per provider request)."""
        with self._lock:
            chosen: FaultRule | None = None
            for rule in self._rules:
                if not rule.matches(api, model, stream=stream):
                    continue
                rule.seen += 1
                if chosen is None and rule.seen % rule.every == 0:
                    chosen = rule
            if chosen is None:
                return None
            chosen.fired += 1
            if chosen.exhausted:
                self._rules.remove(chosen)
            return chosen.fault

    def describe(self) -> list[dict[str, Any]]:
        """Snapshot of the rules as JSON-ready dicts."""
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)


_RULE_KEYS = frozenset({"kind", "times", "model", "api", "every"})


def fault_rule_from_json(data: object) -> FaultRule:
    """Parse the body of `POST /_fake/faults`; raises ValueError naming what is wrong.

    `times` defaults to 1 (like `push`); send `"times": null` for a permanent rule.
    """
    if not isinstance(data, Mapping):
        raise ValueError("the body must be a JSON object with at least a 'kind'")
    try:
        kind = FaultKind(str(data.get("kind")))
    except ValueError:
        allowed = ", ".join(str(k) for k in FaultKind)
        raise ValueError(f"'kind' must be one of: {allowed}") from None
    params = {key: value for key, value in data.items() if key not in _RULE_KEYS}
    unknown = set(params) - set(_PARAMETERS[kind])
    if unknown:
        raise ValueError(
            f"{kind} takes {list(_PARAMETERS[kind]) or 'no parameters'}, not {sorted(unknown)}"
        )
    fault = Fault(kind, **{**_JSON_DEFAULTS.get(kind, {}), **_checked_params(kind, params)})
    times = data.get("times", 1)
    every = data.get("every", 1)
    model = data.get("model")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
        raise ValueError("'times' must be an integer or null")
    if not isinstance(every, int) or isinstance(every, bool):
        raise ValueError("'every' must be an integer")
    if model is not None and not isinstance(model, str):
        raise ValueError("'model' must be a string or null")
    api = data.get("api")
    if api is not None and not isinstance(api, str):
        raise ValueError("'api' must be a string or null")
    return FaultRule(fault, times=times, model=model, api=_as_api(api), every=every)


def _checked_params(kind: FaultKind, params: Mapping[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for name, value in params.items():
        if name == "retry_after":
            if value is not None and not isinstance(value, int | float | str):
                raise ValueError("'retry_after' must be seconds, an HTTP date string or null")
        elif name in _INTEGER_PARAMETERS:
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"'{name}' must be an integer")
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"'{name}' must be a number")
        checked[name] = value
    return checked
