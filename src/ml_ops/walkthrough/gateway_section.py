"""Section 11, the gateway: `devora serve` in this process, called like any OpenAI API.

`ml_ops.serve.create_app` (the OpenAI-compatible gateway under `/v1`, the dashboard under
`/`) runs under uvicorn in a thread, on a free loopback port, with its state (SQLite event
store, experiments, virtual keys) in a temporary folder and a gateway config whose one
alias, `fast`, points at the walk-through's upstream. A virtual key is made through
`POST /admin/keys` with the admin key, the alias is called with the official `openai` SDK
(the `demo` extra; plain httpx without it), and the dashboard's `/api/overview` shows the
call.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from rich.console import Console
from starlette.types import ASGIApp

from ml_ops.gateway.keys import SECRET_ENV
from ml_ops.runtime import RuntimeSettings
from ml_ops.serve import ServeSettings, create_app
from ml_ops.walkthrough.observers import Observers, Upstream
from ml_ops.web import AdminKey

ALIAS = "fast"
UPSTREAM_KEY_ENV = "DEVORA_WALKTHROUGH_UPSTREAM_KEY"
QUESTION = "Hello through the gateway!"
_START_TIMEOUT_S = 15.0
_OVERVIEW_TRIES = 100  # 50 ms apart: the record reaches the dashboard's monitor first


async def gateway(console: Console, observers: Observers) -> None:
    """Serve, make a key, call the alias, read the overview; stop and clean up."""
    admin_key = "dvr-admin-" + secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="devora-walkthrough-") as folder:
        app = create_app(
            _settings(Path(folder), observers.upstream), admin_key=AdminKey.of(admin_key)
        )
        async with _served(app) as base_url:
            console.print(f"devora serve at {base_url}: /v1 (gateway) and / (dashboard)")
            auth = {"Authorization": f"Bearer {admin_key}"}
            async with httpx.AsyncClient(base_url=base_url, headers=auth, timeout=30) as admin:
                created = await admin.post("/admin/keys", json={"user": "ana", "team": "docs"})
                created.raise_for_status()
                key = created.json()["key"]
                console.print(
                    f"POST /admin/keys -> {created.status_code}: virtual key {key[:10]}... "
                    "for user ana (team docs)"
                )
                client, answer, tokens = await _ask(base_url + "/v1", key)
                console.print(
                    f"{client}: {ALIAS} answered {answer!r} ({tokens} tokens)", markup=False
                )
                figures = await _overview(admin)
            console.print(
                f"dashboard /api/overview: total_requests {figures['total_requests']}, "
                f"${figures['total_cost']:.6f}, P95 {figures['latency_ms']['p95'] or 0:.1f} ms"
            )


def _settings(folder: Path, upstream: Upstream) -> ServeSettings:
    config = {
        "gateway": {
            "providers": {
                "openai": {"base_url": upstream.openai_base_url, "api_key_env": UPSTREAM_KEY_ENV}
            },
            "models": {ALIAS: {"provider": "openai", "model": "gpt-4o-mini"}},
        }
    }
    (folder / "devora.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return ServeSettings(
        runtime=RuntimeSettings(
            store=folder / "events.db", experiments=folder / "experiments.db", redis_url=None
        ),
        config=folder / "devora.yaml",
        follow_seconds=0.2,
        environ={UPSTREAM_KEY_ENV: upstream.api_key, SECRET_ENV: secrets.token_hex(32)},
    )


@asynccontextmanager
async def _served(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` (with its lifespan) on 127.0.0.1 in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", log_level="warning",
        access_log=False, ws="none", timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="devora-walkthrough", daemon=True
    )
    thread.start()
    try:
        deadline = asyncio.get_running_loop().time() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("the walk-through's devora serve did not start")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
        sock.close()


async def _ask(api_url: str, key: str) -> tuple[str, str, int]:
    """(the client used, the answer, total tokens) for one chat call on `ALIAS`."""
    try:
        from openai import AsyncOpenAI
    except ImportError:  # the `demo` extra is not installed: the same call, by hand
        return await _ask_with_httpx(api_url, key)
    client = AsyncOpenAI(base_url=api_url, api_key=key, max_retries=0)
    try:
        completion = await client.chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": QUESTION}]
        )
    finally:
        await client.close()
    tokens = completion.usage.total_tokens if completion.usage is not None else 0
    return "openai SDK", completion.choices[0].message.content or "", tokens


async def _ask_with_httpx(api_url: str, key: str) -> tuple[str, str, int]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http:
        body = {"model": ALIAS, "messages": [{"role": "user", "content": QUESTION}]}
        response = await http.post("/chat/completions", json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
    content = answer["choices"][0]["message"]["content"]
    return "httpx", str(content), int(answer["usage"]["total_tokens"])


async def _overview(admin: httpx.AsyncClient) -> dict[str, Any]:
    """`/api/overview`'s figures, once the gateway's call has reached its monitor."""
    figures: dict[str, Any] = {}
    for _ in range(_OVERVIEW_TRIES):
        response = await admin.get("/api/overview", params={"window": "1h"})
        response.raise_for_status()
        figures = response.json()["overview"]
        if figures["total_requests"] >= 1:
            break
        await asyncio.sleep(0.05)
    return figures


__all__ = ["gateway"]
