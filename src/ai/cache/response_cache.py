"""`ResponseCache`: one front over any backend, with the policy of what to cache.

It decides which requests are cacheable (deterministic ones, unless told otherwise),
keys them, looks them up exactly and, if enabled, by meaning, coalesces concurrent
identical calls, and keeps metrics. A failing backend never fails a call: the call goes
through uncached, one warning is logged per outage, and caching resumes by itself.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Final, TypeVar

from ai.cache.backend import CacheBackend
from ai.cache.entry import CachedResponse, CacheValueError
from ai.cache.keys import UnkeyableRequest, request_key, semantic_scope
from ai.cache.metrics import CacheMetrics
from ai.cache.semantic import SemanticIndex, Vector
from ai.cache.singleflight import SingleFlight
from ai.core.clock import Clock, SystemClock
from ai.errors import ConfigurationError, StoreError
from ai.providers.base import ChatRequest

logger = logging.getLogger("ai.cache")

T = TypeVar("T")

#: `ResponseCache`'s own default time to live, for the memory backend it builds itself.
DEFAULT_REDIS_TIMEOUT = 0.25
"""Seconds a Redis operation of the cache may take: Redis answers in well under a
millisecond on a healthy network, providers in hundreds."""
DEFAULT_TTL = 3600.0


class _NotGiven(Enum):
    """Marker for `ttl` left out (None there means "no expiry")."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return self.value


NOT_GIVEN: Final = _NotGiven.NOT_GIVEN

#: Options of `ResponseCache` itself, which every backend factory passes through.
CACHE_OPTIONS: Final = frozenset(
    {
        "deterministic_only",
        "cache_nondeterministic",
        "max_value_bytes",
        "semantic",
        "retry_interval",
        "clock",
    }
)
#: The backend options each factory (`ResponseCache.memory`, `.redis`) takes; one line per
#: factory, so an option given to the wrong one can name the right one.
BACKEND_OPTIONS: Final[Mapping[str, frozenset[str]]] = {
    "memory": frozenset({"max_entries", "max_bytes", "ttl"}),
    "redis": frozenset({"url", "prefix", "ttl", "timeout"}),
}


def reject_unused(factory: str, options: Mapping[str, object]) -> None:
    """Raise `ConfigurationError` naming every option that `ResponseCache.<factory>()`
    does not use, and the factory that does, if any."""
    unused = sorted(set(options) - CACHE_OPTIONS)
    if not unused:
        return
    others = [
        name
        for name, allowed in BACKEND_OPTIONS.items()
        if name != factory and allowed.issuperset(unused)
    ]
    remedy = "remove it" if len(unused) == 1 else "remove them"
    if others:
        remedy += ", or use " + " or ".join(f"ResponseCache.{name}(...)" for name in others)
    raise ConfigurationError(
        f"ResponseCache.{factory}() does not use {', '.join(unused)}; {remedy}."
    )


class CacheMode(StrEnum):
    """Per-call cache behaviour (`llm.complete(..., cache="refresh")`)."""

    AUTO = "auto"  # read and write when the cache policy allows (all, or deterministic only)
    USE = "use"  # read and write even a sampled request under deterministic_only
    BYPASS = "bypass"  # neither read nor write
    REFRESH = "refresh"  # skip the read, store the fresh answer
    NO_STORE = "no-store"  # read, but do not store


@dataclass(slots=True)
class CachePlan:
    """What the cache will do for one request."""

    key: str
    read: bool
    store: bool
    semantic: tuple[str, str] | None = None
    vector: Vector | None = None
    semantic_hit: bool = False


_AUTO, _BYPASS, _REFRESH, _NO_STORE = (
    CacheMode.AUTO,
    CacheMode.BYPASS,
    CacheMode.REFRESH,
    CacheMode.NO_STORE,
)


