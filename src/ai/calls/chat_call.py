"""Internal: one chat call from the caller's arguments to the request each route gets.

    CallSpec (what the caller asked) -> PlannedCall (what guards see and may rewrite)
    -> routes (model + fallbacks) -> per route, the request fitted to that model

`LLMService` drives this; it lives here so the service stays a thin, readable facade.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ai.accounting.pricing import PricingTable
from ai.calls.call_options import CallSpec
from ai.calls.config import LLMConfig, ModelRoute, ResolvedRoute, resolve_route
from ai.calls.resilience import CallProgress
from ai.calls.stats import StatsBuilder
from ai.core.clock import Clock
from ai.core.guards import PlannedCall
from ai.core.records import CallLabels, Operation, RequestRecord
from ai.providers.base import ChatRequest
from ai.providers.parameters import OPTION_NAMES, UnsupportedParams, fit_request
from ai.providers.registry import ProviderRegistry

logger = logging.getLogger("ai.llm_service")

_FIELDS = ("temperature", "max_tokens", "tools", "tool_choice")
#: Bits of a random 128-bit number that make it a version-4 UUID (RFC 9562).
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_UUID4_SET = (0x8000 << 48) | (0x4 << 76)


def new_request_id() -> str:
    """A random version-4 UUID as 32 hex digits, what `uuid.uuid4().hex` gives, without
    building a `UUID` object (half the cost, on every call)."""
    return "%032x" % ((int.from_bytes(os.urandom(16), "big") & _UUID4_CLEAR) | _UUID4_SET)


@dataclass(slots=True)
class ChatCall:
    """One chat call in flight: what the caller asked, the call the guards see, its
    deadline and attempts, and (once admitted) the builder of its record."""

    spec: CallSpec
    planned: PlannedCall
    progress: CallProgress
    builder: StatsBuilder | None = None
    routes: list[ResolvedRoute] = field(default_factory=list)


def _rewritten(request: ChatRequest, call: PlannedCall) -> ChatRequest:
    """`request` with a guard's rewrites of model and parameters applied."""
    parameters = dict(call.parameters)
    fields = {name: parameters.pop(name, None) for name in _FIELDS}
    options = {name: parameters.pop(name) for name in OPTION_NAMES if name in parameters}
    return dataclasses.replace(
        request, model=call.model, extra=parameters, options=options, **fields
    )


