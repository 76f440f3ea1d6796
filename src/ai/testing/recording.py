"""The request log: what clients sent the fake, for assertions in tests.

Credentials are masked before a request is stored (`Bearer sk-...ake`), because the log is
also served over HTTP at `/_fake/requests` and ends up in test failure output.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ai.errors import mask_secret
from ai.testing.catalogue import Api
from ai.testing.faults import FaultKind

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One provider request as the fake received it.

    `headers` has lowercased names and masked credentials; `body` is the parsed JSON (None
    when the body was empty or not JSON); `fault` is the injected fault's kind, if any;
    `authenticated` says whether the key was accepted.
    """

    api: Api
    path: str
    headers: dict[str, str]
    body: Any
    model: str | None
    fault: FaultKind | None = None
    method: str = "POST"
    authenticated: bool = True

    def describe(self) -> dict[str, Any]:
        """JSON form for `GET /_fake/requests`."""
        return {
            "api": str(self.api),
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "model": self.model,
            "fault": None if self.fault is None else str(self.fault),
            "authenticated": self.authenticated,
        }


def masked_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lowercased header dict with credential values masked (scheme kept for Bearer)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in _SECRET_HEADERS:
            scheme, _, secret = value.partition(" ")
            value = f"{scheme} {mask_secret(secret)}" if secret else mask_secret(value)
        headers[name] = value
    return headers


class RequestLog:
    """Thread-safe, append-only (until cleared) list of `RecordedRequest`s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    def append(self, request: RecordedRequest) -> None:
        """Store one request (called from the server thread)."""
        with self._lock:
            self._requests.append(request)

    def snapshot(self) -> list[RecordedRequest]:
        """A copy of the log in arrival order; safe to keep while the server runs."""
        with self._lock:
            return list(self._requests)

    def count(self, *, model: str | None = None, api: Api | str | None = None) -> int:
        """How many requests match `model` and `api` (None matches any)."""
        wanted = None if api is None else Api(api)
        with self._lock:
            return sum(
                1
                for request in self._requests
                if (model is None or request.model == model)
                and (wanted is None or request.api is wanted)
            )

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._requests.clear()