class ResponseCache:
    """LLM response cache over a `CacheBackend` (memory LRU+TTL by default, or Redis).

    `ttl` is the default time to live in seconds (None: until evicted). Left out, it is
    3600 for the memory backend built here, and a `backend` you pass keeps its own
    `default_ttl`; given with such a backend, it overrides that default for every entry
    (a number only: `ttl=None` cannot turn a built backend's expiry off, so that is an
    error). Identical requests are served from the cache whatever their temperature (the
    key holds every sampling parameter), as LiteLLM's and GPTCache's users expect;
    `deterministic_only=True` caches only temperature-0 requests, for those who want fresh
    samples otherwise (a call may still pass `cache="use"`). `cache_nondeterministic` is
    the pre-0.2 spelling of the opposite setting, kept for one release. `semantic` (a
    `SemanticIndex`) turns on matching by meaning.
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        ttl: float | _NotGiven | None = NOT_GIVEN,
        deterministic_only: bool = False,
        cache_nondeterministic: bool | None = None,
        max_value_bytes: int = 1_000_000,
        semantic: SemanticIndex | None = None,
        retry_interval: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if ttl is not None and ttl is not NOT_GIVEN and ttl <= 0:
            raise ConfigurationError(f"cache ttl must be > 0 seconds or None, got {ttl}.")
        if max_value_bytes < 1:
            raise ConfigurationError(f"max_value_bytes must be >= 1, got {max_value_bytes}.")
        if backend is None:
            from ai.cache.memory import MemoryBackend

            default_ttl = DEFAULT_TTL if ttl is NOT_GIVEN else ttl
            backend = MemoryBackend(default_ttl=default_ttl, clock=clock)
            ttl = None  # the backend's default is this cache's
        elif ttl is None:
            raise ConfigurationError(
                "ResponseCache(backend=..., ttl=None) cannot turn off the expiry of a backend "
                "built elsewhere; build it with default_ttl=None and leave ttl out."
            )
        self.backend = backend
        #: The time to live every entry is stored with (None: the backend's default).
        self.ttl: float | None = None if ttl is NOT_GIVEN else ttl
        if cache_nondeterministic is not None:
            warnings.warn(
                "ResponseCache(cache_nondeterministic=...) is now deterministic_only=... (the "
                "opposite); sampled requests are cached by default since 0.2.",
                DeprecationWarning,
                stacklevel=2,
            )
            deterministic_only = not cache_nondeterministic
        self.deterministic_only = deterministic_only
        self.max_value_bytes = max_value_bytes
        self.semantic = semantic
        self.retry_interval = retry_interval
        self.metrics = CacheMetrics()
        self._clock = clock or SystemClock()
        self._flights: SingleFlight[Any] = SingleFlight()
        self._down_since: float | None = None
        self._probing = False
        self._embedder_failing = False
        self._explained: set[str] = set()

    @classmethod
    def memory(
        cls,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 256 * 2**20,
        ttl: float | None = 3600.0,
        **options: Any,
    ) -> ResponseCache:
        """An in-process LRU cache bounded by entries and bytes.

        `options` are `ResponseCache`'s own (`deterministic_only`, `max_value_bytes`,
        `semantic`, `retry_interval`, `clock`); any other is a `ConfigurationError`.
        """
        from ai.cache.memory import MemoryBackend

        reject_unused("memory", options)
        backend = MemoryBackend(
            max_entries=max_entries,
            max_bytes=max_bytes,
            default_ttl=ttl,
            clock=options.get("clock"),
        )
        return cls(backend, **options)

    @classmethod
    def redis(
        cls,
        url: str | None = None,
        *,
        prefix: str = "devora:cache:",
        ttl: float | None = 3600.0,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        **options: Any,
    ) -> ResponseCache:
        """A cache shared by every process using the same Redis and prefix.

        `timeout` bounds each Redis operation (and connecting): well under a provider's
        latency, so a hung Redis costs a call at most that before the cache steps aside.
        `options` are `ResponseCache`'s own, as for `memory()`; for the backend's other
        settings build it yourself: `ResponseCache(RedisBackend(url, ...))`.
        """
        from ai.cache.redis_backend import RedisBackend

        reject_unused("redis", options)
        backend = RedisBackend(url, prefix=prefix, default_ttl=ttl, socket_timeout=timeout)
        return cls(backend, **options)

    @property
    def available(self) -> bool:
        """False while the backend is failing (calls then go uncached)."""
        return self._down_since is None

    def plan(
        self,
        provider: str,
        request: ChatRequest,
        mode: CacheMode | str | None,
        namespace: str = "",
    ) -> CachePlan | None:
        """How to treat `request`, or None when it is not cached at all. Answers are
        shared only between requests of the same `namespace` ("" is the shared one)."""
        mode = _AUTO if mode is None else CacheMode(mode)
        if mode is _BYPASS:
            return None
        if mode is _AUTO and self.deterministic_only and request.temperature != 0:
            self._skip("nondeterministic", "its temperature is not 0 (deterministic_only=True)")
            return None
        try:
            key = request_key(provider, request, namespace)
            scope = (
                semantic_scope(provider, request, namespace) if self.semantic is not None else None
            )
        except UnkeyableRequest as exc:
            self._skip("unkeyable", f"it holds a value with no JSON form ({exc})")
            return None
        return CachePlan(key, mode is not _REFRESH, mode is not _NO_STORE, scope)

    async def lookup(self, plan: CachePlan) -> CachedResponse | None:
        """The cached answer for `plan`: exact key first, then by meaning if enabled."""
        started = time.perf_counter()
        if self._down_since is None:  # healthy: `_read` without its wrapping
            try:
                found = await self.backend.get(plan.key)
            except CacheValueError as exc:
                found = await self._forget_unreadable(plan.key, exc)
            except StoreError as exc:
                self._failed(exc)
                found = None
        else:
            found = await self._read(plan.key)
        if found is None and self.semantic is not None and plan.semantic is not None:
            found = await self._semantic_lookup(plan, self.semantic, *plan.semantic)
        metrics = self.metrics
        metrics.gets += 1
        metrics.get_seconds += time.perf_counter() - started
        if found is None:
            metrics.misses += 1
            return None
        metrics.hits += 1
        metrics.semantic_hits += plan.semantic_hit
        metrics.cost_saved += found.cost or 0.0
        return found

    async def _semantic_lookup(
        self, plan: CachePlan, semantic: SemanticIndex, scope: str, text: str
    ) -> CachedResponse | None:
        plan.vector = await self._embed(plan, semantic, text)
        if plan.vector is None:
            return None
        match = semantic.best(scope, plan.vector)
        if match is None:
            return None
        found = await self._read(match.key)
        if found is None:
            semantic.forget(scope, match.key)
            return None
        plan.semantic_hit = True
        return found

    async def store(self, plan: CachePlan, value: CachedResponse) -> None:
        """Store the answer for `plan` (if the plan stores); problems are counted, not raised."""
        if not plan.store:
            return
        if value.size_hint() > self.max_value_bytes:
            self.metrics.skipped["oversized"] += 1
            return
        started = time.perf_counter()
        stored = await self._write(plan.key, value)
        if not stored:
            return
        self.metrics.sets += 1
        self.metrics.set_seconds += time.perf_counter() - started
        if self.semantic is not None and plan.semantic is not None:
            scope, text = plan.semantic
            vector = plan.vector
            if vector is None:
                vector = await self._embed(plan, self.semantic, text)
            if vector is not None:
                self.semantic.add(scope, plan.key, vector)

    async def _embed(self, plan: CachePlan, semantic: SemanticIndex, text: str) -> Vector | None:
        """The question's vector, or None when the embedder fails. As with a backend
        failure the call goes on (with exact matching only); the failure is counted as
        `skipped["embedder_error"]` and logged once until the embedder answers again."""
        try:
            vector = await semantic.vector(text)
        except Exception as exc:  # any embedder (a user's object); CancelledError passes
            self.metrics.skipped["embedder_error"] += 1
            plan.semantic = None  # not embedded again to store the answer
            if not self._embedder_failing:
                self._embedder_failing = True
                logger.warning(
                    "semantic cache embedder failed (%s: %s); calls use exact matching only "
                    "until it answers",
                    type(exc).__name__,
                    exc,
                )
            return None
        if self._embedder_failing:
            self._embedder_failing = False
            logger.warning("semantic cache embedder is back; semantic matching resumed")
        return vector

    async def run_once(
        self,
        key: str,
        work: Callable[[], Awaitable[T]],
        *,
        max_wait: float | None = None,
        shared_error: Callable[[BaseException], bool] | None = None,
    ) -> tuple[T, bool]:
        """Single-flight: (result, shared); concurrent callers with one key share one run.
        `max_wait` (this caller's most seconds of waiting) and `shared_error` (whether a
        failure of its run reaches the waiters): see `SingleFlight.run`."""
        result, shared = await self._flights.run(key, work, max_wait=max_wait, shared=shared_error)
        if shared:
            self.metrics.coalesced += 1
        return result, shared

    async def get(self, key: str) -> CachedResponse | None:
        """Direct lookup by key (for callers that key their own values)."""
        return await self._read(key)

    async def set(self, key: str, value: CachedResponse, ttl: float | None = None) -> bool:
        """Direct store by key; False when skipped (oversized, unserialisable, backend down)."""
        return await self._write(key, value, ttl)

    async def clear(self) -> None:
        """Remove every entry of this cache."""
        await self._guarded(self.backend.clear, None)

    def get_metrics(self) -> dict[str, Any]:
        """Hits, misses, hit rate, evictions, expirations, entries, bytes, latency, cost saved."""
        return self.metrics.snapshot(self.backend.stats(), self.backend.name, self.available)

    async def aclose(self) -> None:
        """Release the backend's connections."""
        await self.backend.aclose()

    async def _read(self, key: str) -> CachedResponse | None:
        try:
            return await self._guarded(lambda: self.backend.get(key), None)
        except CacheValueError as exc:
            return await self._forget_unreadable(key, exc)

    async def _forget_unreadable(self, key: str, error: CacheValueError) -> CachedResponse | None:
        """Count a value that could not be read and delete it (a miss, never an error)."""
        self.metrics.skipped[error.reason] += 1
        await self._guarded(lambda: self.backend.delete(key), False)
        return None

    async def _write(self, key: str, value: CachedResponse, ttl: float | None = None) -> bool:
        try:
            await self._guarded(lambda: self.backend.set(key, value, ttl or self.ttl), None)
        except CacheValueError as exc:
            self.metrics.skipped[exc.reason] += 1
            return False
        return self.available

    def _failed(self, error: StoreError) -> None:
        """Count a backend failure; the first of an outage is logged, and the cache steps
        aside for `retry_interval` seconds from now."""
        self.metrics.backend_errors += 1
        if self._down_since is None:
            self.metrics.outages += 1
            logger.warning(
                "cache backend %s failed (%s); calls go uncached until it is back",
                self.backend.name,
                error,
            )
        self._down_since = self._clock.monotonic()

    def _skip(self, reason: str, why: str) -> None:
        """Count a request the cache left alone; say why once per reason, at INFO."""
        self.metrics.skipped[reason] += 1
        if reason not in self._explained:
            self._explained.add(reason)
            logger.info("a request was not cached because %s (counted as skipped[%r])", why, reason)

    async def _guarded(self, operation: Callable[[], Awaitable[T]], fallback: T) -> T:
        """Run a backend call; on `StoreError` degrade to `fallback` and note the outage.

        While the backend is down it is skipped for `retry_interval` seconds counted from
        the end of the last failure (a hung Redis takes its whole timeout to fail), and
        then one call at a time probes it while the others keep skipping it.
        """
        if self._down_since is not None and (
            self._probing or self._clock.monotonic() - self._down_since < self.retry_interval
        ):
            self.metrics.skipped["backend_unavailable"] += 1
            return fallback
        probing = self._down_since is not None
        self._probing = probing
        try:
            result = await operation()
        except CacheValueError:
            raise
        except StoreError as exc:
            self._failed(exc)
            return fallback
        finally:
            if probing:
                self._probing = False
        if self._down_since is not None:
            logger.warning("cache backend %s is back; caching resumed", self.backend.name)
            self._down_since = None
        return result
