"""Where alerts go when they fire or resolve: a log, a Python callback, a webhook.

A handler is anything with `async def handle(alert: AlertRecord) -> None`; `MLMonitor`
also takes plain callables (sync or async) and wraps them in `CallbackAlertHandler`. The
monitor runs each handler on its own and logs a failure, never raising it.

The webhook POSTs `alert_payload(alert)` as JSON and retries connection failures, timeouts,
408, 425, 429 and 5xx answers with exponential backoff, waiting on the injected clock
(`Retry-After` is honoured up to `max_backoff`). Neither the payload nor any log line
carries a secret: the URL is logged through `safe_url` (credentials, query values and
token-like path segments masked), headers are never logged.
"""

from __future__ import annotations

import base64
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import httpx

from ai.core.clock import Clock, SystemClock
from ai.errors import ConfigurationError, mask_url, redact
from ml_ops.store.base import AlertRecord, AlertStatus, json_ready

logger = logging.getLogger(__name__)

AlertCallback = Callable[[AlertRecord], Awaitable[None] | None]
"""A plain function (sync or async) that takes each alert."""

_RETRYABLE_STATUS = frozenset({408, 425, 429})
_TOKEN_SEGMENT = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-]{16,}$")


@runtime_checkable
class AlertHandler(Protocol):
    """Receives every alert that fires or resolves (check `alert.status`)."""

    async def handle(self, alert: AlertRecord) -> None:
        """Deliver `alert`; may raise (the monitor logs it and carries on)."""
        ...


def as_handler(handler: AlertHandler | AlertCallback) -> AlertHandler:
    """`handler` itself, or a plain callable wrapped in `CallbackAlertHandler`."""
    if isinstance(handler, AlertHandler):
        return handler
    if callable(handler):
        return CallbackAlertHandler(handler)
    raise ConfigurationError(f"an alert handler must be callable or have handle(), got {handler!r}")


class LogAlertHandler:
    """Logs each alert: firing ones at WARNING (ERROR when critical), resolved at INFO."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger("ml_ops.alerts")

    async def handle(self, alert: AlertRecord) -> None:
        if alert.status is AlertStatus.RESOLVED:
            level = logging.INFO
        else:
            level = logging.ERROR if alert.severity == "critical" else logging.WARNING
        self._logger.log(level, "alert %s [%s] %s", alert.status, alert.severity, alert.message)


class CallbackAlertHandler:
    """Calls a function with each alert; awaits it when it returns an awaitable."""

    def __init__(self, callback: AlertCallback) -> None:
        self._callback = callback

    async def handle(self, alert: AlertRecord) -> None:
        outcome = self._callback(alert)
        if inspect.isawaitable(outcome):
            await outcome

    def __repr__(self) -> str:
        return f"CallbackAlertHandler({getattr(self._callback, '__qualname__', self._callback)})"


def alert_payload(alert: AlertRecord) -> dict[str, Any]:
    """The webhook's JSON body: every field of the alert (times ISO 8601), no secrets."""
    return {
        "source": "devora-ai",
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "status": str(alert.status),
        "severity": alert.severity,
        "message": redact(alert.message),
        "metric": alert.metric,
        "value": alert.value,
        "threshold": alert.threshold,
        "labels": dict(alert.labels),
        "fired_at": json_ready(alert.fired_at),
        "resolved_at": json_ready(alert.resolved_at),
        "acknowledged_at": json_ready(alert.acknowledged_at),
    }


def safe_url(url: str) -> str:
    """`url` fit for a log line: user info, query values and token-like path segments
    (Slack's and Discord's webhook tokens live in the path) masked; no fragment."""
    try:
        parts = urlsplit(mask_url(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = ("***@" if parts.username or parts.password else "") + host
    netloc += f":{port}" if port else ""
    path = "/".join("***" if _TOKEN_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(f"{key}=***" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return redact(urlunsplit((parts.scheme, netloc, path, query, "")))


@dataclass(frozen=True, slots=True)
class WebhookRetry:
    """Exponential backoff for webhook deliveries: `attempts` tries in all, waiting
    `initial_backoff * multiplier ** (n - 1)` seconds (at most `max_backoff`) after try n."""

    attempts: int = 4
    initial_backoff: float = 1.0
    multiplier: float = 2.0
    max_backoff: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.initial_backoff < 0 or self.multiplier < 1:
            raise ConfigurationError(
                "WebhookRetry needs attempts >= 1, initial_backoff >= 0 and multiplier >= 1"
            )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        wait = self.initial_backoff * self.multiplier ** (attempt - 1)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.max_backoff)


class WebhookAlertHandler:
    """POSTs each alert as JSON to `url`, retrying with backoff on the injected clock.

    `headers` (an `Authorization` token, say) are sent but never logged; a user and
    password in the URL become a Basic `Authorization` header. Requests go straight to an
    httpx transport rather than through an `httpx.AsyncClient`, because the client logs
    every request's full URL at INFO, and webhook URLs carry their tokens in the path or
    query. Pass `transport` to reuse one (or to test through `httpx.MockTransport`);
    otherwise one is opened per delivery.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        retry: WebhookRetry | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"webhook URL must be http(s), got {safe_url(url)}")
        parsed = httpx.URL(url)
        self._headers = dict(headers or {})
        if parsed.userinfo:
            user, _, password = parsed.userinfo.decode().partition(":")
            if not any(name.lower() == "authorization" for name in self._headers):
                token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode())
                self._headers["Authorization"] = f"Basic {token.decode()}"
            parsed = parsed.copy_with(username=None, password=None)
        self._url = url
        self._target = parsed
        self._transport = transport
        self._clock = clock or SystemClock()
        self._retry = retry or WebhookRetry()
        self._timeout = httpx.Timeout(timeout)

    def __repr__(self) -> str:
        return f"WebhookAlertHandler({safe_url(self._url)})"

    async def handle(self, alert: AlertRecord) -> None:
        payload = alert_payload(alert)
        if self._transport is not None:
            await self._deliver(self._transport, payload, alert)
            return
        async with httpx.AsyncHTTPTransport() as transport:
            await self._deliver(transport, payload, alert)

    async def _deliver(
        self, transport: httpx.AsyncBaseTransport, payload: dict[str, Any], alert: AlertRecord
    ) -> None:
        attempts = self._retry.attempts
        for attempt in range(1, attempts + 1):
            retryable, retry_after, problem = await self._post(transport, payload)
            if problem is None:
                return
            last = attempt == attempts or not retryable
            logger.log(
                logging.ERROR if last else logging.WARNING,
                "alert webhook %s: %s for alert %s (try %d of %d)%s",
                safe_url(self._url), problem, alert.alert_id, attempt, attempts,
                "" if last else "; retrying",
            )  # fmt: skip
            if last:
                return
            await self._clock.sleep(self._retry.delay(attempt, retry_after))

    async def _post(
        self, transport: httpx.AsyncBaseTransport, payload: dict[str, Any]
    ) -> tuple[bool, float | None, str | None]:
        """One try: (retryable, Retry-After seconds, problem or None on success)."""
        request = httpx.Request(
            "POST", self._target, json=payload, headers=self._headers,
            extensions={"timeout": self._timeout.as_dict()},
        )  # fmt: skip
        try:
            response = await transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TransportError as error:
            detail = redact(str(error).replace(str(self._target), safe_url(self._url)))
            return True, None, f"{type(error).__name__}: {detail}"
        status = response.status_code
        if 200 <= status < 300:
            return False, None, None
        retryable = status in _RETRYABLE_STATUS or status >= 500
        return retryable, _retry_after(response), f"HTTP {status}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
