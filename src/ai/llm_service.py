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
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, Unpack

import httpx

from ai.accounting.pricing import PricingTable
from ai.cache.entry import CachedResponse
from ai.cache.response_cache import CacheMode, CachePlan, ResponseCache
from ai.calls.attempts import ProviderCalls
from ai.calls.blocking import BackgroundLoop, SyncStream
from ai.calls.call_options import CallOptions, call_spec
from ai.calls.chat_call import CallPlanner, ChatCall, fit_every_route
from ai.calls.circuit import CircuitBreaker, CircuitState
from ai.calls.config import (
    LLMConfig,
    LLMProvider,
    ModelRoute,
    ResolvedRoute,
    http_limits,
    resolve_routes,
)
from ai.calls.http_pool import pooled_client
from ai.calls.metrics import ServiceMetrics
from ai.calls.resilience import ResilientCaller as _ResilientCaller
from ai.calls.resilience import deadline_error
from ai.calls.retry import ExponentialBackoff, RetryPolicy
from ai.calls.stats import CompletionStats
from ai.calls.stats import StatsBuilder as _StatsBuilder
from ai.calls.streaming import (
    CompletionStream,
    StreamResult,
    cache_entry,
    stream_completion,
    stream_through_cache,
)
from ai.calls.streaming import StreamJob as _StreamJob
from ai.core.clock import Clock, SystemClock
from ai.core.guards import CallGuard, GuardChain, PlannedCall, RecordSlot
from ai.core.lifecycle import AsyncClosing
from ai.core.records import RecordBus, RequestRecord, Subscriber
from ai.errors import (
    AllModelsFailedError,
    ConfigurationError,
    ProviderError,
    ProviderTimeoutError,
)
from ai.providers.base import ChatRequest, Message, StreamOutput
from ai.providers.registry import ProviderRegistry, default_registry

__all__ = [
    "CompletionStats",
    "CompletionStream",
    "LLMConfig",
    "LLMProvider",
    "LLMService",
    "ModelRoute",
    "RequestRecord",
    "SyncLLMService",
    "SyncStream",
]