class CallPlanner:
    """Plans the calls of one `LLMService`: routes, fitted requests, stats builders."""

    def __init__(
        self,
        config: LLMConfig,
        routes: Sequence[ResolvedRoute],
        *,
        registry: ProviderRegistry,
        environ: Mapping[str, str],
        clock: Clock,
        pricing: Callable[[], PricingTable | None],
    ) -> None:
        self._config = config
        self._routes = list(routes)
        self._registry = registry
        self._environ = environ
        self._clock = clock
        self._pricing = pricing
        self._provider = self._routes[0].provider
        self._warned: set[tuple[str, str]] = set()

    def begin(self, spec: CallSpec, *, streamed: bool) -> ChatCall:
        """Start the clock on a call (its deadline includes the guards' time)."""
        now = self._clock.monotonic()
        timeout = spec.timeout
        progress = CallProgress(now, now + timeout, timeout)
        request = spec.request
        parameters: dict[str, Any] = (
            {**request.extra, **request.options} if request.extra or request.options else {}
        )
        # The _FIELDS, in that order (each step of this runs on every call, cache hits too).
        if request.temperature is not None:
            parameters["temperature"] = request.temperature
        if request.max_tokens is not None:
            parameters["max_tokens"] = request.max_tokens
        if request.tools is not None:
            parameters["tools"] = request.tools
        if request.tool_choice is not None:
            parameters["tool_choice"] = request.tool_choice
        labels = spec.labels
        planned = PlannedCall(
            operation=Operation.CHAT,
            model=request.model,
            provider=self._provider,
            inputs=request.messages,
            parameters=parameters,
            user=labels.user,
            agent=labels.agent,
            tags=labels.tags,
            streamed=streamed,
            request_id=new_request_id(),
        )
        return ChatCall(spec, planned, progress)

    def admit(
        self, chat: ChatCall, call: PlannedCall
    ) -> tuple[ChatRequest, Callable[[ResolvedRoute], ChatRequest], StatsBuilder]:
        """The request a (possibly rewritten) call stands for, the function that fits it to
        each route's model (once per route, before its first request), and the builder of
        its stats."""
        spec = chat.spec
        if call is chat.planned:  # no guard rewrote it: the caller's request as is
            request, defaults, labels = spec.request, spec.defaults, spec.labels
        else:
            request = _rewritten(spec.request, call)
            changed = {n for n in _FIELDS if getattr(request, n) != getattr(spec.request, n)}
            defaults, labels = spec.defaults - changed, call.labels
        chat.routes = self.routes_for(call.provider, call.model)
        chat.progress.route = chat.routes[0]
        prepare = self._preparer(request, defaults)
        chat.builder = self.builder(request, chat.progress, call, spec.request.model, labels)
        return request, prepare, chat.builder

    def unrecorded(self, chat: ChatCall) -> Callable[[PlannedCall, BaseException], RequestRecord]:
        """Builds the record of a call that ended before anything else recorded it:
        refused by a guard, cancelled, or failed in a way nothing classified."""

        def record(call: PlannedCall, error: BaseException) -> RequestRecord:
            builder = chat.builder
            if builder is None:  # ended before or while the guards ran
                request = dataclasses.replace(chat.spec.request, model=call.model)
                builder = self.builder(request, chat.progress, call, chat.spec.request.model)
            failure = builder.failure_record(error, streamed=call.streamed)
            if chat.progress.route is None:
                failure = dataclasses.replace(failure, provider=call.provider)
            return failure

        return record

    def routes_for(self, provider: str, model: str) -> list[ResolvedRoute]:
        """`model` on `provider` first, then the configured fallbacks serving other models.

        A model on the primary's provider shares its key and URL; a configured fallback
        route is used as configured; another provider's model is resolved from that
        provider's environment variables."""
        primary = self._routes[0]
        if provider == primary.provider:
            if model == primary.model:
                return list(self._routes)
            first = primary.with_model(model)
        else:
            configured = (r for r in self._routes if (r.provider, r.model) == (provider, model))
            first = next(configured, None) or resolve_route(
                ModelRoute(provider, model),
                registry=self._registry,
                environ=self._environ,
                extra_headers=self._config.extra_headers,
            )
        return [first, *(r for r in self._routes[1:] if r.key != first.key and r.model != model)]

    def builder(
        self,
        request: ChatRequest,
        progress: CallProgress,
        call: PlannedCall,
        requested: str,
        labels: CallLabels | None = None,
    ) -> StatsBuilder:
        """The builder of the call's stats and record; `labels` are the call's (given when
        already at hand, to spare building them again)."""
        return StatsBuilder(
            request=request,
            progress=progress,
            clock=self._clock,
            pricing=self._pricing(),
            labels=call.labels if labels is None else labels,
            request_id=call.request_id,
            model_requested=requested,
        )

    def _preparer(
        self, request: ChatRequest, defaults: frozenset[str]
    ) -> Callable[[ResolvedRoute], ChatRequest]:
        """`request` fitted to each route's model, once per route."""
        fitted: dict[str, ChatRequest] = {}
        config = self._config

        def prepare(route: ResolvedRoute) -> ChatRequest:
            if route.key not in fitted:
                aimed = dataclasses.replace(request, model=route.model)
                catalog = route.spec.wire.catalog.with_overrides(config.model_capabilities)
                fitted[route.key] = fit_request(
                    aimed,
                    catalog.lookup(route.model),
                    policy=UnsupportedParams(config.unsupported_params),
                    defaults=defaults,
                    warn=self._warn,
                )
            return fitted[route.key]

        return prepare

    def _warn(self, model: str, what: str) -> None:
        """Once per model and parameter: a warning per call would drown the log."""
        if (model, what) not in self._warned:
            self._warned.add((model, what))
            logger.warning(
                "%s does not take %s; left out of the request "
                "(LLMConfig.unsupported_params='error' refuses such calls instead)",
                model,
                what,
            )
