"""The dashboard as a Starlette app: the page, the login form, the JSON API, `/metrics`,
`/healthz` and `/readyz`.

- `create_dashboard_app(manager, admin_key)`: an app (mountable anywhere, e.g.
  `Mount("/dashboard", app=...)` beside the gateway) over a `DashboardManager` you built;
  it starts nothing and needs no lifespan.
- `dashboard_routes(...)`: the same routes, to put into another app's route list.
- `create_app(settings, admin_key=...)`: standalone; its lifespan opens a `Runtime` over
  `settings.runtime` (the event store, restored), follows the store for other processes'
  records, and closes it at shutdown.

| path | access |
|---|---|
| `/` (page), `/api/...` | the admin key (header, or the cookie set by `/login`) |
| `/login`, `/logout`, `/static/...`, `/api/docs`, `/api/openapi.json` | open |
| `/metrics` | the admin key unless `metrics_public` (see docs/dashboard.md) |
| `/healthz`, `/readyz` | open, and they say nothing but up/down |

Serving it is the caller's job (uvicorn); `DashboardSettings.host` defaults to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ai.errors import ConfigurationError
from ml_ops.dashboard import pages
from ml_ops.dashboard.access import (
    SecurityHeaders,
    base_path,
    page_guard,
    submitted_key,
    unauthorized,
    with_login_cookie,
    without_login_cookie,
)
from ml_ops.dashboard.api import ManagerSlot, NotReady, api_routes
from ml_ops.dashboard.manager import DashboardManager
from ml_ops.dashboard.openapi import docs_html, openapi_document
from ml_ops.runtime import Runtime, RuntimeSettings
from ml_ops.web import AdminKey, json_response, require_admin

STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """How the dashboard is served. `host`/`port` are for whoever runs uvicorn (loopback by
    default: put a TLS proxy in front to expose it); `refresh_seconds` is the page's
    polling interval; `metrics_public` opens `/metrics` to scrapers without the key;
    `cookie_max_age` is how long a login lasts; `default_window` is the window the page
    opens on (`1h`; a short-lived process such as the demo shows `all`); `runtime` and
    `follow_seconds` are used by `create_app` only."""

    host: str = "127.0.0.1"
    port: int = 8765
    title: str = "Devora"
    refresh_seconds: float = 5.0
    metrics_public: bool = False
    cookie_max_age: int = 12 * 3600
    default_window: str = "1h"
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    follow_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.refresh_seconds < 1 or self.follow_seconds <= 0:
            raise ConfigurationError("refresh_seconds must be >= 1 and follow_seconds > 0")
        if not 0 <= self.port <= 65535 or self.cookie_max_age < 60:
            raise ConfigurationError("port must be 0-65535 and cookie_max_age >= 60 seconds")


class _Site:
    """The non-API endpoints, over the manager in `slot`."""

    def __init__(self, slot: ManagerSlot, key: AdminKey, settings: DashboardSettings) -> None:
        self.slot = slot
        self.key = key
        self.settings = settings
        self._registries: dict[int, Any] = {}

    async def index(self, request: Request) -> Response:
        try:
            windows = self.slot.get().windows
        except NotReady:
            return HTMLResponse("The dashboard is starting; reload in a moment.", 503)
        return pages.dashboard_page(
            request,
            title=self.settings.title,
            refresh_seconds=self.settings.refresh_seconds,
            windows=windows,
            default_window=self.settings.default_window,
        )

    async def login_form(self, request: Request) -> Response:
        if require_admin(request, self.key):
            return RedirectResponse(f"{base_path(request)}/", status_code=303)
        return pages.login_page(request, title=self.settings.title)

    async def login(self, request: Request) -> Response:
        key = await submitted_key(request)
        if key is None or not self.key.matches(key):
            return pages.login_page(
                request, title=self.settings.title, error="That key is not right.", status=401
            )
        redirect = RedirectResponse(f"{base_path(request)}/", status_code=303)
        max_age = self.settings.cookie_max_age
        return with_login_cookie(redirect, request, self.key.session(max_age), max_age)

    async def logout(self, request: Request) -> Response:
        redirect = RedirectResponse(f"{base_path(request)}/login", status_code=303)
        return without_login_cookie(redirect, request)

    async def openapi(self, request: Request) -> Response:
        return json_response(openapi_document(metrics_public=self.settings.metrics_public))

    async def docs(self, request: Request) -> Response:
        return HTMLResponse(
            docs_html(openapi_document(metrics_public=self.settings.metrics_public))
        )

    async def metrics(self, request: Request) -> Response:
        if not self.settings.metrics_public and not require_admin(request, self.key):
            return unauthorized()
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        try:
            monitor = self.slot.get().monitor
        except NotReady as exc:
            return json_response({"error": str(exc)}, status=503)
        registry = CollectorRegistry()
        if monitor is not None:
            registry = self._registries.get(id(monitor)) or self._registries.setdefault(
                id(monitor), monitor.prometheus_registry()
            )
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        try:
            checks = await self.slot.get().readiness()
        except NotReady:
            return json_response({"status": "starting", "checks": {}}, status=503)
        ready = all(checks.values())
        return json_response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status=200 if ready else 503,
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", page_guard(self.key, self.index), methods=["GET"], name="dashboard"),
            Route("/login", self.login_form, methods=["GET"], name="login_form"),
            Route("/login", self.login, methods=["POST"], name="login"),
            Route("/logout", self.logout, methods=["POST"], name="logout"),
            Route("/api/openapi.json", self.openapi, methods=["GET"], name="openapi"),
            Route("/api/docs", self.docs, methods=["GET"], name="api_docs"),
            *api_routes(self.slot, self.key),
            Route("/metrics", self.metrics, methods=["GET"], name="metrics"),
            Route("/healthz", self.healthz, methods=["GET"], name="healthz"),
            Route("/readyz", self.readyz, methods=["GET"], name="readyz"),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]


def dashboard_routes(
    manager: DashboardManager | ManagerSlot,
    admin_key: AdminKey,
    settings: DashboardSettings | None = None,
) -> list[BaseRoute]:
    """Every route of the dashboard (see the module docstring), for another app's list.
    Add `SecurityHeaders` to that app's middleware for the same response headers."""
    slot = manager if isinstance(manager, ManagerSlot) else ManagerSlot(manager)
    return _Site(slot, admin_key, settings or DashboardSettings()).routes()


