"""The gateway as Starlette routes (`create_gateway_app`, for `devora serve` to compose
with the dashboard) or as a standalone app (`create_app`).

    gateway = create_gateway_app(load_gateway_config(), runtime=runtime, admin_key=key)
    app = Starlette(routes=[*gateway.routes, ...], lifespan=...)   # `async with gateway:`

Routes: `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models`,
`GET /v1/models/{model}` (all behind virtual keys), and `POST|GET /admin/keys`,
`DELETE /admin/keys/{key_id}` (behind the admin key; only when one is given).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Self

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp

from ai.cache.response_cache import ResponseCache
from ai.core.guards import CallGuard
from ai.core.lifecycle import AsyncClosing
from ai.db.redis import connect_redis
from ai.errors import DevoraError
from ai.llm_service import LLMService
from ml_ops.cost_tracker import CostTracker
from ml_ops.gateway.access_log import AccessLog
from ml_ops.gateway.admin import admin_routes
from ml_ops.gateway.asgi import Message, Receive, Scope, Send, send_json
from ml_ops.gateway.budgets import GatewayBudgets
from ml_ops.gateway.call_context import CallWatcher
from ml_ops.gateway.chat import ChatCompletions
from ml_ops.gateway.config import GatewayConfig, load_gateway_config
from ml_ops.gateway.embeddings_endpoint import Embeddings
from ml_ops.gateway.errors import GatewayError, not_found
from ml_ops.gateway.key_manager import KeyManager
from ml_ops.gateway.key_ring import KeyRing
from ml_ops.gateway.key_store import KeyStore, open_key_store
from ml_ops.gateway.keys import KeyHasher, load_secret
from ml_ops.gateway.models_endpoint import Models
from ml_ops.gateway.rate_limit import RedisRateLimiter, SharedRateLimiter
from ml_ops.gateway.routing import ModelCatalog
from ml_ops.gateway.state import GatewayState, Handler, endpoint
from ml_ops.runtime import Runtime, RuntimeSettings
from ml_ops.web import AdminKey


class _Endpoint:
    """An ASGI app that runs a handler against the started gateway's state."""

    def __init__(self, gateway: Gateway, method: str, make: type[Any]) -> None:
        self._gateway = gateway
        self._method = method
        self._make = make
        self._app: Any = None
        self._state: GatewayState | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self._gateway.state
        if state is not self._state:  # first request, or the gateway was restarted
            handler: Handler = self._make(state)
            self._app, self._state = endpoint(state, self._method, handler), state
        await self._app(scope, receive, send)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    error = not_found(scope["path"])
    await send_json(send, error.status, error.body())


class Gateway(AsyncClosing):
    """One process's gateway: routes now, everything behind them once started
    (`async with gateway:` or `await gateway.start()` ... `await gateway.aclose()`)."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        runtime: Runtime | None,
        admin_key: AdminKey | None = None,
        cost_tracker: CostTracker | None = None,
        key_store: KeyStore | None = None,
        redis_url: str | None = None,
        cache: ResponseCache | None = None,
        guards: Sequence[CallGuard] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self._guards = tuple(guards)
        self.runtime = runtime
        self._environ = os.environ if environ is None else environ
        self._redis_url = (
            redis_url or config.limits.redis_url or self._environ.get("REDIS_URL") or None
        )
        self._tracker = cost_tracker
        self._key_store = key_store
        self._cache = cache
        self._state: GatewayState | None = None
        self.keys: KeyManager | None = None
        chat = _Endpoint(self, "POST", ChatCompletions)
        embeddings = _Endpoint(self, "POST", Embeddings)
        v1 = Router(
            routes=[
                Route("/chat/completions", chat),
                Route("/embeddings", embeddings),
                Route("/models", _Endpoint(self, "GET", Models)),
                Route("/models/{model:path}", _Endpoint(self, "GET", Models)),
            ],
            default=_not_found,
        )
        self.routes: list[BaseRoute] = [Mount("/v1", app=v1)]
        #: The hot paths as plain ASGI apps, for an app that dispatches them before its
        #: middleware (as `create_app` does): a third of the time a request spends outside
        #: `LLMService` went to Starlette's middleware and routing layers.
        self.direct_paths: dict[str, ASGIApp] = {
            "/v1/chat/completions": chat,
            "/v1/embeddings": embeddings,
        }
        if admin_key is not None:
            self.routes.extend(admin_routes(self._manager, admin_key))

    @property
    def state(self) -> GatewayState:
        if self._state is None:
            raise GatewayError("The gateway is starting; retry in a moment.", status=503)
        return self._state

    @property
    def services(self) -> dict[str, LLMService]:
        """The `LLMService` behind each chat alias, by alias (started gateway only): what a
        dashboard's health panel reads the circuit breakers from."""
        chat = self.state.catalog.chat
        return {name: route.service for name, route in chat.items() if name == route.alias.name}

    @property
    def redis_url(self) -> str | None:
        """The Redis shared by every process (None: limits and budgets per process)."""
        return self._redis_url

    def _manager(self) -> KeyManager:
        if self.keys is None:
            raise GatewayError("The gateway is starting; retry in a moment.", status=503)
        return self.keys

    async def start(self) -> Self:
        """Open the key store, Redis, the cost tracker and the model services."""
        config = self.config
        runtime = self.runtime
        if runtime is None:
            raise GatewayError(
                "Gateway.start() needs a runtime (gateway.runtime = ...).", status=500
            )
        hasher = KeyHasher(load_secret(config.keys.secret_file, environ=dict(self._environ)))
        store = self._key_store or open_key_store(
            config.keys.store, event_store=runtime.settings.store
        )
        tracker = self._tracker or runtime.cost_tracker
        budgets = GatewayBudgets(tracker, config.teams)
        ring = KeyRing(store, hasher, ttl=config.keys.cache_ttl, on_load=budgets.key_loaded)
        shared = None
        if self._redis_url:
            connection = connect_redis(
                self._redis_url, owner="gateway rate limits", label="Redis rate limits"
            )
            shared = RedisRateLimiter(connection)
        limiter = SharedRateLimiter(shared, retry_after=config.limits.redis_retry_after)
        catalog = ModelCatalog(
            config,
            bus=runtime.bus,
            guards=[CallWatcher(), budgets.guard, runtime.ab_tester.guard(), *self._guards],
            environ=self._environ,
            cache=self._cache if self._cache is not None else runtime.cache,
        )
        self._state = GatewayState(
            catalog,
            ring,
            limiter,
            AccessLog(log_content=config.log_content),
            cache_scope=config.cache_scope,
        )
        self.keys = KeyManager(store, hasher, ring)
        return self

    async def __aenter__(self) -> Self:
        return await self.start()

    async def aclose(self) -> None:
        """Close what `start` opened (the runtime is the caller's)."""
        state, self._state = self._state, None
        if state is not None:
            await state.catalog.aclose()
            await state.limiter.aclose()
            await state.keys.store.aclose()