@dataclass(frozen=True, slots=True)
class _Run:
    """What an admitted call runs with: its request, the per-route fitted requests, the
    routes in order, the builder of its stats and where its one record goes."""

    request: ChatRequest
    prepare: Callable[[ResolvedRoute], ChatRequest]
    routes: list[ResolvedRoute]
    builder: _StatsBuilder
    emit: Callable[[RequestRecord], None]


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
        self._planner = CallPlanner(
            config,
            self._routes,
            registry=self._registry,
            environ=self._environ,
            clock=self._clock,
            pricing=lambda: self.pricing if config.enable_cost_tracking else None,
        )
        self._guards = GuardChain(guards)
        self._guarded = bool(self._guards)  # its guards are a tuple: fixed from here on
        self._bus = bus or RecordBus()
        # Streams a caller may leave open (a `break` is invisible); closing the service
        # closes them, so each still leaves its record. Weak: a dropped stream is freed.
        self._open_streams: weakref.WeakSet[CompletionStream] = weakref.WeakSet()
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
            retry_before_fallback=config.retry_before_fallback,
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
            patience=config.timeout,
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
        """Close the streams still open (each is recorded as cancelled), deliver pending
        records, then close connections we opened."""
        for stream in list(self._open_streams):
            await stream.aclose()
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
        self, messages: Sequence[Message], **options: Unpack[CallOptions]
    ) -> tuple[str, CompletionStats]:
        """Answer `messages`; returns the text and `CompletionStats`.

        Options (all optional; see `ai.calls.call_options.CallOptions`): `model`,
        `temperature`, `max_tokens`, `top_p`, `stop`, `seed`, `response_format`,
        `metadata`, `reasoning_effort`, `thinking_budget`, `tools`, `tool_choice` (OpenAI's
        names, translated for each provider and fitted to each model), `timeout` (this
        call's deadline), `extra` (sent verbatim), `user`, `agent` and `tags` (labels on
        the record) and `cache` ("use", "bypass", "refresh" or "no-store"). Tool calls, if
        the model made any, are in `stats.tool_calls` (OpenAI shape).
        """
        spec = call_spec(self.config, messages, options)
        if spec.cache is not None:
            self._check_cache_mode(spec.cache)
        chat = self._planner.begin(spec, streamed=False)
        if self._guarded:
            return await self._guards.run(
                chat.planned,
                self._emit,
                lambda call, slot: self._complete_admitted(chat, call, slot),
                self._planner.unrecorded(chat),
            )
        # No guards: what GuardChain.run does for an empty chain (the call as planned, one
        # record whatever happens), without an admission step that has nothing to admit
        # and without the `PlannedCall` that only guards (or a failure's record) read.
        slot = RecordSlot(self._emit, ())
        try:
            return await self._complete_admitted(chat, None, slot)
        except BaseException as error:
            if slot.record is None:
                slot.emit(self._planner.unrecorded(chat)(chat.planned, error))
            raise

    async def _complete_admitted(
        self, chat: ChatCall, call: PlannedCall | None, slot: RecordSlot
    ) -> tuple[str, CompletionStats]:
        """An admitted call (`call` as the guards passed it on, None without guards): from
        the cache when it can be, else from the provider."""
        request, defaults, builder = self._planner.admit(chat, call)
        cache = self._cache
        plan = self._cache_plan(chat, request)
        if (
            plan is not None
            and plan.read
            and cache is not None
            and (hit := await cache.lookup(plan)) is not None
        ):
            return hit.text, self._emit_hit(builder, hit, slot.emit)
        prepare = self._planner.preparer(request, defaults)
        run = _Run(request, prepare, chat.routes, builder, slot.emit)
        if plan is None:
            return await self._complete_uncached(run)
        return await self._complete_missed(run, plan)

    async def _complete_uncached(self, run: _Run) -> tuple[str, CompletionStats]:
        """From the provider, within the call's deadline, streamed or not."""
        if self.config.enable_streaming:
            stream = CompletionStream()
            job = self._stream_job(stream.result, run, whole_deadline=True)
            stream.bind(stream_completion(job))
            return await stream.collect()
        builder = run.builder
        fit_every_route(run.prepare, run.routes)  # a refused parameter fails before sending
        try:
            result = await self._caller.call(
                run.routes, self._calls.completion(run.prepare), builder.progress
            )
        except ProviderError as error:
            run.emit(builder.failure_record(error, streamed=False))
            raise
        stats = builder.build(result, time_to_first_token_ms=None)
        run.emit(builder.record(stats, streamed=False))
        return result.text, stats

    async def _complete_missed(self, run: _Run, plan: CachePlan) -> tuple[str, CompletionStats]:
        """Not in the cache (or not read from it): one provider call for all concurrent
        identical ones, its answer stored. Each caller waits at most its own deadline, and
        a leader's timeout is not its waiters' answer: one with time left calls instead."""
        cache = self._cache
        assert cache is not None

        async def call_and_store() -> tuple[str, CompletionStats]:
            text, stats = await self._complete_uncached(run)
            await cache.store(plan, cache_entry(text, stats))
            return text, stats

        progress = run.builder.progress
        try:
            (text, stats), shared = await cache.run_once(
                plan.key,
                call_and_store,
                max_wait=max(0.0, progress.deadline - self._clock.monotonic()),
                shared_error=_waiters_share,
            )
        except TimeoutError:  # only waiting raises it: a call converts its own timeouts
            error = deadline_error(
                run.routes[0], progress, doing="waiting for an identical call in flight"
            )
            run.emit(run.builder.failure_record(error, streamed=False))
            raise error from None
        if shared:
            return text, self._emit_hit(run.builder, cache_entry(text, stats), run.emit)
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
        if mode is None:
            return
        try:
            CacheMode(mode)
        except ValueError:
            raise ConfigurationError(
                f"cache={mode!r} is not a cache mode; use one of "
                f"{', '.join(repr(m.value) for m in CacheMode)}."
            ) from None
        if self._cache is None and mode not in (None, CacheMode.AUTO, CacheMode.BYPASS):
            raise ConfigurationError(
                f"cache={mode!r} was asked for, but this LLMService has no cache: "
                "pass LLMService(config, cache=ResponseCache(...))."
            )

    def _cache_plan(self, chat: ChatCall, request: ChatRequest) -> CachePlan | None:
        """What the cache does for `request` (the call's mode and namespace), or None."""
        if self._cache is None:
            return None
        spec = chat.spec
        return self._cache.plan(chat.routes[0].provider, request, spec.cache, spec.cache_namespace)

    def stream(
        self, messages: Sequence[Message], **options: Unpack[CallOptions]
    ) -> CompletionStream:
        """Stream the answer: `async for delta in stream`, then `stream.stats`.

        Takes the options of `complete()`. Retries and fallbacks apply until the first text
        arrives; a stream that breaks after that raises `StreamInterruptedError` holding
        the text received so far. A cached answer is replayed in chunks; a fresh one is
        stored once complete. Guards run when the stream is first read.
        """
        spec = call_spec(self.config, messages, options)
        self._check_cache_mode(spec.cache)
        stream = CompletionStream()
        stream.bind(self._guarded_stream(stream.result, self._planner.begin(spec, streamed=True)))
        self._open_streams.add(stream)
        return stream

    async def _guarded_stream(
        self, result: StreamResult, chat: ChatCall
    ) -> AsyncGenerator[StreamOutput, None]:
        """The stream's deltas under the guards, leaving exactly one record."""
        admission = await self._guards.admit(chat.planned)
        slot = admission.slot(self._emit)
        unrecorded = self._planner.unrecorded(chat)
        try:
            if admission.stopped is not None:
                raise admission.stopped
            request, defaults, builder = self._planner.admit(chat, admission.call)
            prepare = self._planner.preparer(request, defaults)
            job = self._stream_job(result, _Run(request, prepare, chat.routes, builder, slot.emit))
            plan = self._cache_plan(chat, request)
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
        self, result: StreamResult, run: _Run, *, whole_deadline: bool = False
    ) -> _StreamJob:
        def prepare(route: ResolvedRoute) -> ChatRequest:
            return dataclasses.replace(run.prepare(route), stream=True)

        return _StreamJob(
            result=result,
            caller=self._caller,
            calls=self._calls,
            routes=run.routes,
            request=dataclasses.replace(run.request, stream=True),
            progress=run.builder.progress,
            builder=run.builder,
            emit=run.emit,
            prepare=prepare,
            idle_timeout=self.config.stream_idle_timeout,
            whole_deadline=whole_deadline,
        )

    def _emit(self, record: RequestRecord) -> None:
        """This service's totals, then the (possibly shared) bus."""
        self.metrics.observe(record)
        self._bus.emit(record)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            config = self.config
            self._client = pooled_client(
                timeout=config.timeout,
                limits=http_limits(config.max_connections, config.max_keepalive_connections),
                http2=config.http2,
            )
        return self._client


