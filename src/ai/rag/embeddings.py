"""`EmbeddingService`: texts in, L2-normalised float32 vectors out, each text embedded once.

    embeddings = EmbeddingService(api_key="sk-...")           # OpenAI text-embedding-3-small
    embeddings = EmbeddingService.local()                     # all-MiniLM-L6-v2 on the CPU
    vectors = await embeddings.embed(["first text", "second text"])   # (2, d) float32

The service does the work every backend shares: drops duplicate texts, looks vectors up in
the cache (keyed by model id and the SHA-256 of the text), shares work with concurrent
calls embedding the same texts, hands the rest to the backend in batches of its
`max_batch`, normalises rows and puts them back in the caller's order. Backends
(`ai.rag.embedding_backends`) only turn a batch of texts into a matrix.

Every backend request runs under the service's guards (`ai.core.guards`) and emits exactly
one `RequestRecord` (operation "embedding", with tokens and cost for paid APIs, labelled
with the `user`, `agent` and `tags` given to `embed`) to the service's `RecordBus`, which
may be shared with other services; cache hits make no request and emit nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

import httpx
import numpy as np
import numpy.typing as npt

from ai.accounting.pricing import PricingTable
from ai.calls.config import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_KEEPALIVE_CONNECTIONS
from ai.calls.retry import RetryPolicy
from ai.core.clock import Clock, SystemClock
from ai.core.guards import CallGuard, GuardChain
from ai.core.lifecycle import AsyncClosing
from ai.core.records import CallLabels, RecordBus, RequestRecord, Subscriber
from ai.core.usage import Usage
from ai.errors import ConfigurationError, InvalidResponseError
from ai.rag.embedding_backends import (
    BackendContext,
    EmbeddingBackend,
    EmbeddingOptions,
    EmbeddingProviderRegistry,
    default_embedding_providers,
)
from ai.rag.embedding_backends.base import labelled
from ai.rag.embedding_backends.local import DEFAULT_LOCAL_MODEL
from ai.rag.embedding_cache import (
    DEFAULT_MAX_ENTRIES,
    EmbeddingCache,
    MemoryEmbeddingCache,
    SqliteEmbeddingCache,
)
from ai.rag.lone_surrogates import replace_lone_surrogates

__all__ = [
    "EmbeddingCacheStats",
    "EmbeddingService",
]

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]


@dataclass(slots=True)
class EmbeddingCacheStats:
    """How texts were served: from the cache, by the backend, or shared.

    `hits` came from the cache, `misses` went to the backend, `duplicates` repeated a
    text of the same call, `shared` were being embedded by a concurrent call already.
    """

    hits: int = 0
    misses: int = 0
    duplicates: int = 0
    shared: int = 0

    @property
    def hit_rate(self) -> float:
        """Share of distinct lookups served by the cache (0 when none were made)."""
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0


class _Default(Enum):
    """Marker for a connection setting left out (None there means "no limit")."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return self.value


DEFAULT: Final = _Default.DEFAULT


class _Abandoned(Exception):
    """The call computing some texts was cancelled; whoever waited on it computes them."""


_InFlight = asyncio.Future[Matrix]