def create_gateway_app(
    config: GatewayConfig | None = None,
    *,
    runtime: Runtime,
    admin_key: AdminKey | None = None,
    cost_tracker: CostTracker | None = None,
    key_store: KeyStore | None = None,
    redis_url: str | None = None,
    cache: ResponseCache | None = None,
    guards: Sequence[CallGuard] = (),
    environ: Mapping[str, str] | None = None,
) -> Gateway:
    """The gateway's routes and lifecycle (see the module docstring). `config` defaults
    to `devora.yaml` (or `$DEVORA_CONFIG`); `redis_url` (rate limits) to the config's, else
    `$REDIS_URL` (neither: per process). Budgets, experiments and the response cache are
    the runtime's (`runtime.cost_tracker`, whose counters follow the runtime's Redis;
    `runtime.ab_tester`; `runtime.cache`) unless `cost_tracker` or `cache` is given.
    Every call runs the guards: the gateway's own, the budget guard, the experiments'
    guard, then `guards`."""
    return Gateway(
        config if config is not None else load_gateway_config(environ=environ),
        runtime=runtime,
        admin_key=admin_key,
        cost_tracker=cost_tracker,
        key_store=key_store,
        redis_url=redis_url,
        cache=cache,
        guards=guards,
        environ=environ,
    )


def create_app(
    config: GatewayConfig | None = None,
    *,
    runtime: Runtime | None = None,
    runtime_settings: RuntimeSettings | None = None,
    admin_key: AdminKey | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    **options: Any,
) -> Starlette:
    """A standalone Starlette app serving only the gateway. Without `runtime`, one is
    opened at start-up (`runtime_settings`: where the event store is) and closed at
    shut-down. `options` go to `create_gateway_app`."""
    holder: dict[str, Gateway] = {}
    resolved = config if config is not None else load_gateway_config(environ=options.get("environ"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = runtime is None
        active = runtime or await Runtime.open(runtime_settings)
        gateway = holder["gateway"]
        gateway.runtime = active
        try:
            async with gateway:
                yield
        finally:
            if own:
                await active.aclose()

    gateway = Gateway(resolved, runtime=runtime, admin_key=admin_key, **options)
    holder["gateway"] = gateway
    app = DirectPathApp(routes=[*gateway.routes, *extra_routes], lifespan=lifespan)
    app.direct_paths = gateway.direct_paths
    app.state.gateway = gateway
    return app


class DirectPathApp(Starlette):
    """Starlette, except that the gateway's hot paths (`direct_paths`) skip its
    middleware and routing; `devora serve` and the demo build the same app.

    A start-up that fails with one of our errors (a store or Redis that cannot be
    reached, say) is reported to the server as that error's message alone: Starlette
    hands the server the whole traceback, which buries the one line that says what to
    check. Any other exception, a bug, keeps its traceback."""

    direct_paths: Mapping[str, ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            direct = self.direct_paths.get(scope["path"])
            if direct is not None:
                await direct(scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            send = _startup_failure_in_one_line(send)
        await super().__call__(scope, receive, send)


def _startup_failure_in_one_line(send: Send) -> Send:
    """`send`, with a failed start-up's traceback replaced by the error's message when
    the error is ours (Starlette sends the failure while handling the exception, so
    `sys.exc_info` names it)."""

    async def one_line(message: Message) -> None:
        error = sys.exc_info()[1]
        if message["type"] == "lifespan.startup.failed" and isinstance(error, DevoraError):
            message = {**message, "message": str(error)}
        await send(message)

    return one_line
