"""The JSON API, `/metrics`, `/healthz` and `/readyz` over real HTTP: uvicorn in a thread
on a free port, httpx as the client, a seeded SQLite store behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from ml_ops.dashboard import DashboardManager, DashboardSettings, create_app, create_dashboard_app
from ml_ops.dashboard.api import ENDPOINTS
from ml_ops.runtime import RuntimeSettings
from ml_ops.store import SQLiteEventStore
from ml_ops.web import AdminKey
from tests.ml_ops.dashboard.conftest import ADMIN_KEY
from tests.ml_ops.dashboard.seeding import Seeded, traffic
from tests.ml_ops.dashboard.serving import served

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
GETS = [
    "/api/dashboard?window=1h", "/api/overview", "/api/overview?window=5m",
    "/api/timeseries?window=24h", "/api/costs", "/api/costs/history?days=7", "/api/budgets",
    "/api/experiments", "/api/experiments/prompt_test", "/api/alerts?limit=5", "/api/health",
    "/api/routing", "/api/routing?window=24h",
]  # fmt: skip


@pytest.fixture
async def client(seeded_state: Seeded, admin_key: AdminKey) -> AsyncIterator[httpx.AsyncClient]:
    with served(create_dashboard_app(seeded_state.manager, admin_key)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            yield http


async def test_every_get_endpoint_answers_json(client: httpx.AsyncClient) -> None:
    for path in GETS:
        response = await client.get(path, headers=AUTH)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.json(), path


async def test_dashboard_endpoint_carries_every_section(client: httpx.AsyncClient) -> None:
    data = (await client.get("/api/dashboard", params={"window": "24h"}, headers=AUTH)).json()
    assert data["window"] == "24h" and data["windows"] == ["1m", "5m", "1h", "24h", "all"]
    assert data["overview"]["overview"]["total_requests"] > 0
    assert data["timeseries"]["source"] == "store" and data["timeseries"]["bucket_seconds"] == 1800
    assert data["cost_history"]["forecast"]["point"]
    assert {x["name"] for x in data["experiments"]["experiments"]} == {"prompt_test", "model_test"}
    assert data["health"]["overall_status"] in {"healthy", "degraded", "unhealthy"}
    assert data["alerts"]["active"]
    routing = data["routing"]
    assert routing["window"] == "24h" and routing["routed_calls"] > 0
    assert routing["savings"]["saving"] > 0
    alone = (await client.get("/api/routing", params={"window": "24h"}, headers=AUTH)).json()
    assert alone["decisions"] == routing["decisions"] > 0
    bad = await client.get("/api/routing", params={"window": "3h"}, headers=AUTH)
    assert bad.status_code == 400 and "unknown window" in bad.json()["error"]


async def test_parameters_are_checked(client: httpx.AsyncClient) -> None:
    bad_window = await client.get("/api/overview", params={"window": "3h"}, headers=AUTH)
    assert bad_window.status_code == 400 and "unknown window" in bad_window.json()["error"]
    bad_limit = await client.get("/api/alerts", params={"limit": "0"}, headers=AUTH)
    assert bad_limit.status_code == 400
    for days in ("abc", "\u0663", "\u00b2", "-1"):  # Arabic-Indic 3, superscript 2
        bad_days = await client.get("/api/costs/history", params={"days": days}, headers=AUTH)
        assert bad_days.status_code == 400
        assert bad_days.json()["error"].startswith("days must be a whole number from 1 to")
    unknown = await client.get("/api/experiments/nope", headers=AUTH)
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    missing_alert = await client.post("/api/alerts/nope/acknowledge", headers=AUTH)
    assert missing_alert.status_code == 404
    wrong_method = await client.post("/api/overview", headers=AUTH)
    assert wrong_method.status_code == 405


async def test_acknowledge_an_alert(client: httpx.AsyncClient) -> None:
    active = (await client.get("/api/alerts", headers=AUTH)).json()["active"]
    target = active[0]["alert_id"]
    response = await client.post(f"/api/alerts/{target}/acknowledge", headers=AUTH)
    assert response.status_code == 200 and response.json()["acknowledged_at"]
    after = (await client.get("/api/alerts", headers=AUTH)).json()
    assert next(a for a in after["active"] if a["alert_id"] == target)["acknowledged_at"]


async def test_openapi_lists_exactly_the_api_routes(
    client: httpx.AsyncClient, seeded_state: Seeded, admin_key: AdminKey
) -> None:
    document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if path.startswith("/api/")
    }
    app = create_dashboard_app(seeded_state.manager, admin_key)
    served_routes = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/") and route.methods
        for method in route.methods - {"HEAD"}
        if route.path not in {"/api/openapi.json", "/api/docs"}
    }
    assert documented == served_routes == {(e.method, f"/api{e.path}") for e in ENDPOINTS}
    assert {"/metrics", "/healthz", "/readyz"} <= set(document["paths"])
    docs = await client.get("/api/docs")
    assert docs.status_code == 200 and "/api/alerts/{alert_id}/acknowledge" in docs.text


async def test_metrics_in_prometheus_text(client: httpx.AsyncClient, seeded_state: Seeded) -> None:
    assert (await client.get("/metrics")).status_code == 401
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "devora_requests_total{" in response.text
    assert 'model="gpt-4o-mini"' in response.text and "devora_cost_usd_total" in response.text


async def test_metrics_may_be_public(seeded_state: Seeded, admin_key: AdminKey) -> None:
    app = create_dashboard_app(
        seeded_state.manager, admin_key, settings=DashboardSettings(metrics_public=True)
    )
    with served(app) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/metrics")).status_code == 200
            assert (await http.get("/api/overview")).status_code == 401


async def test_liveness_and_readiness(tmp_path: Path, admin_key: AdminKey) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    app = create_dashboard_app(DashboardManager(store=store), admin_key)
    with served(app) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json() == {
                "status": "ready", "checks": {"store": True}
            }  # fmt: skip
            await store.aclose()
            down = await http.get("/readyz")
            assert down.status_code == 503 and down.json()["checks"] == {"store": False}
            assert "closed" not in down.text  # open endpoints say up or down, nothing more


async def test_standalone_app_opens_the_store_in_its_lifespan(
    tmp_path: Path, admin_key: AdminKey
) -> None:
    path = tmp_path / "events.db"
    store = SQLiteEventStore(path)
    records = traffic(datetime.now(UTC), hours=2)
    await store.append(records)
    await store.aclose()
    settings = DashboardSettings(runtime=RuntimeSettings(store=path), follow_seconds=0.2)
    with served(create_app(settings, admin_key=admin_key), lifespan="on") as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as http:
            overview = (await http.get("/api/overview")).json()
            assert overview["overview"]["total_requests"] == len(records)
            health = (await http.get("/api/health")).json()
            assert health["components"]["store"]["status"] == "healthy"


async def test_mounted_under_a_prefix(seeded_state: Seeded, admin_key: AdminKey) -> None:
    inner = create_dashboard_app(seeded_state.manager, admin_key)
    outer = Starlette(routes=[Mount("/dashboard", app=inner)])
    with served(outer) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            login = await http.post("/dashboard/login", data={"key": ADMIN_KEY})
            assert login.status_code == 303 and login.headers["location"] == "/dashboard/"
            assert "Path=/dashboard" in login.headers["set-cookie"]
            page = await http.get("/dashboard/")
            assert page.status_code == 200 and '<base href="/dashboard/">' in page.text
            assert (await http.get("/dashboard/api/overview")).status_code == 200
            assert (await http.get("/dashboard/static/dashboard.js")).status_code == 200
