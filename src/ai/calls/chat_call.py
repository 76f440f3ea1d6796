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
from ai.providers.capabilities import ModelCapabilities
from ai.providers.parameters import (
    OPTION_NAMES,
    UnsupportedParams,
    fit_request,
    fitted_max_tokens,
)
from ai.providers.registry import ProviderRegistry

logger = logging.getLogger("ai.llm_service")

_FIELDS = ("temperature", "max_tokens", "tools", "tool_choice")


def new_request_id() -> str:
    """A random version-4 UUID as 32 hex digits, what `uuid.uuid4().hex` gives (16 bytes
    of `os.urandom` with the version and variant bits set, RFC 9562), without building a
    `UUID` object or a 128-bit integer: it runs on every call, cache hits included."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant 10 (RFC 9562)
    return raw.hex()


@dataclass(slots=True)
class ChatCall:
    """One chat call in flight: what the caller asked, its id, deadline and attempts, and
    (once admitted) the builder of its record.

    `planned`, the call as guards see it, is built on first use: a service without guards
    never needs it (unless the call fails before it is recorded), so a cache hit there
    skips building it. Its `max_tokens` is the limit the request is sent with
    (`fitted_max_tokens`: a thinking budget raises a default one), so that a budget
    guard prices the output the provider may really bill."""

    spec: CallSpec
    provider: str
    request_id: str
    streamed: bool
    progress: CallProgress
    max_tokens: int | None
    builder: StatsBuilder | None = None
    routes: list[ResolvedRoute] = field(default_factory=list)
    _planned: PlannedCall | None = None

    @property
    def planned(self) -> PlannedCall:
        """The call as the guards see it (built once, when first asked for)."""
        if self._planned is None:
            self._planned = _planned_call(self)
        return self._planned

    def as_planned(self, call: PlannedCall | None) -> bool:
        """True when `call` is this call as planned: no guard saw it (None) or none
        rewrote it (the very `planned` object)."""
        return call is None or call is self._planned


def _planned_call(chat: ChatCall) -> PlannedCall:
    """The `PlannedCall` of `chat`: its request's model, inputs and parameters."""
    request = chat.spec.request
    parameters: dict[str, Any] = (
        {**request.extra, **request.options} if request.extra or request.options else {}
    )
    # The _FIELDS, in that order.
    if request.temperature is not None:
        parameters["temperature"] = request.temperature
    if chat.max_tokens is not None:
        parameters["max_tokens"] = chat.max_tokens
    if request.tools is not None:
        parameters["tools"] = request.tools
    if request.tool_choice is not None:
        parameters["tool_choice"] = request.tool_choice
    labels = chat.spec.labels
    return PlannedCall(
        operation=Operation.CHAT,
        model=request.model,
        provider=chat.provider,
        inputs=request.messages,
        parameters=parameters,
        user=labels.user,
        agent=labels.agent,
        tags=labels.tags,
        streamed=chat.streamed,
        request_id=chat.request_id,
    )


def _rewritten(request: ChatRequest, call: PlannedCall) -> ChatRequest:
    """`request` with a guard's rewrites of model and parameters applied."""
    parameters = dict(call.parameters)
    fields = {name: parameters.pop(name, None) for name in _FIELDS}
    options = {name: parameters.pop(name) for name in OPTION_NAMES if name in parameters}
    return dataclasses.replace(
        request, model=call.model, extra=parameters, options=options, **fields
    )


def fit_every_route(
    prepare: Callable[[ResolvedRoute], ChatRequest], routes: Sequence[ResolvedRoute]
) -> None:
    """Fit the request to every model the call may reach, before anything is sent: a
    parameter a fallback refuses is the caller's `ConfigurationError` now, not a failure
    that replaces the primary's real error halfway down the chain."""
    for route in routes:
        prepare(route)


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
        limit = request.max_tokens
        if request.options:  # a thinking budget may raise the limit sent
            caps = self._capabilities(self._routes[0], request.model)
            limit = fitted_max_tokens(request, caps, defaults=spec.defaults)
        return ChatCall(spec, self._provider, new_request_id(), streamed, progress, limit)

    def admit(
        self, chat: ChatCall, call: PlannedCall | None
    ) -> tuple[ChatRequest, frozenset[str], StatsBuilder]:
        """The request a (possibly rewritten) call stands for, which of its parameters are
        the configuration's untouched defaults (for `preparer`), and the builder of its
        stats. `call` is the call as the guards passed it on; None when there are no
        guards."""
        spec = chat.spec
        if chat.as_planned(call):  # no guard rewrote it: the caller's request as is
            request, defaults, labels = spec.request, spec.defaults, spec.labels
            provider = chat.provider
        else:
            assert call is not None
            request = _rewritten(spec.request, call)
            asked = spec.request.max_tokens
            if request.max_tokens == chat.max_tokens != asked:
                # The limit as planned, fitted to the first model: fit the caller's again,
                # for the model the guards chose (it may take no thinking budget).
                request = dataclasses.replace(request, max_tokens=asked)
            changed = {n for n in _FIELDS if getattr(request, n) != getattr(spec.request, n)}
            defaults, labels, provider = spec.defaults - changed, call.labels, call.provider
        chat.routes = self.routes_for(provider, request.model)
        chat.progress.route = chat.routes[0]
        chat.builder = self.builder(
            request, chat.progress, chat.request_id, spec.request.model, labels
        )
        return request, defaults, chat.builder

    def unrecorded(self, chat: ChatCall) -> Callable[[PlannedCall, BaseException], RequestRecord]:
        """Builds the record of a call that ended before anything else recorded it:
        refused by a guard, cancelled, or failed in a way nothing classified."""

        def record(call: PlannedCall, error: BaseException) -> RequestRecord:
            builder = chat.builder
            if builder is None:  # ended before or while the guards ran
                request = dataclasses.replace(chat.spec.request, model=call.model)
                builder = self.builder(
                    request, chat.progress, call.request_id, chat.spec.request.model, call.labels
                )
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
        request_id: str,
        requested: str,
        labels: CallLabels,
    ) -> StatsBuilder:
        """The builder of the call's stats and record (its fields in order: keyword
        arguments cost more, on every call)."""
        return StatsBuilder(
            request, progress, self._clock, self._pricing(), labels, request_id, requested
        )

    def preparer(
        self, request: ChatRequest, defaults: frozenset[str]
    ) -> Callable[[ResolvedRoute], ChatRequest]:
        """The function that fits `request` to each route's model, once per route, before
        its first request; asked for only when a call goes to a provider (a cache hit never
        needs it)."""
        fitted: dict[str, ChatRequest] = {}
        config = self._config

        def prepare(route: ResolvedRoute) -> ChatRequest:
            if route.key not in fitted:
                aimed = dataclasses.replace(request, model=route.model)
                fitted[route.key] = fit_request(
                    aimed,
                    self._capabilities(route, route.model),
                    policy=UnsupportedParams(config.unsupported_params),
                    defaults=defaults,
                    warn=self._warn,
                )
            return fitted[route.key]

        return prepare

    def _capabilities(self, route: ResolvedRoute, model: str) -> ModelCapabilities:
        """What `model` takes on `route`'s host, the configuration's overrides applied."""
        catalog = route.spec.wire.catalog.with_overrides(self._config.model_capabilities)
        return catalog.lookup(model)

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
