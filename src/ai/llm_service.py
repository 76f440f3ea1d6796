"""Multi-provider LLM client: one API over OpenAI, Anthropic, OpenRouter and local servers.

    async with LLMService(LLMConfig(provider=LLMProvider.OPENAI, model="gpt-4o-mini")) as llm:
        text, stats = await llm.complete(messages=[{"role": "user", "content": "Hello!"}])

Each call goes through retries with backoff, a deadline, circuit breakers and the
fallback chain (`ai.calls.resilience`), is priced (`ai.accounting.pricing`), and emits one
`RequestRecord` to subscribers (`ai.core.records`), success or failure.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

import httpx

from ai.accounting.pricing import PricingTable
from ai.cache.entry import CachedResponse
from ai.cache.response_cache import CacheMode, CachePlan, ResponseCache
from ai.calls.attempts import ProviderCalls
from ai.calls.circuit import CircuitBreaker, CircuitState
from ai.calls.config import LLMConfig, LLMProvider, ModelRoute, ResolvedRoute, resolve_routes
from ai.calls.metrics import ServiceMetrics
from ai.calls.resilience import CallProgress, ResilientCaller
from ai.calls.retry import ExponentialBackoff, RetryPolicy
from ai.calls.stats import CompletionStats, StatsBuilder
from ai.calls.streaming import (
    CompletionStream,
    StreamJob,
    cache_entry,
    stream_completion,
    stream_through_cache,
)
from ai.core.clock import Clock, SystemClock
from ai.core.lifecycle import AsyncClosing
from ai.core.records import CallLabels, RecordBus, RequestRecord, Subscriber
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


class LLMService(AsyncClosing):
    """The client. Use as `async with LLMService(config) as llm:` so connections close.

    `cache` (a `ai.cache.ResponseCache`) serves repeated deterministic requests without
    a provider call; concurrent identical requests share one call.

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
    ) -> None:
        self.config = config
        self._cache = cache
        self._routes = resolve_routes(
            config,
            registry=registry or default_registry(),
            environ=os.environ if environ is None else environ,
        )
        self._clock = clock or SystemClock()
        self._pricing = pricing
        self._client = http_client
        self._owns_client = http_client is None
        self._calls = ProviderCalls(self._http, self._clock)
        self._bus = RecordBus()
        self.metrics = ServiceMetrics(self._clock)
        self._bus.subscribe(self.metrics.observe)
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
        self._caller = ResilientCaller(
            policy,
            self._clock,
            rng or random.Random(),
            lambda: CircuitBreaker(
                self._clock, config.circuit_failure_threshold, config.circuit_cooldown
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
        """Receive every `RequestRecord` (sync or async callable); returns an unsubscribe."""
        return self._bus.subscribe(subscriber)

    def circuit_state(self, model: str) -> CircuitState:
        """The circuit breaker state of `model` (the first route serving it)."""
        for route in self._routes:
            if route.model == model:
                return self._caller.breaker(route).state
        raise ConfigurationError(f"{model!r} is neither the model nor a fallback of this service.")

    def get_metrics(self) -> dict[str, Any]:
        """Counts, error breakdown, tokens, cost and latency of calls made so far."""
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
        labels = CallLabels(user, agent, dict(tags or {}))
        plan = self._cache_plan(request, cache)
        if plan is None or self._cache is None:
            return await self._complete_uncached(request, labels)
        return await self._complete_cached(request, labels, self._cache, plan)

    async def _complete_uncached(
        self, request: ChatRequest, labels: CallLabels
    ) -> tuple[str, CompletionStats]:
        if self.config.enable_streaming:
            return await self._stream(request, labels, None).collect()
        routes = self._routes_for(request.model)
        progress = self._progress(routes)
        builder = self._stats_builder(request, progress, labels)
        try:
            result = await self._caller.call(routes, self._calls.completion(request), progress)
        except ProviderError as error:
            self._bus.emit(builder.failure_record(error.error_type, str(error), streamed=False))
            raise
        stats = builder.build(result, time_to_first_token_ms=None)
        self._bus.emit(builder.record(stats, streamed=False))
        return result.text, stats

    async def _complete_cached(
        self, request: ChatRequest, labels: CallLabels, cache: ResponseCache, plan: CachePlan
    ) -> tuple[str, CompletionStats]:
        """Serve from cache, or make one provider call for all concurrent identical ones."""
        builder = self._stats_builder(request, self._progress(self._routes), labels)
        if plan.read and (hit := await cache.lookup(plan)) is not None:
            return hit.text, self._emit_hit(builder, hit, streamed=False)
        ran_here = False

        async def call_and_store() -> tuple[str, CompletionStats]:
            nonlocal ran_here
            ran_here = True
            text, stats = await self._complete_uncached(request, labels)
            await cache.store(plan, cache_entry(text, stats))
            return text, stats

        try:
            (text, stats), shared = await cache.run_once(plan.key, call_and_store)
        except ProviderError as error:
            if not ran_here:  # a waiter on someone else's failed call: record it too
                self._bus.emit(builder.failure_record(error.error_type, str(error), streamed=False))
            raise
        if shared:
            return text, self._emit_hit(builder, cache_entry(text, stats), streamed=False)
        return text, stats

    def _emit_hit(
        self, builder: StatsBuilder, hit: CachedResponse, *, streamed: bool
    ) -> CompletionStats:
        stats = builder.from_cache(hit)
        self._bus.emit(builder.record(stats, streamed=streamed))
        return stats

    def _cache_plan(self, request: ChatRequest, mode: CacheMode | str | None) -> CachePlan | None:
        if self._cache is None:
            if mode not in (None, CacheMode.AUTO, CacheMode.BYPASS):
                raise ConfigurationError(
                    f"cache={mode!r} was asked for, but this LLMService has no cache: "
                    "pass LLMService(config, cache=ResponseCache(...))."
                )
            return None
        return self._cache.plan(self._routes[0].provider, request, mode)

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
        """
        request = self._request(messages, model, temperature, max_tokens, tools, tool_choice, extra)
        labels = CallLabels(user, agent, dict(tags or {}))
        return self._stream(request, labels, self._cache_plan(request, cache))

    def _stream(
        self, request: ChatRequest, labels: CallLabels, plan: CachePlan | None
    ) -> CompletionStream:
        request = dataclasses.replace(request, stream=True)
        routes = self._routes_for(request.model)
        progress = self._progress(routes)
        stream = CompletionStream()
        job = StreamJob(
            stream=stream,
            caller=self._caller,
            calls=self._calls,
            routes=routes,
            request=request,
            progress=progress,
            builder=self._stats_builder(request, progress, labels),
            emit=self._bus.emit,
        )
        if plan is None or self._cache is None:
            stream.bind(stream_completion(job))
        else:
            stream.bind(stream_through_cache(job, self._cache, plan))
        return stream

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

    def _routes_for(self, model: str) -> list[ResolvedRoute]:
        primary, *fallbacks = self._routes
        if model == primary.model:
            return list(self._routes)
        return [primary.with_model(model), *(r for r in fallbacks if r.model != model)]

    def _progress(self, routes: Sequence[ResolvedRoute]) -> CallProgress:
        now = self._clock.monotonic()
        timeout = self.config.timeout
        return CallProgress(started=now, deadline=now + timeout, timeout=timeout, route=routes[0])

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.config.timeout,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            )
        return self._client

    def _stats_builder(
        self, request: ChatRequest, progress: CallProgress, labels: CallLabels
    ) -> StatsBuilder:
        return StatsBuilder(
            request=request,
            progress=progress,
            clock=self._clock,
            pricing=self.pricing if self.config.enable_cost_tracking else None,
            labels=labels,
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