def create_dashboard_app(
    manager: DashboardManager,
    admin_key: AdminKey,
    *,
    settings: DashboardSettings | None = None,
) -> Starlette:
    """The dashboard over `manager`, guarded by `admin_key` (no lifespan of its own)."""
    return Starlette(
        routes=dashboard_routes(manager, admin_key, settings),
        middleware=[Middleware(SecurityHeaders)],
    )


def create_app(
    settings: DashboardSettings | None = None,
    *,
    admin_key: AdminKey,
    manager: DashboardManager | None = None,
    sources: Mapping[str, Any] | None = None,
) -> Starlette:
    """A standalone dashboard. With `manager`, it serves that one; otherwise its lifespan
    opens a `Runtime` over `settings.runtime`, builds `DashboardManager.from_runtime(
    runtime, **sources)`, follows the store every `follow_seconds`, and closes it all at
    shutdown."""
    settings = settings or DashboardSettings()
    slot = ManagerSlot(manager)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manager is not None:
            yield
            return
        runtime = await Runtime.open(settings.runtime)
        slot.manager = DashboardManager.from_runtime(runtime, **dict(sources or {}))
        follower = asyncio.ensure_future(runtime.monitor.follow(settings.follow_seconds))
        try:
            yield
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            slot.manager = None
            await runtime.aclose()

    return Starlette(
        routes=dashboard_routes(slot, admin_key, settings),
        middleware=[Middleware(SecurityHeaders)],
        lifespan=lifespan,
    )
