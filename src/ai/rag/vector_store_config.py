"""`VectorStoreConfig`: the settings of every vector backend, and the backends' registry.

Each backend declares, next to its factory in `BACKENDS`, the fields it reads beyond the
ones the front itself uses (`COMMON_FIELDS`); a field that the chosen backend does not
read is a `ConfigurationError` when the config is built, never silently ignored. Backend
fields therefore default to "not given" (None, or `NOT_GIVEN` where None has a meaning of
its own), and the backends read the effective values through `resolved_*()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from typing import Final, TypeVar

from ai.errors import ConfigurationError
from ai.rag.backend import VectorBackend
from ai.rag.filters import DEFAULT_FILTER_LIMITS, FilterLimits
from ai.rag.filters_limits import preview
from ai.rag.types import DistanceMetric


class VectorStoreType(StrEnum):
    """Where vectors live."""

    MEMORY = "memory"
    PGVECTOR = "pgvector"
    PINECONE = "pinecone"


class _NotGiven(Enum):
    """Marker for a field left out, where None is itself a meaningful value."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return self.value


_E = TypeVar("_E", bound=StrEnum)

#: The default of `ann_threshold`: "not given" (None there means "exact search only").
NOT_GIVEN: Final = _NotGiven.NOT_GIVEN

#: The effective `index_name` (pgvector table, Pinecone index) when none is given.
DEFAULT_INDEX_NAME = "devora-embeddings"
#: The in-memory store's HNSW index starts above this many vectors unless told otherwise.
DEFAULT_ANN_THRESHOLD = 50_000

#: The engines of the memory store's approximate index (`stores.memory_index`): ScaNN
#: (a quantized scan with exact re-scoring; Linux) and usearch (an HNSW graph; anywhere).
ANN_ENGINES: Final = ("scann", "usearch")

#: Fields the front reads for every backend: they are never "unused".
COMMON_FIELDS: Final = frozenset(
    {"store_type", "dimension", "metric", "namespace", "filter_limits"}
)


@dataclass(frozen=True, slots=True)
class HnswSettings:
    """HNSW graph parameters (memory's usearch index, pgvector's index): the graph degree
    `m`, the beam while building (`ef_construction`) and while searching (`ef_search`)."""

    m: int = 16
    ef_construction: int = 64
    ef_search: int = 100


@dataclass
class VectorStoreConfig:
    """Settings for every backend; each backend accepts only the fields it reads.

    `store_type`, `dimension`, `metric`, `namespace` (the default namespace of calls
    that name none) and `filter_limits` (how big a filter may be; None:
    `DEFAULT_FILTER_LIMITS`) apply to every backend. The others belong to the backends that
    declare them in `BACKENDS` (see `backend_types`); giving one to a backend that does not
    read it raises `ConfigurationError`. Left out, they take their documented defaults:
    `index_name` "devora-embeddings", `ann_threshold` 50,000 (None: exact search only),
    `hnsw_m` 16, `hnsw_ef_construction` 64, `hnsw_ef_search` 100, `ann_engine` (memory's
    approximate index, one of `ANN_ENGINES`) ScaNN up to 20,000 rows where it imports,
    else usearch.

    `dimension` None means "take it from the first vectors stored". The connection
    string falls back to `POSTGRES_CONNECTION_STRING`, the Pinecone key to
    `PINECONE_API_KEY` and its index host to `PINECONE_INDEX_HOST`.
    """

    store_type: VectorStoreType = VectorStoreType.MEMORY
    dimension: int | None = None
    connection_string: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    index_name: str | None = None
    namespace: str = ""
    metric: DistanceMetric = DistanceMetric.COSINE
    index_host: str | None = None
    ann_threshold: int | _NotGiven | None = NOT_GIVEN
    hnsw_m: int | None = None
    hnsw_ef_construction: int | None = None
    hnsw_ef_search: int | None = None
    ann_engine: str | None = None
    persist_path: str | None = None
    filter_limits: FilterLimits | None = None

    def __post_init__(self) -> None:
        self.store_type = _member(VectorStoreType, self.store_type, "store_type")
        self.metric = _member(DistanceMetric, self.metric, "metric")
        if self.filter_limits is not None and not isinstance(self.filter_limits, FilterLimits):
            raise ConfigurationError(
                "VectorStoreConfig.filter_limits must be an ai.rag.filters.FilterLimits, "
                f"got {preview(self.filter_limits)}."
            )
        self.reject_unused()
        if self.dimension is not None and self.dimension < 1:
            raise ConfigurationError(
                f"VectorStoreConfig.dimension must be >= 1, got {self.dimension}."
            )
        if self.index_name is not None and not self.index_name:
            raise ConfigurationError("VectorStoreConfig.index_name is empty.")
        if self.ann_engine is not None and self.ann_engine not in ANN_ENGINES:
            raise ConfigurationError(
                f"VectorStoreConfig.ann_engine must be one of {', '.join(ANN_ENGINES)} "
                f"(or None for the default), got {preview(self.ann_engine)}."
            )
        hnsw = self.resolved_hnsw()
        if hnsw.m < 2 or hnsw.ef_construction < 1 or hnsw.ef_search < 1:
            raise ConfigurationError("HNSW settings must be positive (hnsw_m >= 2).")

    def given_fields(self) -> list[str]:
        """The backend-specific fields set to something other than "not given"."""
        return [
            f.name
            for f in fields(self)
            if f.name not in COMMON_FIELDS and getattr(self, f.name) is not f.default
        ]

    def reject_unused(self) -> None:
        """Raise `ConfigurationError` naming every given field the backend does not read."""
        used = BACKENDS[self.store_type].fields
        given = self.given_fields()
        unused = [name for name in given if name not in used]
        if unused:
            raise ConfigurationError(_unused_message(self.store_type, unused, given))

    def resolved_filter_limits(self) -> FilterLimits:
        """The limits filters are held to: `filter_limits`, else `DEFAULT_FILTER_LIMITS`."""
        return DEFAULT_FILTER_LIMITS if self.filter_limits is None else self.filter_limits

    def resolved_index_name(self) -> str:
        """The pgvector table or Pinecone index: `index_name`, else "devora-embeddings"."""
        return DEFAULT_INDEX_NAME if self.index_name is None else self.index_name

    def resolved_ann_threshold(self) -> int | None:
        """Vectors per namespace above which memory builds an HNSW index (None: never)."""
        if self.ann_threshold is NOT_GIVEN:
            return DEFAULT_ANN_THRESHOLD
        return self.ann_threshold

    def resolved_hnsw(self) -> HnswSettings:
        """The HNSW parameters given, with the defaults for those left out."""
        default = HnswSettings()
        return HnswSettings(
            m=default.m if self.hnsw_m is None else self.hnsw_m,
            ef_construction=(
                default.ef_construction
                if self.hnsw_ef_construction is None
                else self.hnsw_ef_construction
            ),
            ef_search=default.ef_search if self.hnsw_ef_search is None else self.hnsw_ef_search,
        )

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