class SyncLLMService:
    """`LLMService` for scripts and notebooks: the same calls, stats and records, blocking.

        with SyncLLMService(config) as llm:
            text, stats = llm.complete(messages=[{"role": "user", "content": "Hi"}])
            for delta in llm.stream(messages=[...]):
                print(delta, end="")

    The service runs on an event loop of its own in a background thread
    (`ai.calls.blocking`), so it works where a loop is already running (Jupyter) and
    where none is (a script). Takes the arguments of `LLMService`; `service` is the async
    service behind it.
    """

    def __init__(self, config: LLMConfig, **options: Any) -> None:
        self._loop = BackgroundLoop("devora-llm-sync")

        async def build() -> LLMService:
            return await LLMService(config, **options).__aenter__()

        self.service: LLMService = self._loop.run(build())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(
        self, messages: Sequence[Message], **options: Unpack[CallOptions]
    ) -> tuple[str, CompletionStats]:
        """`LLMService.complete`, blocking."""
        return self._loop.run(self.service.complete(messages, **options))

    def stream(self, messages: Sequence[Message], **options: Unpack[CallOptions]) -> SyncStream:
        """`LLMService.stream`, as a blocking iterator of text deltas."""
        return SyncStream(self.service.stream(messages, **options), self._loop.run)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Receive every record (the subscriber runs on the service's thread)."""
        return self.service.subscribe(subscriber)

    def get_metrics(self) -> dict[str, Any]:
        return self.service.get_metrics()

    def close(self) -> None:
        """Deliver pending records, close connections and stop the loop. Idempotent."""
        if not self._loop.running:
            return
        self._loop.run(self.service.aclose())
        self._loop.stop()


def _waiters_share(error: BaseException) -> bool:
    """Whether a coalesced call's failure is also the answer of the calls waiting on it:
    not a timeout, which passed on the deadline of the call that led (theirs differ)."""
    if isinstance(error, AllModelsFailedError) and error.errors:
        error = error.errors[-1]
    return not isinstance(error, ProviderTimeoutError)
