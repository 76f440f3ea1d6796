"""The OpenAI-compatible gateway, called with the official `openai` SDK.

`devora serve` in this process: `ml_ops.serve.create_app` puts the gateway under `/v1`
and the dashboard under `/`, served here by uvicorn on a free loopback port. Its state
(event store, experiments, virtual keys) lives in a temporary folder; its one model
alias, `fast`, points at the loopback fake of OpenAI. An admin makes a virtual key
through `POST /admin/keys`; a user calls `/v1` with it exactly as they would call OpenAI;
the dashboard's `/api/overview` then counts the call.

Run: python examples/gateway_openai_sdk.py   (needs `pip install 'devora-ai[demo]'`)
"""

import asyncio
import secrets
import socket
import tempfile
from pathlib import Path

import httpx
import uvicorn
import yaml
from openai import AsyncOpenAI

from ai.testing import FakeProviderServer
from ml_ops.runtime import RuntimeSettings
from ml_ops.serve import ServeSettings, create_app
from ml_ops.web import AdminKey


async def main() -> None:
    admin_key = "dvr-admin-" + secrets.token_urlsafe(24)  # or DEVORA_ADMIN_KEY
    with tempfile.TemporaryDirectory() as folder:
        async with FakeProviderServer() as fake:
            config = {  # what devora.yaml would say
                "gateway": {
                    "providers": {
                        "openai": {"base_url": fake.openai_base_url, "api_key_env": "UPSTREAM_KEY"}
                    },
                    "models": {"fast": {"provider": "openai", "model": "gpt-4o-mini"}},
                }
            }
            (Path(folder) / "devora.yaml").write_text(yaml.safe_dump(config))
            settings = ServeSettings(
                runtime=RuntimeSettings(
                    store=Path(folder) / "events.db", experiments=Path(folder) / "experiments.db"
                ),
                config=Path(folder) / "devora.yaml",
                environ={"UPSTREAM_KEY": fake.api_key, "DEVORA_KEY_SECRET": secrets.token_hex(32)},
            )
            app = create_app(settings, admin_key=AdminKey.of(admin_key))

            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))  # a free port
            base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started:
                if serving.done():  # it failed to start: say why
                    serving.result()
                await asyncio.sleep(0.01)

            try:
                await talk_to(base_url, admin_key)
            finally:
                server.should_exit = True
                await serving


async def talk_to(base_url: str, admin_key: str) -> None:
    """Make a key as the admin, call the gateway as its user, read the dashboard."""
    auth = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=auth) as admin:
        created = await admin.post("/admin/keys", json={"user": "ana", "team": "search"})
        key = created.json()["key"]  # shown once; the gateway keeps only a digest
        print(f"POST /admin/keys: {created.status_code}, a key for ana: {key[:10]}...")

        client = AsyncOpenAI(base_url=base_url + "/v1", api_key=key)
        answer = await client.chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "Hello, gateway!"}]
        )
        print(f"answer: {answer.choices[0].message.content}")
        print(f"usage: {answer.usage.total_tokens if answer.usage else 0} tokens")
        await client.close()

        for _ in range(50):  # until the call's record has reached the dashboard's monitor
            response = await admin.get("/api/overview", params={"window": "1h"})
            overview = response.json()["overview"]
            if overview["total_requests"]:
                break
            await asyncio.sleep(0.05)
        print(f"dashboard: {overview['total_requests']} request, ${overview['total_cost']:.6f}")


if __name__ == "__main__":
    asyncio.run(main())
