"""Who gets in: no key, a wrong key, the right key by header, the login form's cookie,
logout, the extra header a cookie session needs to change state, the open endpoints; and
no configured secret appears in any response or page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ai.llm_service import LLMService
from ai.testing import FakeProviderServer
from ml_ops.dashboard import DashboardManager, DashboardSettings, create_dashboard_app
from ml_ops.dashboard.api import ENDPOINTS
from ml_ops.web import AdminKey
from tests.ai.provider_configs import TEST_KEY, openai_config
from tests.ml_ops.dashboard.conftest import ADMIN_KEY
from tests.ml_ops.dashboard.seeding import Seeded
from tests.ml_ops.dashboard.serving import served

PROVIDER_KEY = TEST_KEY  # the provider key the loopback fake accepts
REDIS_PASSWORD = "redis-pass-9f8e7d6c5b4a"


def concrete(path: str) -> str:
    return path.replace("{name}", "prompt_test").replace("{alert_id}", "x")


@pytest.fixture
async def base(seeded_state: Seeded, admin_key: AdminKey) -> AsyncIterator[str]:
    with served(create_dashboard_app(seeded_state.manager, admin_key)) as url:
        yield url


async def test_without_the_key_nothing_is_shown(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for endpoint in ENDPOINTS:
            response = await http.request(endpoint.method, f"/api{concrete(endpoint.path)}")
            assert response.status_code == 401, endpoint.path
            assert response.headers["www-authenticate"].startswith("Bearer")
        page = await http.get("/")
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert (await http.get("/metrics")).status_code == 401


async def test_a_wrong_key_is_refused(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for headers in (
            {"Authorization": "Bearer dvr-admin-not-the-key-0000000"},
            {"X-Admin-Key": ADMIN_KEY[:-1]},
        ):
            assert (await http.get("/api/overview", headers=headers)).status_code == 401
        assert (await http.get("/api/overview", params={"key": ADMIN_KEY})).status_code == 401
        http.cookies.set("devora_admin", "wrong-cookie-value-123456")
        assert (await http.get("/api/overview")).status_code == 401


async def test_the_key_in_either_header(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for headers in ({"Authorization": f"Bearer {ADMIN_KEY}"}, {"X-Admin-Key": ADMIN_KEY}):
            assert (await http.get("/api/overview", headers=headers)).status_code == 200


async def test_login_form_sets_a_strict_cookie_and_logout_clears_it(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        form = await http.get("/login")
        assert form.status_code == 200 and 'name="key"' in form.text
        wrong = await http.post("/login", data={"key": "not-the-admin-key-000"})
        assert wrong.status_code == 401 and "not right" in wrong.text
        assert "set-cookie" not in wrong.headers
        right = await http.post("/login", data={"key": ADMIN_KEY})
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = right.headers["set-cookie"]
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=43200"):
            assert attribute.lower() in cookie.lower(), attribute
        # The cookie is a signed session, not the key: a copy of it does not reveal the key.
        assert ADMIN_KEY not in cookie and ADMIN_KEY[10:20] not in cookie
        page = await http.get("/")
        assert page.status_code == 200 and 'id="cards"' in page.text
        assert (await http.get("/api/overview")).status_code == 200
        assert (await http.get("/login")).status_code == 303  # already in: to the page
        out = await http.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert (await http.get("/api/overview")).status_code == 401


async def test_a_cookie_session_needs_the_extra_header_to_change_state(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        await http.post("/login", data={"key": ADMIN_KEY})
        alert_id = (await http.get("/api/alerts")).json()["active"][0]["alert_id"]
        path = f"/api/alerts/{alert_id}/acknowledge"
        refused = await http.post(path)
        assert refused.status_code == 403 and "X-Requested-With" in refused.json()["error"]
        # Headers that are not the admin key do not stand in for it: a browser sends a
        # proxy's cached Basic credentials by itself.
        for header in ({"Authorization": "Basic dXNlcjpwYXNz"}, {"X-Admin-Key": "not-it"}):
            assert (await http.post(path, headers=header)).status_code in (401, 403), header
        done = await http.post(path, headers={"X-Requested-With": "devora-dashboard"})
        assert done.status_code == 200 and done.json()["acknowledged_at"]


async def test_open_endpoints(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for path in ("/healthz", "/readyz", "/login", "/api/openapi.json", "/api/docs",
                     "/static/dashboard.js", "/static/vendor/uplot/uPlot.iife.min.js"):  # fmt: skip
            response = await http.get(path)
            assert response.status_code == 200, path
            assert "default-src 'self'" in response.headers["content-security-policy"]
            assert response.headers["x-frame-options"] == "DENY"


async def test_no_configured_secret_is_rendered_anywhere(
    seeded_state: Seeded, admin_key: AdminKey, fake: FakeProviderServer
) -> None:
    config = openai_config(fake, api_key=PROVIDER_KEY, fallback_models=["gpt-4o"])
    async with LLMService(config) as llm:
        await llm.complete(messages=[{"role": "user", "content": "hi"}])
        manager = DashboardManager(
            monitor=seeded_state.monitor, cost_tracker=seeded_state.cost_tracker,
            ab_tester=seeded_state.ab_tester, store=seeded_state.store, services={"main": llm},
            redis_url=f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0",
        )  # fmt: skip
        seen = []
        with served(create_dashboard_app(manager, admin_key)) as url:
            async with httpx.AsyncClient(base_url=url, headers={"X-Admin-Key": ADMIN_KEY}) as http:
                paths = ["/", "/login", "/api/openapi.json", "/api/docs", "/metrics",
                         "/healthz", "/readyz", "/api/alerts/x/acknowledge"]  # fmt: skip
                paths += [f"/api{concrete(e.path)}" for e in ENDPOINTS if e.method == "GET"]
                for path in paths:
                    method = "POST" if path.endswith("acknowledge") else "GET"
                    response = await http.request(method, path)
                    seen.append((path, response.status_code, response.text))
    health = next(text for path, _, text in seen if path == "/api/health")
    assert '"circuit_breakers"' in health and '"redis"' in health  # the secrets' owners were read
    for path, _, text in seen:
        for secret in (ADMIN_KEY, PROVIDER_KEY, REDIS_PASSWORD):
            assert secret not in text, (secret, path)


async def test_the_page_opens_on_the_configured_window(
    seeded_state: Seeded, admin_key: AdminKey
) -> None:
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for setting, opened in (("1h", "1h"), ("all", "all"), ("3d", "1h")):
        settings = DashboardSettings(default_window=setting)
        app = create_dashboard_app(seeded_state.manager, admin_key, settings=settings)
        with served(app) as url:
            async with httpx.AsyncClient(base_url=url) as http:
                page = (await http.get("/", headers=auth)).text
                chosen = (await http.get("/", params={"window": "5m"}, headers=auth)).text
        assert f'<option value="{opened}" selected>' in page, setting
        assert '<option value="5m" selected>' in chosen  # ?window= still wins
