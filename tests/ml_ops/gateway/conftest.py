"""Fixtures for the gateway tests: the gateway served by a real uvicorn on a free port,
in a thread, in front of the loopback provider fake (the `ai` tests' session fake).

`gateway` gives a `RunningGateway`: its base URL, an admin key, a helper that creates
virtual keys through the gateway's own `KeyManager`, the records emitted on its bus and
the access log lines it wrote.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from ai.core.records import RequestRecord
from ai.testing import FakeProviderServer
from ml_ops.gateway import Gateway, KeyRequest, create_app, parse_gateway_config
from ml_ops.gateway.access_log import ACCESS_LOGGER
from ml_ops.gateway.key_manager import key_request
from ml_ops.gateway.keys import VirtualKey
from ml_ops.runtime import Runtime, RuntimeSettings
from ml_ops.store.memory import MemoryEventStore
from ml_ops.web import AdminKey
from tests.ai.conftest import clock, fake, fake_server
from tests.ai.provider_configs import TEST_KEY

__all__ = ["clock", "fake", "fake_server"]

ADMIN_KEY = "dvr-admin-test-0123456789abcdef"
KEY_SECRET = "0123456789abcdef0123456789abcdef-test-secret"
UPSTREAM_ENV = "GATEWAY_TEST_UPSTREAM_KEY"


def gateway_config(fake: FakeProviderServer, **extra: Any) -> dict[str, Any]:
    """A `gateway:` section aimed at the fake: `fast` (OpenAI gpt-4o-mini, falling back to
    gpt-4o), `claude` (Anthropic), `embed` (OpenAI embeddings)."""
    section: dict[str, Any] = {
        "providers": {
            "openai": {"base_url": fake.openai_base_url, "api_key_env": UPSTREAM_ENV},
            "anthropic": {"base_url": fake.anthropic_base_url, "api_key_env": UPSTREAM_ENV},
        },
        "models": {
            "fast": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "fallbacks": ["gpt-4o"],
                "settings": {"max_retries": 0},
            },
            "claude": {
                "provider": "anthropic",
                "model": "claude-3-5-haiku-20241022",
                "defaults": {"max_tokens": 256},
                "settings": {"max_retries": 0},
            },
        },
        "embeddings": {"embed": {"provider": "openai", "model": "text-embedding-3-small"}},
    }
    section.update(extra)
    return section


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass
class RunningGateway:
    """A started gateway: `url` (`http://127.0.0.1:PORT`), `base_url` (`.../v1`)."""

    url: str
    app_gateway: Gateway
    loop: asyncio.AbstractEventLoop
    records: list[RequestRecord] = field(default_factory=list)
    access_lines: list[str] = field(default_factory=list)
    admin_key: str = ADMIN_KEY

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def run(self, work: Any) -> Any:
        """Run a coroutine on the server's event loop (where its connections live)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    def create_key(self, **options: Any) -> tuple[str, VirtualKey]:
        request: KeyRequest = key_request(user=options.pop("user", "ana"), **options)
        manager = self.app_gateway.keys
        assert manager is not None
        result: tuple[str, VirtualKey] = self.run(manager.create(request))
        return result

    def wait_for_records(self, count: int, timeout: float = 5.0) -> list[RequestRecord]:
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.records)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def serve_gateway(
    fake: FakeProviderServer, tmp_path: Path
) -> Iterator[Callable[..., RunningGateway]]:
    """Start gateways (stopped after the test): `serve_gateway(log_content=..., **section)`."""
    stops: list[Callable[[], None]] = []

    def start(
        *,
        log_content: bool = False,
        redis_url: str | None = None,
        guards: tuple[Any, ...] | list[Any] = (),
        **extra: Any,
    ) -> RunningGateway:
        section = gateway_config(fake, **extra)
        if log_content:
            section["logging"] = {"content": True}
        section.setdefault("keys", {"store": str(tmp_path / "keys.db")})
        config = parse_gateway_config(section)
        environ = {UPSTREAM_ENV: TEST_KEY, "DEVORA_KEY_SECRET": KEY_SECRET}
        settings = RuntimeSettings(store="memory:", experiments="memory:", redis_url=redis_url)
        runtime = Runtime(settings, store=MemoryEventStore())
        app = create_app(
            config,
            runtime=runtime,
            admin_key=AdminKey.of(ADMIN_KEY),
            environ=environ,
            redis_url=redis_url,
            guards=guards,
        )
        handler = _Lines()
        logger = logging.getLogger(ACCESS_LOGGER)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        sock = free_socket()
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        )
        loops: list[asyncio.AbstractEventLoop] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            loops.append(loop)
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server.serve(sockets=[sock]))
            loop.run_until_complete(runtime.aclose())
            loop.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.005)
        running = RunningGateway(
            f"http://127.0.0.1:{port}", app.state.gateway, loops[0], access_lines=handler.lines
        )
        runtime.bus.subscribe(running.records.append)

        def stop() -> None:
            server.should_exit = True
            thread.join(10)
            logger.removeHandler(handler)
            sock.close()

        stops.append(stop)
        return running

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def gateway(serve_gateway: Callable[..., RunningGateway]) -> RunningGateway:
    """One gateway with the default configuration."""
    return serve_gateway()
