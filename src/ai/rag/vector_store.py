"""`VectorStore`: one front over in-memory, pgvector and Pinecone backends.

The front validates everything once (ids, dimensions, filters), normalises vectors for
cosine, and hands backends clean inputs; a backend only stores and searches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from ai.core.lifecycle import AsyncClosing
from ai.errors import ConfigurationError, StoreError
from ai.rag.backend import VectorBackend
from ai.rag.filters import parse_filter
from ai.rag.types import DistanceMetric, Match, StoreStats, Vector, VectorRecord


class VectorStoreType(StrEnum):
    """Where vectors live."""

    MEMORY = "memory"
    PGVECTOR = "pgvector"
    PINECONE = "pinecone"


@dataclass
class VectorStoreConfig:
    """Settings for every backend; each reads the fields that concern it.

    `dimension` None means "take it from the first vectors stored". The connection
    string falls back to `POSTGRES_CONNECTION_STRING`, the Pinecone key to
    `PINECONE_API_KEY` and its index host to `PINECONE_INDEX_HOST`.
    """

    store_type: VectorStoreType = VectorStoreType.MEMORY
    dimension: int | None = None
    connection_string: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    index_name: str = "devora-embeddings"
    namespace: str = ""
    metric: DistanceMetric = DistanceMetric.COSINE
    index_host: str | None = None
    ann_threshold: int | None = 50_000
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 100
    persist_path: str | None = None

    def __post_init__(self) -> None:
        self.store_type = VectorStoreType(self.store_type)
        self.metric = DistanceMetric(self.metric)
        if self.dimension is not None and self.dimension < 1:
            raise ConfigurationError(
                f"VectorStoreConfig.dimension must be >= 1, got {self.dimension}."
            )
        if not self.index_name:
            raise ConfigurationError("VectorStoreConfig.index_name is empty.")
        if self.hnsw_m < 2 or self.hnsw_ef_construction < 1 or self.hnsw_ef_search < 1:
            raise ConfigurationError("HNSW settings must be positive (hnsw_m >= 2).")

    def resolved_connection_string(self) -> str:
        """The PostgreSQL URL, or a `ConfigurationError` naming the variable to set."""
        url = self.connection_string or os.environ.get("POSTGRES_CONNECTION_STRING")
        if not url:
            raise ConfigurationError(
                "pgvector needs a connection string: set POSTGRES_CONNECTION_STRING or "
                "VectorStoreConfig(connection_string=...)."
            )
        return url

    def resolved_api_key(self) -> str:
        """The Pinecone key, or a `ConfigurationError` naming the variable to set."""
        key = self.api_key or os.environ.get("PINECONE_API_KEY")
        if not key:
            raise ConfigurationError(
                "Pinecone needs an API key: set PINECONE_API_KEY or VectorStoreConfig(api_key=...)."
            )
        return key


BackendFactory = Callable[[VectorStoreConfig], VectorBackend]


def _memory(config: VectorStoreConfig) -> VectorBackend:
    from ai.rag.stores.memory import MemoryVectorBackend

    return MemoryVectorBackend(config)


def _pgvector(config: VectorStoreConfig) -> VectorBackend:
    from ai.rag.stores.pgvector import PgVectorBackend

    return PgVectorBackend(config)


def _pinecone(config: VectorStoreConfig) -> VectorBackend:
    from ai.rag.stores.pinecone import PineconeBackend

    return PineconeBackend(config)


BACKENDS: Mapping[VectorStoreType, BackendFactory] = {
    VectorStoreType.MEMORY: _memory,
    VectorStoreType.PGVECTOR: _pgvector,
    VectorStoreType.PINECONE: _pinecone,
}

RecordLike = VectorRecord | Mapping[str, Any]


class VectorStore(AsyncClosing):
    """Upsert, query, fetch, delete and count, the same way on every backend.

    Filters use Pinecone's language (`{"year": {"$gte": 2020}, "lang": {"$in": ["en"]}}`)
    everywhere; an invalid one raises `FilterError` naming the bad part.
    """

    def __init__(
        self, config: VectorStoreConfig | None = None, *, backend: VectorBackend | None = None
    ) -> None:
        self.config = config or VectorStoreConfig()
        self._backend = backend or BACKENDS[self.config.store_type](self.config)
        # A backend that loaded stored vectors (memory with persist_path) knows the dimension.
        self.dimension = self.config.dimension or getattr(self._backend, "dimension", None)

    @property
    def backend(self) -> VectorBackend:
        return self._backend

    async def aclose(self) -> None:
        """Release the backend's connections."""
        await self._backend.aclose()

    async def upsert(self, records: Iterable[RecordLike], namespace: str | None = None) -> int:
        """Insert or replace records (`VectorRecord`s or dicts with id, values, metadata,
        text); idempotent by id. Returns how many were written."""
        prepared = self._prepare(records)
        if prepared:
            await self._backend.upsert(prepared, self._namespace(namespace))
        return len(prepared)

    async def query(
        self,
        vector: Sequence[float] | Vector,
        top_k: int = 10,
        filter: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        include_values: bool = False,
        include_metadata: bool = True,
    ) -> list[Match]:
        """The `top_k` closest records passing `filter`, best first."""
        if top_k < 1:
            raise ConfigurationError(f"top_k must be >= 1, got {top_k}.")
        parsed = parse_filter(filter)
        query = self._vector(vector, "the query vector")
        matches = await self._backend.query(
            query, top_k, self._namespace(namespace), parsed, include_values
        )
        if include_metadata:
            return matches
        return [Match(m.id, m.score, {}, m.text, m.values) for m in matches]

    async def fetch(
        self, ids: Sequence[str], namespace: str | None = None
    ) -> dict[str, VectorRecord]:
        """Records by id; missing ids are absent from the result."""
        found = await self._backend.fetch(list(ids), self._namespace(namespace))
        return {record.id: record for record in found}

    async def delete(self, ids: Sequence[str], namespace: str | None = None) -> None:
        """Remove records by id (missing ids are ignored)."""
        if ids:
            await self._backend.delete(list(ids), self._namespace(namespace))

    async def delete_by_filter(
        self, filter: Mapping[str, Any], namespace: str | None = None
    ) -> None:
        """Remove every record passing `filter`; an empty filter is refused."""
        parsed = parse_filter(filter)
        if parsed is None:
            raise ConfigurationError("delete_by_filter needs a non-empty filter; use delete(ids).")
        await self._backend.delete_by_filter(parsed, self._namespace(namespace))

    async def count(
        self, namespace: str | None = None, filter: Mapping[str, Any] | None = None
    ) -> int:
        """How many records (passing `filter`) the namespace holds."""
        return await self._backend.count(self._namespace(namespace), parse_filter(filter))

    async def stats(self) -> StoreStats:
        """Counts per namespace, dimension and metric."""
        return await self._backend.stats()

    def _namespace(self, namespace: str | None) -> str:
        return self.config.namespace if namespace is None else namespace

    def _prepare(self, records: Iterable[RecordLike]) -> list[VectorRecord]:
        latest: dict[str, VectorRecord] = {}
        for index, raw in enumerate(records):
            record = raw if isinstance(raw, VectorRecord) else _record_from_mapping(raw, index)
            if not isinstance(record.id, str) or not record.id:
                raise ConfigurationError(f"record {index} needs a non-empty string id.")
            values = self._vector(record.values, f"record {record.id!r}")
            latest[record.id] = VectorRecord(record.id, values, dict(record.metadata), record.text)
        return list(latest.values())

    def _vector(self, values: Sequence[float] | Vector, what: str) -> Vector:
        vector = np.asarray(values, dtype=np.float32)
        if vector.ndim != 1 or vector.size == 0:
            raise ConfigurationError(f"{what} must be a flat, non-empty list of numbers.")
        if not np.all(np.isfinite(vector)):
            raise ConfigurationError(f"{what} contains NaN or infinity.")
        if self.dimension is None:
            self.dimension = int(vector.size)
        elif vector.size != self.dimension:
            raise ConfigurationError(
                f"{what} has dimension {vector.size}, but the store holds "
                f"{self.dimension}-d vectors."
            )
        if self.config.metric is DistanceMetric.COSINE:
            norm = float(np.linalg.norm(vector))
            if norm == 0:
                raise ConfigurationError(f"{what} is all zeros; cosine similarity is undefined.")
            vector = vector / norm
        return vector


def _record_from_mapping(raw: Mapping[str, Any], index: int) -> VectorRecord:
    try:
        return VectorRecord(
            id=str(raw["id"]),
            values=raw["values"],
            metadata=dict(raw.get("metadata") or {}),
            text=raw.get("text"),
        )
    except KeyError as exc:
        raise ConfigurationError(f"record {index} is missing {exc.args[0]!r}.") from exc


__all__ = [
    "BACKENDS",
    "DistanceMetric",
    "Match",
    "StoreError",
    "StoreStats",
    "VectorRecord",
    "VectorStore",
    "VectorStoreConfig",
    "VectorStoreType",
]
