"""Multi-provider LLM client: one API over OpenAI, Anthropic, OpenRouter and local servers.

    async with LLMService(LLMConfig(provider=LLMProvider.OPENAI, model="gpt-4o-mini")) as llm:
        text, stats = await llm.complete(messages=[{"role": "user", "content": "Hello!"}])

Each call goes through the guards (`ai.core.guards`: budgets, routing, experiments), the
response cache, retries with backoff, a deadline, circuit breakers and the fallback chain
(`ai.calls.resilience`), is priced (`ai.accounting.pricing`), and emits exactly one
`RequestRecord` to subscribers (`ai.core.records`): success, failure, cancellation or
refusal alike.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import httpx

from ai.accounting.pricing import PricingTable
from ai.cache.entry import CachedResponse
from ai.cache.response_cache import CacheMode, CachePlan, ResponseCache
from ai.calls.attempts import ProviderCalls
from ai.calls.circuit import CircuitBreaker, CircuitState
from ai.calls.config import (
    LLMConfig,
    LLMProvider,
    ModelRoute,
    ResolvedRoute,
    resolve_route,
    resolve_routes,
)
from ai.calls.metrics import ServiceMetrics
from ai.calls.resilience import CallProgress as _CallProgress
from ai.calls.resilience import ResilientCaller as _ResilientCaller
from ai.calls.retry import ExponentialBackoff, RetryPolicy
from ai.calls.stats import CompletionStats
from ai.calls.stats import StatsBuilder as _StatsBuilder
from ai.calls.streaming import (
    CompletionStream,
    cache_entry,
    stream_completion,
    stream_through_cache,
)
from ai.calls.streaming import StreamJob as _StreamJob
from ai.core.clock import Clock, SystemClock
from ai.core.guards import CallGuard, GuardChain, PlannedCall, RecordSlot
from ai.core.lifecycle import AsyncClosing
from ai.core.records import CallLabels, Operation, RecordBus, RequestRecord, Subscriber
from ai.errors import ConfigurationError, ProviderError
from ai.providers.base import ChatRequest, Message
from ai.providers.registry import ProviderRegistry, default_registry

__all__ = [
    "CompletionStats",
    "CompletionStream",
    "LLMConfig",
    "LLMProvider",
    "LLMService",
    "ModelRoute",
    "RequestRecord",
]

_REQUEST_PARAMETERS = ("temperature", "max_tokens", "tools", "tool_choice")


@dataclass(slots=True)
class _ChatCall:
    """One chat call in flight: the caller's request, the call the guards see, its
    deadline and attempts, and (once admitted) the builder of its record."""

    request: ChatRequest
    planned: PlannedCall
    progress: _CallProgress
    builder: _StatsBuilder | None = None


class LLMService(AsyncClosing):
    """The client. Use as `async with LLMService(config) as llm:` so connections close.

    `cache` (a `ai.cache.ResponseCache`) serves repeated deterministic requests without
    a provider call; concurrent identical requests share one call. `guards` run before and
    after every call, in order (`ai.core.guards.CallGuard`). `bus` is the `RecordBus` the
    records go to: pass one shared by several services to watch them all in one place.

    `http_client`, `clock`, `rng`, `pricing`, `registry` and `environ` are seams for tests
    and for embedding in larger apps; the defaults are the real things.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        pricing: PricingTable | None = None,
        registry: ProviderRegistry | None = None,
        environ: Mapping[str, str] | None = None,
        cache: ResponseCache | None = None,
        guards: Sequence[CallGuard] = (),
        bus: RecordBus | None = None,
    ) -> None:
        self.config = config
        self._cache = cache
        self._registry = registry or default_registry()
        self._environ = os.environ if environ is None else environ
        self._routes = resolve_routes(config, registry=self._registry, environ=self._environ)
        self._clock = clock or SystemClock()
        self._pricing = pricing
        self._client = http_client
        self._owns_client = http_client is None
        self._calls = ProviderCalls(
            self._http, self._clock, max_event_chars=config.max_stream_event_chars
        )
        self._guards = GuardChain(guards)
        self._bus = bus or RecordBus()
        self.metrics = ServiceMetrics(self._clock)
        policy = RetryPolicy(
            max_retries=config.max_retries,
            backoff=ExponentialBackoff(
                initial=config.retry_delay,
                multiplier=config.retry_multiplier,
                maximum=config.max_retry_delay,
                jitter=config.retry_jitter,
            ),
            retry_after_cap=config.retry_after_cap,
        )
        self._caller = _ResilientCaller(
            policy,
            self._clock,
            rng or random.Random(),
            lambda: CircuitBreaker(
                self._clock,
                config.circuit_failure_threshold,
                config.circuit_cooldown,
                failure_rate=config.circuit_failure_rate,
                window=config.circuit_window,
                half_open_trials=config.circuit_half_open_trials,
            ),
        )

    def __repr__(self) -> str:
        return f"LLMService({self.config!r})"

    @property
    def routes(self) -> Sequence[ResolvedRoute]:
        """The primary model followed by its fallbacks, as they will be tried."""
        return tuple(self._routes)

    @property
    def pricing(self) -> PricingTable:
        """Prices used for `estimated_cost` (the packaged table unless one was given)."""
        if self._pricing is None:
            self._pricing = PricingTable.default()
        return self._pricing

    @property
    def bus(self) -> RecordBus:
        """Where this service's records go (shared when one was passed in)."""
        return self._bus

    async def __aenter__(self) -> Self:
        self._http()
        return self

    async def aclose(self) -> None:
        """Deliver pending records, then close connections we opened."""
        await self._bus.flush()
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Receive every `RequestRecord` of the bus (sync or async callable); returns an
        unsubscribe. With a shared bus that includes other services' records."""
        return self._bus.subscribe(subscriber)

    def circuit_state(self, model: str) -> CircuitState:
        """The circuit breaker state of `model` (the first route serving it)."""
        for route in self._routes:
            if route.model == model:
                return self._caller.breaker(route).state
        raise ConfigurationError(f"{model!r} is neither the model nor a fallback of this service.")

    def get_metrics(self) -> dict[str, Any]:
        """Counts, error breakdown, tokens, cost and latency of this service's calls."""
        return self.metrics.snapshot()

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        user: str | None = None,
        agent: str | None = None,
        tags: Mapping[str, str] | None = None,
        cache: CacheMode | str | None = None,
    ) -> tuple[str, CompletionStats]:
        """Answer `messages`; returns the text and `CompletionStats`.

        Tool calls, if the model made any, are in `stats.tool_calls` (OpenAI shape).
        `extra` holds provider parameters passed through verbatim (top_p, stop, seed...).
        `user`, `agent` and `tags` label the call's `RequestRecord`. `cache` overrides
        the cache policy for this call: "use", "bypass", "refresh" or "no-store".
        """
        request = self._request(messages, model, temperature, max_tokens, tools, tool_choice, extra)
        self._check_cache_mode(cache)
        chat = self._begin(request, CallLabels(user, agent, dict(tags or {})), streamed=False)

        async def work(call: PlannedCall, slot: RecordSlot) -> tuple[str, CompletionStats]:
            request, routes, builder = self._admitted(chat, call)
            plan = self._cache_plan(routes[0], request, cache)
            if plan is None or self._cache is None:
                return await self._complete_uncached(request, routes, builder, slot.emit)
            return await self._complete_cached(request, routes, builder, slot.emit, plan)

        return await self._guards.run(chat.planned, self._emit, work, self._unrecorded(chat))

    async def _complete_uncached(
        self,
        request: ChatRequest,
        routes: list[ResolvedRoute],
        builder: _StatsBuilder,
        emit: Callable[[RequestRecord], None],
    ) -> tuple[str, CompletionStats]:
        if self.config.enable_streaming:
            stream = CompletionStream()
            job = self._stream_job(stream, request, routes, builder, emit)
            stream.bind(stream_completion(job))
            return await stream.collect()
        try:
            result = await self._caller.call(
                routes, self._calls.completion(request), builder.progress
            )
        except ProviderError as error:
            emit(builder.failure_record(error, streamed=False))
            raise
        stats = builder.build(result, time_to_first_token_ms=None)
        emit(builder.record(stats, streamed=False))
        return result.text, stats

    async def _complete_cached(
        self,
        request: ChatRequest,
        routes: list[ResolvedRoute],
        builder: _StatsBuilder,
        emit: Callable[[RequestRecord], None],
        plan: CachePlan,
    ) -> tuple[str, CompletionStats]:
        """Serve from cache, or make one provider call for all concurrent identical ones."""
        cache = self._cache
        assert cache is not None
        if plan.read and (hit := await cache.lookup(plan)) is not None:
            return hit.text, self._emit_hit(builder, hit, emit)

        async def call_and_store() -> tuple[str, CompletionStats]:
            text, stats = await self._complete_uncached(request, routes, builder, emit)
            await cache.store(plan, cache_entry(text, stats))
            return text, stats

        (text, stats), shared = await cache.run_once(plan.key, call_and_store)
        if shared:
            return text, self._emit_hit(builder, cache_entry(text, stats), emit)
        return text, stats

    @staticmethod
    def _emit_hit(
        builder: _StatsBuilder, hit: CachedResponse, emit: Callable[[RequestRecord], None]
    ) -> CompletionStats:
        stats = builder.from_cache(hit)
        emit(builder.record(stats, streamed=False))
        return stats

    def _check_cache_mode(self, mode: CacheMode | str | None) -> None:
        """Refuse a cache mode this service cannot honour, before anything is sent."""
        CacheMode(mode or CacheMode.AUTO)
        if self._cache is None and mode not in (None, CacheMode.AUTO, CacheMode.BYPASS):
            raise ConfigurationError(
                f"cache={mode!r} was asked for, but this LLMService has no cache: "
                "pass LLMService(config, cache=ResponseCache(...))."
            )

    def _cache_plan(
        self, route: ResolvedRoute, request: ChatRequest, mode: CacheMode | str | None
    ) -> CachePlan | None:
        if self._cache is None:
            return None
        return self._cache.plan(route.provider, request, mode)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        user: str | None = None,
        agent: str | None = None,
        tags: Mapping[str, str] | None = None,
        cache: CacheMode | str | None = None,
    ) -> CompletionStream:
        """Stream the answer: `async for delta in stream`, then `stream.stats`.

        Retries and fallbacks apply until the first text arrives; a stream that breaks
        after that raises `StreamInterruptedError` holding the text received so far.
        A cached answer is replayed in chunks; a fresh one is stored once complete.
        Guards run when the stream is first read.
        """
        request = self._request(messages, model, temperature, max_tokens, tools, tool_choice, extra)
        self._check_cache_mode(cache)
        labels = CallLabels(user, agent, dict(tags or {}))
        stream = CompletionStream()
        stream.bind(self._guarded_stream(stream, request, labels, cache))
        return stream

    async def _guarded_stream(
        self,
        stream: CompletionStream,
        request: ChatRequest,
        labels: CallLabels,
        mode: CacheMode | str | None,
    ) -> AsyncGenerator[str, None]:
        """The stream's deltas under the guards, leaving exactly one record."""
        chat = self._begin(request, labels, streamed=True)
        admission = await self._guards.admit(chat.planned)
        slot = admission.slot(self._emit)
        unrecorded = self._unrecorded(chat)
        try:
            if admission.refusal is not None:
                raise admission.refusal
            request, routes, builder = self._admitted(chat, admission.call)
            job = self._stream_job(stream, request, routes, builder, slot.emit)
            plan = self._cache_plan(routes[0], request, mode)
            deltas = (
                stream_completion(job)
                if plan is None or self._cache is None
                else stream_through_cache(job, self._cache, plan)
            )
            try:
                async for delta in deltas:
                    yield delta
            finally:
                await deltas.aclose()
        except BaseException as error:
            if slot.record is None:
                slot.emit(unrecorded(admission.call, error))
            raise
        finally:
            if slot.record is not None and admission.admitted:
                await admission.settle(slot.record)

    def _stream_job(
        self,
        stream: CompletionStream,
        request: ChatRequest,
        routes: list[ResolvedRoute],
        builder: _StatsBuilder,
        emit: Callable[[RequestRecord], None],
    ) -> _StreamJob:
        return _StreamJob(
            stream=stream,
            caller=self._caller,
            calls=self._calls,
            routes=routes,
            request=dataclasses.replace(request, stream=True),
            progress=builder.progress,
            builder=builder,
            emit=emit,
            idle_timeout=self.config.stream_idle_timeout,
        )

    def _emit(self, record: RequestRecord) -> None:
        """This service's totals, then the (possibly shared) bus."""
        self.metrics.observe(record)
        self._bus.emit(record)

    def _begin(self, request: ChatRequest, labels: CallLabels, *, streamed: bool) -> _ChatCall:
        """Start the clock on a call (its deadline includes the guards' time)."""
        now = self._clock.monotonic()
        timeout = self.config.timeout
        progress = _CallProgress(started=now, deadline=now + timeout, timeout=timeout)
        parameters: dict[str, Any] = dict(request.extra)
        for name in _REQUEST_PARAMETERS:
            value = getattr(request, name)
            if value is not None:
                parameters[name] = value
        planned = PlannedCall(
            operation=Operation.CHAT,
            model=request.model,
            provider=self._routes[0].provider,
            inputs=request.messages,
            parameters=parameters,
            user=labels.user,
            agent=labels.agent,
            tags=labels.tags,
            streamed=streamed,
        )
        return _ChatCall(request, planned, progress)

    def _admitted(
        self, chat: _ChatCall, call: PlannedCall
    ) -> tuple[ChatRequest, list[ResolvedRoute], _StatsBuilder]:
        """The request, routes and stats builder a (possibly rewritten) call stands for."""
        parameters = dict(call.parameters)
        fields = {name: parameters.pop(name, None) for name in _REQUEST_PARAMETERS}
        request = dataclasses.replace(chat.request, model=call.model, extra=parameters, **fields)
        routes = self._routes_for(call.provider, call.model)
        chat.progress.route = routes[0]
        chat.builder = self._stats_builder(request, chat.progress, call, chat.request.model)
        return request, routes, chat.builder

    def _unrecorded(self, chat: _ChatCall) -> Callable[[PlannedCall, BaseException], RequestRecord]:
        """Builds the record of a call that ended before anything else recorded it:
        refused by a guard, cancelled, or failed in a way nothing classified."""

        def record(call: PlannedCall, error: BaseException) -> RequestRecord:
            builder = chat.builder
            if builder is None:  # ended before or while the guards ran
                request = dataclasses.replace(chat.request, model=call.model)
                builder = self._stats_builder(request, chat.progress, call, chat.request.model)
            failure = builder.failure_record(error, streamed=call.streamed)
            if chat.progress.route is None:
                failure = dataclasses.replace(failure, provider=call.provider)
            return failure

        return record

    def _request(
        self,
        messages: Sequence[Message],
        model: str | None,
        temperature: float | None,
        max_tokens: int | None,
        tools: Sequence[Mapping[str, Any]] | None,
        tool_choice: str | Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None,
    ) -> ChatRequest:
        return ChatRequest(
            model=model or self.config.model,
            messages=validate_messages(messages),
            temperature=self.config.temperature if temperature is None else temperature,
            max_tokens=self.config.max_tokens if max_tokens is None else max_tokens,
            tools=tools,
            tool_choice=tool_choice,
            extra=dict(extra or {}),
        )

    def _routes_for(self, provider: str, model: str) -> list[ResolvedRoute]:
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
                extra_headers=self.config.extra_headers,
            )
        return [first, *(r for r in self._routes[1:] if r.key != first.key and r.model != model)]

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.config.timeout,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            )
        return self._client

    def _stats_builder(
        self, request: ChatRequest, progress: _CallProgress, call: PlannedCall, requested: str
    ) -> _StatsBuilder:
        return _StatsBuilder(
            request=request,
            progress=progress,
            clock=self._clock,
            pricing=self.pricing if self.config.enable_cost_tracking else None,
            labels=call.labels,
            request_id=call.request_id,
            model_requested=requested,
        )


def validate_messages(messages: Sequence[Message]) -> Sequence[Message]:
    """Catch the common shape mistakes before a network round trip."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
        raise ConfigurationError(
            'messages must be a non-empty list like [{"role": "user", "content": "Hi"}].'
        )
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise ConfigurationError(f"messages[{index}] must be a dict with a 'role' key.")
    return messages
