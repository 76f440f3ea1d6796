"""`devora serve` as one app: a key made through the admin API, a call through the
official SDK on `/v1`, and the same call on the dashboard's API, over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import yaml
from openai import AsyncOpenAI
from typer.testing import CliRunner

from ai.cli.app import app as devora
from ai.testing import FakeProviderServer
from ml_ops.runtime import Runtime, RuntimeSettings
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


async def test_the_dashboard_login_cookie_does_not_administer_keys(
    tmp_path: Path, fake: FakeProviderServer
) -> None:
    """Under `devora serve` the dashboard's cookie is sent to `/admin/keys` too (same
    host, path `/`): a page of the same site posting a form there must not create or
    revoke keys through a logged-in browser. The key endpoints take the key in a header
    only; the dashboard itself keeps working with the cookie."""
    config = tmp_path / "devora.yaml"
    config.write_text(yaml.safe_dump({"gateway": gateway_config(fake)}))
    settings = ServeSettings(
        runtime=RuntimeSettings(store=tmp_path / "events.db", redis_url=None),
        config=config,
        environ={UPSTREAM_ENV: TEST_KEY, "DEVORA_KEY_SECRET": KEY_SECRET},
    )
    app = create_app(settings, admin_key=AdminKey.of(ADMIN_KEY))
    with served(app, lifespan="on") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as browser:
            login = await browser.post("/login", data={"key": ADMIN_KEY})
            assert login.status_code == 303 and browser.cookies.get("devora_admin")
            assert (await browser.get("/api/overview")).status_code == 200
            kept = (await browser.post("/admin/keys", headers=AUTH, json={"user": "kept"})).json()
            # What a cross-site form can send: a text/plain body, no custom header.
            forged = b'{"user": "mallory", "team": "x"}'
            created = await browser.post(
                "/admin/keys", content=forged, headers={"content-type": "text/plain"}
            )
            assert created.status_code == 401, created.text
            assert (await browser.get("/admin/keys")).status_code == 401
            assert (await browser.delete(f"/admin/keys/{kept['id']}")).status_code == 401
            listing = (await browser.get("/admin/keys", headers=AUTH)).json()["keys"]
            assert [(k["user"], k["status"]) for k in listing] == [("kept", "active")]


async def _overview_after_flush(http: httpx.AsyncClient) -> dict[str, float]:
    """The dashboard's overview once the call's record has reached the monitor."""

    for _ in range(100):
        data = (await http.get("/api/overview", params={"window": "1h"}, headers=AUTH)).json()
        overview: dict[str, float] = data["overview"]
        if overview["total_requests"] >= 1:
            return overview
        await asyncio.sleep(0.05)
    return overview


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ("x: {provider: opneai, model: gpt-4o}", "gateway.models.x.provider: unknown provider"),
        (
            "fast: {provider: openai, model: m, defaults: {temperature: hot}}",
            "gateway.models.fast.defaults.temperature must be a number from 0 to 2",
        ),
        (
            "fast: {provider: openai, model: m, settings: {timeout: '60'}}",
            "gateway.models.fast.settings.timeout must be a number of seconds",
        ),
    ],
)
def test_serve_with_a_config_mistake_prints_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEVORA_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.delenv("DEVORA_CONFIG", raising=False)
    (tmp_path / "devora.yaml").write_text(f"gateway:\n  models:\n    {models}\n")
    result = CliRunner().invoke(devora, ["serve", "--store", str(tmp_path / "events.db")])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()  # no traceback, no "Dashboard: ..." first
    assert line.startswith("error: devora.yaml: ") and message in line


def test_serve_names_the_config_file_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVORA_ADMIN_KEY", ADMIN_KEY)
    path = tmp_path / "gw.yaml"
    path.write_text("gateway:\n  teams:\n    a: {budget: 0/month}\n")
    result = CliRunner().invoke(devora, ["serve", "--config", str(path), "--workers", "2"])
    assert result.exit_code == 1
    assert result.stderr == f"error: {path}: gateway.teams.a.budget: " + (
        "Budget '0/month' should read like 10/day, 50/week or 200/month (USD > 0).\n"
    )


def test_serve_with_a_short_admin_key_prints_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEVORA_ADMIN_KEY", "too-short")
    monkeypatch.delenv("DEVORA_CONFIG", raising=False)
    result = CliRunner().invoke(devora, ["serve", "--store", str(tmp_path / "events.db")])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()  # no traceback
    assert line.startswith("error: The admin key must be at least 16 characters")


def test_serve_with_a_store_it_cannot_reach_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is opened at start-up; its error is the message, not a traceback, and
    nothing claims the server is up."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEVORA_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.delenv("DEVORA_CONFIG", raising=False)
    store = "postgresql://devora:hunter2secret@127.0.0.1:1/nothing"  # port 1: refused
    result = CliRunner().invoke(devora, ["serve", "--port", "0", "--store", store])
    assert result.exit_code == 1, result.output
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "Dashboard:" not in output
    assert "hunter2secret" not in output
    assert "PostgreSQL event store" in output and "Check that PostgreSQL is running" in output


@pytest.mark.parametrize(
    ("flag", "expected"),
    [(None, "redis://127.0.0.1:2/0"), ("redis://127.0.0.1:3/0", "redis://127.0.0.1:3/0")],
)
async def test_serve_limits_use_redis_url_then_the_configs_then_the_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str | None, expected: str
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # the default the config overrides
    config = tmp_path / "devora.yaml"
    limits = {"redis_url": "redis://127.0.0.1:2/0"}
    config.write_text(yaml.safe_dump({"gateway": {"limits": limits}}))
    runtime = Runtime.create(
        RuntimeSettings(
            store=tmp_path / "events.db", experiments="memory:", redis_url=flag, cache=False
        )
    )
    try:
        settings = ServeSettings(runtime=runtime.settings, config=config)
        app = create_app(settings, admin_key=AdminKey.of(ADMIN_KEY), runtime=runtime)
        assert app.state.gateway.redis_url == expected  # nothing connects before start-up
    finally:
        await runtime.aclose()