def _member(enum: type[_E], value: object, name: str) -> _E:
    """`enum(value)`, or a `ConfigurationError` listing the choices."""
    try:
        if not isinstance(value, str):  # Enum's own message would repr any value
            raise ValueError(value)
        return enum(value)
    except ValueError:
        known = ", ".join(repr(member.value) for member in enum)
        raise ConfigurationError(
            f"VectorStoreConfig.{name} {preview(value)} is not one of {known}."
        ) from None


def _unused_message(
    store_type: VectorStoreType, unused: Sequence[str], given: Sequence[str]
) -> str:
    """Names the unused fields, the store type, and what to do: remove them, or switch to
    a backend that reads every field given (else say which backend reads each one)."""
    fit = [t for t in BACKENDS if all(t in backend_types(name) for name in given)]
    remedy = "remove it" if len(unused) == 1 else "remove them"
    if fit:
        described = ", ".join(unused)
        remedy += f", or set {_either(fit)}"
    else:
        described = ", ".join(f"{name} (read by {_either(backend_types(name))})" for name in unused)
    return f"VectorStoreConfig(store_type={store_type.value!r}) does not use {described}; {remedy}."


def _either(types: Sequence[VectorStoreType]) -> str:
    return "store_type=" + " or ".join(repr(t.value) for t in types)


def backend_types(field_name: str) -> list[VectorStoreType]:
    """The store types whose backend reads `field_name` (every one for a common field)."""
    return [t for t, spec in BACKENDS.items() if field_name in COMMON_FIELDS | spec.fields]


BackendFactory = Callable[[VectorStoreConfig], VectorBackend]


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """One registered backend: its factory, and the `VectorStoreConfig` fields it reads
    beyond `COMMON_FIELDS`. Calling the spec builds the backend."""

    factory: BackendFactory
    fields: frozenset[str]

    def __call__(self, config: VectorStoreConfig) -> VectorBackend:
        return self.factory(config)


_HNSW_FIELDS = frozenset({"hnsw_m", "hnsw_ef_construction", "hnsw_ef_search"})


def _memory(config: VectorStoreConfig) -> VectorBackend:
    from ai.rag.stores.memory import MemoryVectorBackend

    return MemoryVectorBackend(config)


MEMORY_BACKEND = BackendSpec(
    _memory, frozenset({"ann_threshold", "ann_engine", "persist_path"}) | _HNSW_FIELDS
)


def _pgvector(config: VectorStoreConfig) -> VectorBackend:
    from ai.rag.stores.pgvector import PgVectorBackend

    return PgVectorBackend(config)


PGVECTOR_BACKEND = BackendSpec(
    _pgvector, frozenset({"connection_string", "index_name"}) | _HNSW_FIELDS
)


def _pinecone(config: VectorStoreConfig) -> VectorBackend:
    from ai.rag.stores.pinecone import PineconeBackend

    return PineconeBackend(config)


PINECONE_BACKEND = BackendSpec(_pinecone, frozenset({"api_key", "index_name", "index_host"}))

#: One line per backend.
BACKENDS: Mapping[VectorStoreType, BackendSpec] = {
    VectorStoreType.MEMORY: MEMORY_BACKEND,
    VectorStoreType.PGVECTOR: PGVECTOR_BACKEND,
    VectorStoreType.PINECONE: PINECONE_BACKEND,
}


__all__ = [
    "BACKENDS",
    "COMMON_FIELDS",
    "DEFAULT_ANN_THRESHOLD",
    "DEFAULT_INDEX_NAME",
    "NOT_GIVEN",
    "BackendFactory",
    "BackendSpec",
    "HnswSettings",
    "VectorStoreConfig",
    "VectorStoreType",
    "backend_types",
]
