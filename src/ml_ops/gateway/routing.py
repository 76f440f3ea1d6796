"""Model names -> the services that answer them.

Each chat alias gets one `LLMService` (its primary model, fallbacks, retries and circuit
breakers), each embedding alias one `EmbeddingService`; all share one HTTP connection
pool, the record bus, the guards and (optionally) the response cache. A configured
primary model's own name routes to its alias too, unless another alias has that name.
A router alias (`ml_ops.gateway.router_alias`) chooses one of two chat routes per
request: a configured alias's (its service shared) or one of its own, written inline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ai.cache.response_cache import ResponseCache
from ai.calls.config import LLMConfig, ModelRoute
from ai.core.clock import Clock
from ai.core.guards import CallGuard
from ai.core.records import RecordBus
from ai.llm_service import LLMService
from ai.providers.openai_serving import EmbeddingModel, model_object
from ai.rag.embeddings import EmbeddingService
from ml_ops.gateway.config import EmbeddingAlias, GatewayConfig, ModelAlias, RouteTarget
from ml_ops.gateway.keys import VirtualKey
from ml_ops.gateway.router_alias import AliasRouter, RouteApplier

#: Request defaults an alias may set, applied per call when the client sent none.
CALL_DEFAULTS = ("top_p", "seed", "stop", "reasoning_effort")
OPENAI_DEFAULT_TEMPERATURE = 1.0
DEFAULT_MAX_TOKENS = 4096
ROUTER_OWNER = "devora"
"""`owned_by` of a router alias in `/v1/models`."""


@dataclass(slots=True)
class ChatRoute:
    """A chat alias and the service that answers it."""

    alias: ModelAlias
    service: LLMService
    call_defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EmbeddingRoute:
    """An embedding alias, its service, and (once known) its vector size."""

    alias: EmbeddingAlias
    service: EmbeddingService
    spec: EmbeddingModel | None = None

    async def model_spec(self) -> EmbeddingModel:
        """Native size (a local model is loaded once, off the event loop, to read it)."""
        if self.spec is None:
            size = await asyncio.to_thread(lambda: self.service.backend.dimension)
            model = self.alias.model or ""
            self.spec = EmbeddingModel(
                dimensions=size or self.alias.dimensions or 0,
                adjustable=model.startswith("text-embedding-3"),
            )
        return self.spec


class ModelCatalog:
    """Every configured model name, the services behind them, and `/v1/models`."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        bus: RecordBus,
        guards: Sequence[CallGuard] = (),
        environ: Mapping[str, str],
        cache: ResponseCache | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._config = config
        self._environ = environ
        self._http = upstream_client()
        self.created = int(time.time())
        chat_guards = list(guards)
        if config.routers:  # a router's decision is applied before any other guard
            chat_guards.insert(0, RouteApplier())
        options: dict[str, Any] = {
            "bus": bus,
            "guards": chat_guards,
            "cache": cache,
            "clock": clock,
        }
        self.chat: dict[str, ChatRoute] = {
            alias.name: self._chat_route(alias, options) for alias in config.models.values()
        }
        self.routers = {
            router.name: AliasRouter(
                router,
                self._target_route(router.cheap, options),
                self._target_route(router.capable, options),
            )
            for router in config.routers.values()
        }
        for route in list(self.chat.values()):
            if route.alias.target.model not in self.routers:
                self.chat.setdefault(route.alias.target.model, route)
        self.embeddings = {
            alias.name: EmbeddingRoute(alias, self._embedding_service(alias, bus, guards))
            for alias in config.embeddings.values()
        }

    def _chat_route(self, alias: ModelAlias, options: Mapping[str, Any]) -> ChatRoute:
        service = LLMService(
            self._llm_config(alias), http_client=self._http, environ=self._environ, **options
        )
        defaults = {k: alias.defaults[k] for k in CALL_DEFAULTS if k in alias.defaults}
        return ChatRoute(alias, service, defaults)

    def _target_route(self, alias: ModelAlias, options: Mapping[str, Any]) -> ChatRoute:
        """A router's target: the configured alias's route, or its own for one written
        inline (not reachable by name)."""
        configured = self.chat.get(alias.name)
        if configured is not None and configured.alias is alias:
            return configured
        return self._chat_route(alias, options)

    def _route(self, target: RouteTarget) -> ModelRoute:
        settings = self._config.provider(target.provider)
        return ModelRoute(
            target.provider,
            target.model,
            api_key=settings.resolve_key(self._environ),
            base_url=settings.base_url,
        )

    def _llm_config(self, alias: ModelAlias) -> LLMConfig:
        primary = self._route(alias.target)
        return LLMConfig(
            provider=primary.provider,
            model=primary.model,
            api_key=primary.api_key,
            base_url=primary.base_url,
            fallback_models=[self._route(target) for target in alias.fallbacks],
            temperature=float(alias.defaults.get("temperature", OPENAI_DEFAULT_TEMPERATURE)),
            max_tokens=int(alias.defaults.get("max_tokens", DEFAULT_MAX_TOKENS)),
            **dict(alias.settings),
        )

    def _embedding_service(
        self, alias: EmbeddingAlias, bus: RecordBus, guards: Sequence[CallGuard]
    ) -> EmbeddingService:
        if alias.provider == "local":
            options: dict[str, Any] = {"model": alias.model} if alias.model else {}
            return EmbeddingService.local(bus=bus, guards=guards, **options)
        settings = self._config.provider(alias.provider)
        return EmbeddingService(
            settings.resolve_key(self._environ),
            model=alias.model,
            provider=alias.provider,
            base_url=settings.base_url,
            dimensions=alias.dimensions,
            http_client=self._http,
            environ=self._environ,
            bus=bus,
            guards=guards,
        )

    def alias_of(self, model: str) -> str | None:
        """The alias a model name stands for (chat, router or embeddings), None if unknown."""
        route = self.chat.get(model)
        if route is not None:
            return route.alias.name
        return model if model in self.routers or model in self.embeddings else None

    def model_objects(self, key: VirtualKey | None = None) -> list[dict[str, Any]]:
        """The model objects of `/v1/models`: aliases and configured model names that
        `key` may use."""
        listed: list[dict[str, Any]] = []
        for name, route in self.chat.items():
            if key is None or key.allows(route.alias.name):
                listed.append(model_object(name, created=self.created, owned_by=_owner(route)))
        for name in self.routers:
            if key is None or key.allows(name):
                listed.append(model_object(name, created=self.created, owned_by=ROUTER_OWNER))
        for name, embedding in self.embeddings.items():
            if key is None or key.allows(name):
                owner = embedding.alias.provider
                listed.append(model_object(name, created=self.created, owned_by=owner))
        return listed

    def chat_services(self) -> list[LLMService]:
        """Every chat service, once each (router targets written inline included)."""
        routes = [
            *self.chat.values(),
            *(t for r in self.routers.values() for t in (r.cheap, r.capable)),
        ]
        return list({id(route.service): route.service for route in routes}.values())

    async def aclose(self) -> None:
        for service in self.chat_services():
            await service.aclose()
        for embedding in self.embeddings.values():
            await embedding.service.aclose()
        await self._http.aclose()


def upstream_client() -> httpx.AsyncClient:
    """The connection pool every service of the gateway shares.

    With `httpx-aiohttp` installed (the `server` extra), requests go through aiohttp's
    pool: httpcore's pool scans every pooled connection (a `poll` system call each) on
    every request, which at a few hundred requests per second took a millisecond a call
    here, more than everything else the gateway does. The client code is httpx either way,
    and so are the errors (`ml_ops.gateway.upstream_http`).
    """
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    try:
        from ml_ops.gateway.upstream_http import UpstreamTransport
    except ImportError:
        return httpx.AsyncClient(timeout=120.0, limits=limits)
    return httpx.AsyncClient(timeout=120.0, transport=UpstreamTransport(limits))


def _owner(route: ChatRoute) -> str:
    return route.alias.target.provider