class EmbeddingService(AsyncClosing):
    """Embeddings from the OpenAI API (default), an OpenAI-compatible server, or a local
    sentence-transformers model, behind one cache. Use `async with`, or `await aclose()`.

    OpenAI settings: `api_key` (else `OPENAI_API_KEY`), `model`, `base_url` (else
    `OPENAI_BASE_URL`), `dimensions` (text-embedding-3 models), `timeout` (deadline over
    all retries of one request), `retry` (a `RetryPolicy`, as `LLMService` uses), `truncate`
    (cut inputs over 8,191 tokens instead of raising `ContextLengthError`),
    `max_concurrency` (parallel requests per call). Local settings (`provider="local"`, or
    `EmbeddingService.local()`): `model`, `device`, `batch_size`.

    Cache: `cache=True` keeps up to `cache_size` vectors in memory; `cache_path` adds a
    SQLite file that survives restarts; `cache=False` turns caching off; or pass any
    `EmbeddingCache`. `guards` run around every backend request (they may refuse or
    relabel it); `bus` is the `RecordBus` records go to, shareable with other services.
    `max_connections`, `max_keepalive_connections` and `http2` shape the connection pool of
    the httpx client an API backend opens (defaults and meaning as in `LLMConfig`; `None`
    is no limit); a backend that opens no connections (local) refuses them.
    `http_client`, `clock`, `rng`, `pricing`, `environ` and `registry` are seams for tests
    and larger apps.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        model: str | None = None,
        provider: str = "openai",
        base_url: str | None = None,
        dimensions: int | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        truncate: bool | None = None,
        max_concurrency: int | None = None,
        cache: bool | EmbeddingCache = True,
        cache_size: int = DEFAULT_MAX_ENTRIES,
        cache_path: str | os.PathLike[str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        pricing: PricingTable | None = None,
        environ: Mapping[str, str] | None = None,
        registry: EmbeddingProviderRegistry | None = None,
        guards: Sequence[CallGuard] = (),
        bus: RecordBus | None = None,
        max_connections: int | _Default | None = DEFAULT,
        max_keepalive_connections: int | _Default | None = DEFAULT,
        http2: bool | _Default = DEFAULT,
    ) -> None:
        options = EmbeddingOptions(
            provider=str(provider),
            model=model,
            api_key=api_key,
            base_url=base_url,
            dimensions=dimensions,
            device=device,
            batch_size=batch_size,
            timeout=timeout,
            retry=retry,
            truncate=truncate,
            max_concurrency=max_concurrency,
        )
        self._bus = bus or RecordBus()
        self._usage = Usage()
        self._total_cost = 0.0
        context = BackendContext(
            clock=clock or SystemClock(),
            emit=self._emit,
            rng=rng or random.Random(),
            environ=os.environ if environ is None else environ,
            http_client=http_client,
            pricing=pricing,
            guards=GuardChain(guards),
        )
        self._backend: EmbeddingBackend = (registry or default_embedding_providers()).get(
            options.provider
        )(options, context)
        _set_connection_limits(
            self._backend, options.provider, max_connections, max_keepalive_connections, http2
        )
        self._cache = _build_cache(cache, cache_size, cache_path)
        self._stats = EmbeddingCacheStats()
        self._in_flight: dict[bytes, tuple[_InFlight, int]] = {}

    @classmethod
    def local(
        cls,
        model: str = DEFAULT_LOCAL_MODEL,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        cache: bool | EmbeddingCache = True,
        cache_size: int = DEFAULT_MAX_ENTRIES,
        cache_path: str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
        guards: Sequence[CallGuard] = (),
        bus: RecordBus | None = None,
    ) -> EmbeddingService:
        """A local sentence-transformers model (needs the `local` extra), offline.

        The model loads on first use, in a worker thread; encoding runs there too.
        """
        return cls(
            provider="local",
            model=model,
            device=device,
            batch_size=batch_size,
            cache=cache,
            cache_size=cache_size,
            cache_path=cache_path,
            clock=clock,
            guards=guards,
            bus=bus,
        )

    def __repr__(self) -> str:
        return f"EmbeddingService(model_id={self.model_id!r})"

    @property
    def model_id(self) -> str:
        """The vector space: provider, model and dimensions (also the cache namespace)."""
        return self._backend.model_id

    @property
    def backend(self) -> EmbeddingBackend:
        """The backend doing the embedding (for its own settings and statistics)."""
        return self._backend

    @property
    def dimension(self) -> int:
        """Size of every vector. A local model is loaded (once) to read it."""
        size = self._backend.dimension
        if size is None:
            raise ConfigurationError(
                f"The dimension of {self.model_id!r} is not known before its first answer; "
                "pass dimensions=... or embed something first."
            )
        return size

    @property
    def usage(self) -> Usage:
        """Tokens sent to paid APIs so far, as reported (or counted) per request."""
        return self._usage

    @property
    def total_cost(self) -> float:
        """USD spent so far, from the pricing table (unpriced models count as 0)."""
        return self._total_cost

    @property
    def cache_stats(self) -> EmbeddingCacheStats:
        """Hits, misses, duplicates and shared texts since this service was made."""
        return self._stats

    @property
    def cache(self) -> EmbeddingCache | None:
        """The embedding cache, or None when caching is off."""
        return self._cache

    @property
    def bus(self) -> RecordBus:
        """Where this service's records go (shared when one was passed in)."""
        return self._bus

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Receive every `RequestRecord` of the bus (each backend request of this service,
        and other services' when the bus is shared); returns an unsubscribe."""
        return self._bus.subscribe(subscriber)

    async def aclose(self) -> None:
        """Deliver pending records and close the backend's connections."""
        await self._bus.flush()
        await self._backend.aclose()

    async def embed_query(
        self,
        text: str,
        *,
        user: str | None = None,
        agent: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Vector:
        """The (d,) vector of one text, e.g. a search query."""
        if not isinstance(text, str):
            raise ConfigurationError(f"embed_query takes one string, got {type(text).__name__}.")
        vector: Vector = (await self.embed([text], user=user, agent=agent, tags=tags))[0]
        return vector

    async def embed(
        self,
        texts: Sequence[str],
        *,
        user: str | None = None,
        agent: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Matrix:
        """An (n, d) float32 matrix of unit rows, row i for `texts[i]`; (0, d) for none.

        A lone surrogate in a text is embedded as U+FFFD (`ai.rag.lone_surrogates`).
        `user`, `agent` and `tags` label the records of the backend requests this makes."""
        with labelled(CallLabels(user, agent, dict(tags or {}))):
            return await self._embed(_text_list(texts))

    async def _embed(self, items: list[str]) -> Matrix:
        if not items:
            size = await asyncio.to_thread(lambda: self._backend.dimension)
            return np.empty((0, size or 0), dtype=np.float32)
        positions: dict[str, int] = {}
        rows = [positions.setdefault(text, len(positions)) for text in items]
        unique = list(positions)
        self._stats.duplicates += len(items) - len(unique)
        vectors = await self._unique_vectors(unique)
        if len(unique) == len(items):
            return vectors
        return vectors[np.asarray(rows, dtype=np.intp)]

    async def _unique_vectors(self, texts: list[str]) -> Matrix:
        """Vectors for distinct texts: cache, then concurrent calls, then the backend."""
        cache = self._cache
        if cache is None:
            self._stats.misses += len(texts)
            return await self._compute(texts)
        model_id = self._backend.model_id
        keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
        found = await cache.get_many(model_id, keys)
        own: list[int] = []
        waits: list[tuple[int, _InFlight, int]] = []
        for index, vector in enumerate(found):
            if vector is not None:
                continue
            flight = self._in_flight.get(keys[index])
            if flight is None:
                own.append(index)
            else:
                waits.append((index, *flight))
        self._stats.hits += len(texts) - len(own) - len(waits)
        self._stats.misses += len(own)
        self._stats.shared += len(waits)
        computed = await self._compute_and_share(
            cache, [texts[i] for i in own], [keys[i] for i in own]
        )
        if len(own) == len(texts):
            return computed  # the cold path: nothing to merge
        for row, index in enumerate(own):
            found[index] = computed[row]
        for index, future, row in waits:
            found[index] = await self._shared_row(future, row, texts[index])
        return np.stack(found)  # type: ignore[arg-type]

    async def _compute_and_share(
        self, cache: EmbeddingCache, texts: list[str], keys: list[bytes]
    ) -> Matrix:
        """Embed `texts`, letting concurrent calls that need them wait for this one."""
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        future: _InFlight = asyncio.get_running_loop().create_future()
        for row, key in enumerate(keys):
            self._in_flight[key] = (future, row)
        try:
            matrix = await self._compute(texts)
            await cache.put_many(self._backend.model_id, keys, matrix)
        except BaseException as error:
            shared = _Abandoned() if isinstance(error, asyncio.CancelledError) else error
            future.set_exception(shared)
            future.exception()  # waiters (if any) get it; nobody else needs to
            raise
        else:
            future.set_result(matrix)
        finally:
            for key in keys:
                if self._in_flight.get(key, (None, 0))[0] is future:
                    del self._in_flight[key]
        return matrix

    async def _shared_row(self, future: _InFlight, row: int, text: str) -> Vector:
        try:
            matrix = await asyncio.shield(future)
        except _Abandoned:
            matrix, row = await self._compute([text]), 0
        vector: Vector = matrix[row]
        return vector

    async def _compute(self, texts: list[str]) -> Matrix:
        """The backend's vectors for `texts`, `max_batch` at a time, normalised."""
        step = self._backend.max_batch
        parts = [
            await self._backend.embed_batch(texts[start : start + step])
            for start in range(0, len(texts), step)
        ]
        matrix = np.asarray(parts[0] if len(parts) == 1 else np.concatenate(parts), np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(texts) or matrix.shape[1] == 0:
            raise InvalidResponseError(
                f"The {self.model_id!r} backend returned shape {matrix.shape} for "
                f"{len(texts)} texts; expected ({len(texts)}, d)."
            )
        return normalise_rows(matrix)

    def _emit(self, record: RequestRecord) -> None:
        """This service's totals, then the (possibly shared) bus."""
        if record.usage is not None:
            self._usage = self._usage + record.usage
        if record.estimated_cost is not None:
            self._total_cost += record.estimated_cost
        self._bus.emit(record)


def _set_connection_limits(
    backend: EmbeddingBackend,
    provider: str,
    max_connections: int | _Default | None,
    max_keepalive_connections: int | _Default | None,
    http2: bool | _Default,
) -> None:
    """Hand the connection settings, when any is given, to a backend that opens connections
    (one with `set_connection_limits`), `LLMConfig`'s defaults for those left out; any
    other backend refuses them, naming them."""
    given = [
        name
        for name, value in (
            ("max_connections", max_connections),
            ("max_keepalive_connections", max_keepalive_connections),
            ("http2", http2),
        )
        if value is not DEFAULT
    ]
    if not given:
        return
    configure = getattr(backend, "set_connection_limits", None)
    if configure is None:
        raise ConfigurationError(
            f"EmbeddingService(provider={provider!r}) opens no connections and does not use "
            f"{', '.join(given)}; remove {'it' if len(given) == 1 else 'them'}."
        )
    configure(
        DEFAULT_MAX_CONNECTIONS if max_connections is DEFAULT else max_connections,
        (
            DEFAULT_MAX_KEEPALIVE_CONNECTIONS
            if max_keepalive_connections is DEFAULT
            else max_keepalive_connections
        ),
        False if http2 is DEFAULT else http2,
    )


def normalise_rows(matrix: Matrix) -> Matrix:
    """Rows scaled to unit L2 length; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _text_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str | bytes) or not isinstance(texts, Sequence):
        raise ConfigurationError(
            "embed takes a list of strings; for one text use embed_query(text) or embed([text])."
        )
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise ConfigurationError(
                f"texts[{index}] is {type(text).__name__}, not a string; embed only takes text."
            )
        items[index] = replace_lone_surrogates(text)  # UTF-8 cannot carry them
    return items


def _build_cache(
    cache: bool | EmbeddingCache, size: int, path: str | os.PathLike[str] | None
) -> EmbeddingCache | None:
    if cache is False:
        if path is not None:
            raise ConfigurationError("cache_path was given with cache=False; drop one of them.")
        return None
    if cache is True:
        return MemoryEmbeddingCache(size) if path is None else SqliteEmbeddingCache(path, size)
    if path is not None:
        raise ConfigurationError("cache_path applies to the built-in cache, not to cache=...")
    return cache
