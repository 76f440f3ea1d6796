"""The webhook handler against a real HTTP receiver on loopback: retries with exponential
backoff on the fake clock, the JSON payload, and no secret in any log line."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ai.core.clock import FakeClock
from ai.errors import ConfigurationError
from ml_ops.monitoring import (
    AlertRule,
    MLMonitor,
    WebhookAlertHandler,
    WebhookRetry,
    safe_url,
)

SECRETS = ("hunter2", "s3cr3t-query-token", "T01ABCDEF23456789xyz", "sk-live-0123456789abcdef")


class Receiver:
    """A loopback HTTP server answering each POST with the next status of `statuses`
    (then 200), remembering what it got."""

    def __init__(self, statuses: list[int], headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        self.answer_headers = headers or {}
        self.posts: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self) -> str:
        """A URL with a password, a token in the path and one in the query."""
        return (
            f"http://alerts:{SECRETS[0]}@127.0.0.1:{self.port}/hooks/{SECRETS[2]}"
            f"?token={SECRETS[1]}"
        )


@pytest.fixture
def receive() -> Iterator[Callable[..., Receiver]]:
    """Start receivers (`receive([500, 503])`); all are stopped after the test."""
    started: list[Receiver] = []

    def start(statuses: list[int], headers: dict[str, str] | None = None) -> Receiver:
        server = Receiver(statuses, headers)
        server.thread.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.server.shutdown()
        server.server.server_close()


def monitor_with(handler: WebhookAlertHandler, clock: FakeClock) -> MLMonitor:
    rule = AlertRule("errors", "error_rate", ">", 0.05, "5m", labels={"team": "llm"})
    monitor = MLMonitor(clock=clock, rules=[rule], handlers=[handler])
    monitor.track_request(success=False, latency_ms=100, model="gpt-4o", error_type="timeout")
    return monitor


async def test_fails_twice_then_succeeds_with_backoff_on_the_fake_clock(
    receive: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    receiver = receive([500, 503])
    clock = FakeClock()
    handler = WebhookAlertHandler(
        receiver.url(), headers={"Authorization": f"Bearer {SECRETS[3]}"}, clock=clock
    )
    monitor = monitor_with(handler, clock)
    with caplog.at_level(logging.DEBUG):
        (alert,) = await monitor.evaluate()
        await monitor.flush()
    assert clock.sleeps == [1.0, 2.0]  # the backoff, waited on the fake clock
    assert (clock.now() - alert.fired_at).total_seconds() == 3.0
    assert len(receiver.posts) == 3
    post = receiver.posts[-1]
    assert post["path"] == f"/hooks/{SECRETS[2]}?token={SECRETS[1]}"
    assert post["headers"]["Authorization"] == f"Bearer {SECRETS[3]}"  # beats the URL's user
    payload = post["json"]
    assert payload == {
        "source": "devora-ai",
        "alert_id": alert.alert_id,
        "rule": "errors",
        "status": "firing",
        "severity": "warning",
        "message": alert.message,
        "metric": "error_rate",
        "value": 1.0,
        "threshold": 0.05,
        "labels": {"team": "llm", "window": "5m"},
        "fired_at": alert.fired_at.isoformat(),
        "resolved_at": None,
        "acknowledged_at": None,
    }
    assert "HTTP 500" in caplog.text and "HTTP 503" in caplog.text and "retrying" in caplog.text
    assert f"127.0.0.1:{receiver.port}/hooks/***?token=***" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text
        assert secret not in json.dumps(payload)


async def test_gives_up_after_its_attempts_and_logs_it(
    receive: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    receiver = receive([500, 500, 500])
    clock = FakeClock()
    retry = WebhookRetry(attempts=3, initial_backoff=0.5, multiplier=3.0)
    monitor = monitor_with(WebhookAlertHandler(receiver.url(), clock=clock, retry=retry), clock)
    with caplog.at_level(logging.WARNING):
        await monitor.evaluate()
        await monitor.flush()  # never raises
    assert clock.sleeps == [0.5, 1.5]
    assert len(receiver.posts) == 3
    assert "try 3 of 3" in caplog.text
    assert [r.levelno for r in caplog.records][-1] == logging.ERROR


async def test_a_client_error_is_not_retried(receive: Callable[..., Receiver]) -> None:
    receiver = receive([400])
    clock = FakeClock()
    monitor = monitor_with(WebhookAlertHandler(receiver.url(), clock=clock), clock)
    await monitor.evaluate()
    await monitor.flush()
    assert len(receiver.posts) == 1 and clock.sleeps == []


async def test_retry_after_is_honoured(receive: Callable[..., Receiver]) -> None:
    receiver = receive([429], {"Retry-After": "7"})
    clock = FakeClock()
    monitor = monitor_with(WebhookAlertHandler(receiver.url(), clock=clock), clock)
    await monitor.evaluate()
    await monitor.flush()
    assert clock.sleeps == [7.0] and len(receiver.posts) == 2


async def test_an_unreachable_receiver_is_retried_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = Receiver([])
    url = closed.url()
    closed.server.server_close()  # nothing listens on that port any more
    clock = FakeClock()
    handler = WebhookAlertHandler(url, clock=clock, retry=WebhookRetry(attempts=2))
    monitor = monitor_with(handler, clock)
    with caplog.at_level(logging.WARNING):
        await monitor.evaluate()
        await monitor.flush()
    assert clock.sleeps == [1.0]
    assert "ConnectError" in caplog.text and "try 2 of 2" in caplog.text
    for secret in SECRETS[:3]:
        assert secret not in caplog.text


def test_safe_url_masks_credentials_tokens_and_queries() -> None:
    assert safe_url("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX1234") == (
        "https://hooks.slack.com/services/T000/B000/***"
    )
    assert safe_url("https://u:p@example.com:8443/alert?key=abc&x=1#frag") == (
        "https://***@example.com:8443/alert?key=***&x=***"
    )
    assert safe_url("http://[::1]:9000/hook") == "http://[::1]:9000/hook"
    with pytest.raises(ConfigurationError, match="http"):
        WebhookAlertHandler("ftp://example.com/x")
