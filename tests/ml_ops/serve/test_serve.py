"""`devora serve` as one app: a key made through the admin API, a call through the
official SDK on `/v1`, and the same call on the dashboard's API, over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import yaml
from openai import AsyncOpenAI

from ai.testing import FakeProviderServer
from ml_ops.runtime import RuntimeSettings
from ml_ops.serve import ServeSettings, create_app
from ml_ops.web import AdminKey
from tests.ai.provider_configs import TEST_KEY
from tests.ml_ops.dashboard.serving import served
from tests.ml_ops.gateway.conftest import ADMIN_KEY, KEY_SECRET, UPSTREAM_ENV, gateway_config

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_gateway_traffic_shows_on_the_dashboard(
    tmp_path: Path, fake: FakeProviderServer
) -> None:
    config = tmp_path / "devora.yaml"
    config.write_text(yaml.safe_dump({"gateway": gateway_config(fake)}))
    settings = ServeSettings(
        runtime=RuntimeSettings(store=tmp_path / "events.db", redis_url=None, cache=True),
        config=config,
        follow_seconds=0.2,
        environ={UPSTREAM_ENV: TEST_KEY, "DEVORA_KEY_SECRET": KEY_SECRET},
    )
    app = create_app(settings, admin_key=AdminKey.of(ADMIN_KEY))
    with served(app, lifespan="on") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            refused = await http.post("/admin/keys", json={"user": "ana"})
            assert refused.status_code == 401
            created = await http.post(
                "/admin/keys", json={"user": "ana", "team": "search"}, headers=AUTH
            )
            assert created.status_code == 201, created.text
            key = created.json()["key"]

            client = AsyncOpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
            answer = await client.chat.completions.create(
                model="fast", messages=[{"role": "user", "content": "Hello through serve"}]
            )
            assert answer.choices[0].message.content
            assert answer.usage is not None and answer.usage.total_tokens > 0
            await client.close()

            overview = await _overview_after_flush(http)
            assert overview["total_requests"] >= 1
            health = (await http.get("/api/health", headers=AUTH)).json()
            circuits = health["components"]["circuit_breakers"]["details"]["circuits"]
            assert {(c["service"], c["model"]) for c in circuits} >= {("fast", "gpt-4o-mini")}
            page = await http.get("/", headers=AUTH)
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            listing = (await http.get("/admin/keys", headers=AUTH)).json()
            assert [k["user"] for k in listing["keys"]] == ["ana"]
            assert key not in (await http.get("/admin/keys", headers=AUTH)).text


async def _overview_after_flush(http: httpx.AsyncClient) -> dict[str, float]:
    """The dashboard's overview once the call's record has reached the monitor."""

    for _ in range(100):
        data = (await http.get("/api/overview", params={"window": "1h"}, headers=AUTH)).json()
        overview: dict[str, float] = data["overview"]
        if overview["total_requests"] >= 1:
            return overview
        await asyncio.sleep(0.05)
    return overview
