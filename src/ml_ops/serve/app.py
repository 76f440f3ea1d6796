"""`devora serve`: the gateway under `/v1` and the dashboard under `/`, one runtime.

    app = create_app(ServeSettings(), admin_key=key)     # uvicorn runs it

At start-up the lifespan opens the `Runtime` (store, writer, monitor, cost tracking,
experiments, cache), builds the dashboard's manager over it, starts the gateway with the
runtime's cost tracker, cache and experiment guard (so the dashboard shows the gateway's
traffic and budgets as they happen), and follows the store so that traffic written by
other `devora serve` processes sharing it shows too. Everything closes at shut-down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ai.core.guards import CallGuard
from ml_ops.dashboard import DashboardManager, DashboardSettings, dashboard_routes
from ml_ops.dashboard.access import SecurityHeaders
from ml_ops.dashboard.api import ManagerSlot
from ml_ops.gateway import create_gateway_app
from ml_ops.gateway.app import DirectPathApp
from ml_ops.gateway.config import load_gateway_config
from ml_ops.runtime import Runtime, RuntimeSettings
from ml_ops.web import AdminKey


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """What `devora serve` runs: where state lives (`runtime`), the gateway's config file
    (`config`: None for `$DEVORA_CONFIG`, else `devora.yaml` when present), the dashboard's
    settings, and how often the store is followed for other processes' traffic."""

    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    config: str | Path | None = None
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    follow_seconds: float = 5.0
    environ: Mapping[str, str] | None = None


ServeApp = DirectPathApp
"""The served app: the gateway's hot paths skip middleware and routing."""


def create_app(
    settings: ServeSettings | None = None,
    *,
    admin_key: AdminKey,
    runtime: Runtime | None = None,
    guards: Sequence[CallGuard] = (),
    on_ready: Callable[[], None] | None = None,
) -> ServeApp:
    """The combined app (see the module docstring). With `runtime`, it serves that one and
    leaves it open at shut-down; otherwise it opens one over `settings.runtime`. `guards`
    run on every gateway call after the gateway's own (budgets, experiments). `on_ready`
    is called once start-up has succeeded (`devora serve` says where it serves then)."""
    settings = settings or ServeSettings()
    own = runtime is None
    active = runtime or Runtime.create(settings.runtime)
    slot = ManagerSlot()
    config = load_gateway_config(settings.config, environ=settings.environ)
    gateway = create_gateway_app(
        config,
        runtime=active,
        admin_key=admin_key,
        cost_tracker=active.cost_tracker,
        cache=active.cache,
        guards=guards,
        # Rate limits: --redis-url, else the config's `limits.redis_url`, else $REDIS_URL.
        redis_url=active.settings.redis_url
        or config.limits.redis_url
        or active.settings.resolved_redis_url(),
        environ=settings.environ,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if own:
            await active.restore()
        follower = asyncio.ensure_future(active.monitor.follow(settings.follow_seconds))
        try:
            async with gateway:
                slot.manager = DashboardManager.from_runtime(
                    active, cache=active.cache, services=gateway.services
                )
                if on_ready is not None:
                    on_ready()
                yield
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            slot.manager = None
            if own:
                await active.aclose()

    app = ServeApp(
        routes=[*gateway.routes, *dashboard_routes(slot, admin_key, settings.dashboard)],
        middleware=[Middleware(SecurityHeaders)],
        lifespan=lifespan,
    )
    app.direct_paths = gateway.direct_paths
    app.state.gateway = gateway
    app.state.dashboard = slot
    return app
