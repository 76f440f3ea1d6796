"""`PineconeBackend`: Pinecone's data-plane REST API through httpx (no SDK needed).

Where requests go: the index host from `VectorStoreConfig.index_host` or
`PINECONE_INDEX_HOST`; without one, the host is looked up once with the control plane's
`GET /indexes/{index_name}` at `https://api.pinecone.io` (or `PINECONE_CONTROLLER_HOST`,
or `control_plane_url=`), which also checks the index's dimension and metric against the
config. Every request carries `Api-Key` and `X-Pinecone-API-Version: 2025-10`.

What the backend does for the front:

* upserts in batches of at most 1,000 vectors and 2 MB of JSON; fetches and deletes in
  batches of at most 1,000 ids;
* retries 408/409/429/5xx answers, dropped connections and timeouts with
  `ai.calls.retry.RetryPolicy` (Retry-After honoured) on an injectable `ai.core.clock.Clock`; every
  failure leaves as one `StoreError` naming the operation and what to check, never the key;
* filters go to Pinecone as Pinecone JSON (`filter_to_dict` of the parsed filter);
* scores keep devora's "higher is closer": Pinecone's euclidean score is the *squared*
  distance, so it becomes `-sqrt(score)`, the negated distance the other backends report;
* a record's `text` rides in metadata under `_text` (Pinecone has no text field), and
  `None` metadata values are dropped (Pinecone stores no nulls; filters treat both as
  missing). Metadata Pinecone cannot store (nested objects, lists of non-strings, more than
  40 KB, non-ASCII ids) is refused before anything is sent.

Limits: `top_k` at most 10,000. `count` without a filter reads `describe_index_stats`
(eventually consistent: fresh writes may lag); with a filter (serverless indexes refuse
filtered stats) it runs one ids-only query of `topK` 10,000, and only above that pages
through `fetch_by_metadata`, which returns values too and is slow on large namespaces.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

from ai.calls.retry import RetryPolicy, parse_retry_after
from ai.core.clock import Clock, SystemClock
from ai.errors import (
    ConfigurationError,
    InvalidResponseError,
    ProviderError,
    RateLimitError,
    StoreError,
    redact,
)
from ai.errors import ProviderConnectionError as Unreachable
from ai.errors import ProviderTimeoutError as TimedOut
from ai.rag.filters import Filter, filter_to_dict
from ai.rag.stores.pinecone_records import (
    MAX_BATCH_BYTES,
    MAX_IDS_PER_REQUEST,
    TEXT_KEY,
    batches,
    decode_vector,
    dumps,
    encode_record,
    id_batches,
)
from ai.rag.types import DistanceMetric, Match, StoreStats, Vector, VectorRecord
from ai.rag.vector_store_config import VectorStoreConfig

API_VERSION = "2025-10"
CONTROL_PLANE_URL = "https://api.pinecone.io"
MAX_TOP_K = 10_000
_COUNT_PAGE = 1_000
_DEFAULT_NAMESPACE = "__default__"
_METRIC_NAMES = {
    DistanceMetric.COSINE: "cosine",
    DistanceMetric.DOT: "dotproduct",
    DistanceMetric.EUCLIDEAN: "euclidean",
}
_METRICS = {name: metric for metric, name in _METRIC_NAMES.items()}
_RETRYABLE_STATUSES = frozenset({408, 409, 429})


def _normalize_host(host: str) -> str:
    """`https://` unless the host names its scheme (the fake and proxies use `http://`);
    a `ConfigurationError` for something that is not a URL."""
    host = host.strip().rstrip("/")
    url = host if host.startswith(("http://", "https://")) else f"https://{host}"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or not parsed.host:
        raise ConfigurationError(f"Pinecone host {host[:80]!r} is not a valid URL or host name.")
    return url


class PineconeBackend:
    """Storage and search in one Pinecone index, over its REST data plane.

    `http` lets tests or instrumentation supply the `httpx.AsyncClient` (it is then not
    closed here); `clock`, `retry` and `rng` drive the retries.
    """

    def __init__(
        self,
        config: VectorStoreConfig,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        control_plane_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._config = config
        self._api_key = config.resolved_api_key()
        host = config.index_host or os.environ.get("PINECONE_INDEX_HOST")
        self._host = _normalize_host(host) if host else None
        control = control_plane_url or os.environ.get("PINECONE_CONTROLLER_HOST")
        self._control_plane = _normalize_host(control or CONTROL_PLANE_URL)
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None
        self._clock: Clock = clock or SystemClock()
        self._retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._host_lock = asyncio.Lock()
        self._headers = {
            "Api-Key": self._api_key,
            "X-Pinecone-API-Version": API_VERSION,
            "Content-Type": "application/json",
            "User-Agent": "devora-ai",
        }

    # -- VectorBackend ---------------------------------------------------------------------

    async def upsert(self, records: Sequence[VectorRecord], namespace: str) -> None:
        """Insert or replace by id, in batches within Pinecone's request limits."""
        encoded = [encode_record(record) for record in records]
        host = await self._index_host()
        tail = b'],"namespace":' + dumps(namespace) + b"}"
        for batch in batches(encoded, MAX_BATCH_BYTES - len(tail) - 16):
            body = b'{"vectors":[' + b",".join(batch) + tail
            await self._call("upsert", "POST", f"{host}/vectors/upsert", content=body)

    async def query(
        self,
        vector: Vector,
        top_k: int,
        namespace: str,
        filter: Filter | None,
        include_values: bool,
    ) -> list[Match]:
        """The `top_k` closest records passing `filter`, best first."""
        if top_k > MAX_TOP_K:
            raise ConfigurationError(
                f"Pinecone returns at most {MAX_TOP_K} matches; got top_k={top_k}."
            )
        body: dict[str, Any] = {
            "vector": vector.tolist(),
            "topK": top_k,
            "namespace": namespace,
            "includeValues": include_values,
            "includeMetadata": True,
        }
        if filter is not None:
            body["filter"] = filter_to_dict(filter)
        host = await self._index_host()
        data = await self._call("query", "POST", f"{host}/query", content=dumps(body))
        return [self._match(raw, include_values) for raw in _list(data, "matches")]

    async def fetch(self, ids: Sequence[str], namespace: str) -> list[VectorRecord]:
        """The records with these ids; missing ids are left out."""
        host = await self._index_host()
        found: list[VectorRecord] = []
        for batch in id_batches(ids):
            params = httpx.QueryParams({"ids": batch, "namespace": namespace or []})
            data = await self._call("fetch", "GET", f"{host}/vectors/fetch", params=params)
            vectors = data.get("vectors") if isinstance(data, Mapping) else None
            if isinstance(vectors, Mapping):
                found.extend(decode_vector(raw) for raw in vectors.values())
        return found

    async def delete(self, ids: Sequence[str], namespace: str) -> None:
        """Remove these ids (an absent namespace is not an error)."""
        host = await self._index_host()
        for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
            body = {"ids": list(ids[start : start + MAX_IDS_PER_REQUEST]), "namespace": namespace}
            await self._call(
                "delete", "POST", f"{host}/vectors/delete", content=dumps(body), missing_ok=True
            )

    async def delete_by_filter(self, filter: Filter, namespace: str) -> None:
        """Remove every record in `namespace` passing `filter`."""
        host = await self._index_host()
        body = {"filter": filter_to_dict(filter), "namespace": namespace}
        await self._call(
            "delete", "POST", f"{host}/vectors/delete", content=dumps(body), missing_ok=True
        )

    async def count(self, namespace: str, filter: Filter | None) -> int:
        """How many records pass `filter` (see the module docstring for how and its cost)."""
        stats = await self._describe_index_stats()
        if filter is None:
            return _namespace_counts(stats).get(namespace, 0)
        dimension = stats.get("dimension") or self._config.dimension
        if not isinstance(dimension, int) or dimension < 1:
            raise StoreError("Pinecone did not report the index dimension; cannot count.")
        probe = np.zeros(dimension, dtype=np.float32)
        probe[0] = 1.0
        matches = await self.query(probe, MAX_TOP_K, namespace, filter, False)
        if len(matches) < MAX_TOP_K:
            return len(matches)
        return await self._count_by_metadata(namespace, filter)

    async def stats(self) -> StoreStats:
        """Counts per namespace (the default one as `""`), dimension and metric."""
        stats = await self._describe_index_stats()
        dimension = stats.get("dimension")
        metric = _METRICS.get(str(stats.get("metric")), self._config.metric)
        return StoreStats(
            dimension=dimension if isinstance(dimension, int) else None,
            metric=metric,
            namespaces=_namespace_counts(stats),
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this backend created it."""
        if self._owns_http:
            await self._http.aclose()

    # -- helpers ---------------------------------------------------------------------------

    async def _describe_index_stats(self) -> Mapping[str, Any]:
        host = await self._index_host()
        url = f"{host}/describe_index_stats"
        data = await self._call("describe_index_stats", "POST", url, content=b"{}")
        if not isinstance(data, Mapping):
            raise StoreError("Pinecone describe_index_stats returned something other than JSON.")
        return data

    async def _count_by_metadata(self, namespace: str, filter: Filter) -> int:
        host = await self._index_host()
        total, token = 0, None
        while True:
            body: dict[str, Any] = {
                "filter": filter_to_dict(filter),
                "namespace": namespace,
                "limit": _COUNT_PAGE,
            }
            if token:
                body["paginationToken"] = token
            url = f"{host}/vectors/fetch_by_metadata"
            data = await self._call(
                "fetch_by_metadata", "POST", url, content=dumps(body), missing_ok=True
            )
            if not isinstance(data, Mapping):
                return total
            vectors = data.get("vectors")
            total += len(vectors) if isinstance(vectors, Mapping) else 0
            pagination = data.get("pagination")
            token = pagination.get("next") if isinstance(pagination, Mapping) else None
            if not token:
                return total

    def _match(self, raw: Any, include_values: bool) -> Match:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
            raise StoreError("Pinecone query returned a match without an id.")
        metadata = dict(raw.get("metadata") or {})
        text = metadata.pop(TEXT_KEY, None)
        score = float(raw.get("score", 0.0))
        if self._config.metric is DistanceMetric.EUCLIDEAN:
            score = -math.sqrt(max(score, 0.0))  # squared distance -> negated distance
        values = None
        if include_values:
            values = np.asarray(raw.get("values") or [], dtype=np.float32)
        return Match(raw["id"], score, metadata, text if isinstance(text, str) else None, values)

    async def _index_host(self) -> str:
        if self._host is not None:
            return self._host
        async with self._host_lock:
            if self._host is None:
                name = self._config.resolved_index_name()
                url = f"{self._control_plane}/indexes/{quote(name, safe='')}"
                model = await self._call("describe_index", "GET", url)
                host = model.get("host") if isinstance(model, Mapping) else None
                if not isinstance(host, str) or not host:
                    raise StoreError(
                        f"Pinecone index {name!r} has no host yet (still initializing?); "
                        "retry shortly or set PINECONE_INDEX_HOST."
                    )
                self._check_index(model)
                try:
                    self._host = _normalize_host(host)
                except ConfigurationError as error:
                    raise StoreError(f"Pinecone describe_index for {name!r}: {error}") from None
            return self._host

    def _check_index(self, model: Mapping[str, Any]) -> None:
        name, config = self._config.resolved_index_name(), self._config
        metric = _METRICS.get(str(model.get("metric")))
        if metric is not None and metric is not config.metric:
            raise ConfigurationError(
                f"Pinecone index {name!r} uses metric {model.get('metric')!r} but "
                f"VectorStoreConfig.metric is {config.metric.value!r}; make them agree."
            )
        dimension = model.get("dimension")
        known = config.dimension is not None and isinstance(dimension, int)
        if known and dimension != config.dimension:
            raise ConfigurationError(
                f"Pinecone index {name!r} holds {dimension}-d vectors but "
                f"VectorStoreConfig.dimension is {config.dimension}."
            )

    async def _call(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        params: httpx.QueryParams | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """One request with retries; the single place Pinecone failures become
        `StoreError`. `missing_ok` turns a 404 into None (Pinecone answers 404 for a
        namespace that does not exist)."""
        retries = 0
        while True:
            try:
                response = await self._http.request(
                    method, url, content=content, params=params, headers=self._headers
                )
                if response.is_success:
                    return _json(response)
                if response.status_code == 404 and missing_ok:
                    return None
                failure = self._status_failure(response)
            except httpx.TimeoutException as exc:
                failure = TimedOut(f"timed out ({type(exc).__name__})")
            except httpx.TransportError as exc:
                failure = Unreachable(f"{type(exc).__name__}: {exc}")
            except InvalidResponseError as exc:
                failure = exc
            if not self._retry.should_retry(failure, retries):
                raise self._store_error(operation, url, failure, retries + 1) from None
            retries += 1
            await self._clock.sleep(self._retry.wait(failure, retries, self._rng))

    def _status_failure(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        message = f"HTTP {status}: {_error_message(response)}"
        retry_after = parse_retry_after(response.headers, self._clock.now())
        if status == 429:
            return RateLimitError(message, status=status, retry_after=retry_after)
        retryable = status in _RETRYABLE_STATUSES or status >= 500
        return ProviderError(message, status=status, retry_after=retry_after, retryable=retryable)

    def _store_error(
        self, operation: str, url: str, failure: ProviderError, attempts: int
    ) -> StoreError:
        where = url.split("?", 1)[0]
        advice = _advice(failure)
        text = (
            f"Pinecone {operation} failed after {attempts} attempt(s) ({where}): "
            f"{failure}. {advice}"
        )
        return StoreError(redact(text, [self._api_key]))


def _advice(failure: ProviderError) -> str:
    if isinstance(failure, Unreachable | TimedOut):
        return "Check the index host (PINECONE_INDEX_HOST) and the network."
    if failure.status in (401, 403):
        return "Check the API key (PINECONE_API_KEY or VectorStoreConfig.api_key)."
    if failure.status == 404:
        return "Check the index name and host (PINECONE_INDEX_HOST)."
    if failure.retryable:
        return "Pinecone is rate limiting or unavailable; try again later."
    return "Pinecone refused the request; see its message above."


def _error_message(response: httpx.Response) -> str:
    """Pinecone's own words from either error shape, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return response.text[:200]


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise InvalidResponseError(
            f"HTTP {response.status_code} with a body that is not JSON", retryable=True
        ) from None


def _list(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, list) else []


def _namespace_counts(stats: Mapping[str, Any]) -> dict[str, int]:
    namespaces = stats.get("namespaces")
    counts: dict[str, int] = {}
    if isinstance(namespaces, Mapping):
        for name, summary in namespaces.items():
            count = summary.get("vectorCount", 0) if isinstance(summary, Mapping) else 0
            key = "" if name == _DEFAULT_NAMESPACE else str(name)
            counts[key] = counts.get(key, 0) + int(count)
    return counts
