"""The fake Pinecone's storage: indexes of namespaces of vectors, searched exactly with numpy.

Everything here enforces what Pinecone's data plane enforces, so a client that works
against the fake does not meet a 400 in production:

* ids: 1-512 ASCII characters; at most 1,000 vectors per upsert, 1,000 ids per fetch or
  delete; `topK` 1-10,000.
* values: finite numbers, exactly the index dimension (400 "Vector dimension 3 does not
  match the dimension of the index 4", as Pinecone words it).
* metadata: a JSON object of strings, numbers (stored as 64-bit floats, so `2019` comes
  back as `2019.0`), booleans and lists of strings; no nulls, no nested objects, at most
  40 KB per vector (40,960 bytes of its compact JSON in UTF-8, as sent).
* filters: validated by `ai.rag.filters.parse_filter` and evaluated with
  `ai.rag.filters.matches`, the reference semantics every devora backend shares.

Scores are Pinecone's: cosine similarity, dot product, and for `euclidean` the *squared*
Euclidean distance, where lower is closer. The default namespace is `""` in requests and
`"__default__"` in listings and stats.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from ai.errors import FilterError
from ai.rag.filters import Filter, matches, parse_filter

MAX_UPSERT_VECTORS = 1_000
MAX_UPSERT_BYTES = 2 * 1024 * 1024
MAX_IDS_PER_REQUEST = 1_000
MAX_TOP_K = 10_000
MAX_FETCH_BY_METADATA_LIMIT = 10_000
MAX_ID_LENGTH = 512
MAX_METADATA_BYTES = 40 * 1024
MAX_DIMENSION = 20_000
DEFAULT_NAMESPACE = "__default__"


class Metric(StrEnum):
    """Pinecone's metric names (note `dotproduct`, not `dot`)."""

    COSINE = "cosine"
    DOTPRODUCT = "dotproduct"
    EUCLIDEAN = "euclidean"


class GrpcCode(IntEnum):
    """The gRPC status codes Pinecone's data plane puts in an error's `code`."""

    INVALID_ARGUMENT = 3
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    RESOURCE_EXHAUSTED = 8
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


@dataclass(frozen=True, slots=True)
class PineconeApiError(Exception):
    """An error answer: HTTP status and message (rendered per API family by the app)."""

    status: int
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


def bad_request(message: str) -> PineconeApiError:
    """Pinecone's 400 INVALID_ARGUMENT."""
    return PineconeApiError(400, message)


def namespace_key(namespace: object) -> str:
    """The stored name of a namespace: `""` and `"__default__"` are the same one."""
    if namespace is None:
        return ""
    if not isinstance(namespace, str):
        raise bad_request("namespace must be a string")
    return "" if namespace == DEFAULT_NAMESPACE else namespace


def listed_name(namespace: str) -> str:
    """How listings and stats spell a namespace."""
    return namespace or DEFAULT_NAMESPACE


@dataclass(slots=True)
class StoredVector:
    """One record as Pinecone keeps it."""

    id: str
    values: npt.NDArray[np.float32]
    metadata: dict[str, Any] | None

    def describe(self) -> dict[str, Any]:
        """The JSON `Vector` object of fetch answers."""
        body: dict[str, Any] = {"id": self.id, "values": self.values.tolist()}
        if self.metadata:
            body["metadata"] = self.metadata
        return body


def parse_filter_field(raw: object) -> Filter | None:
    """A request's `filter`, parsed; a 400 naming the bad part when it is invalid."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise bad_request("filter must be a JSON object")
    try:
        return parse_filter(raw)
    except FilterError as error:
        raise bad_request(f"Invalid filter: {error}") from None


def check_id(value: object, what: str = "id") -> str:
    """A vector id as Pinecone accepts it."""
    if not isinstance(value, str) or not value:
        raise bad_request(f"{what} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise bad_request(f"{what} exceeds the maximum length of {MAX_ID_LENGTH} characters")
    if not value.isascii() or "\x00" in value:
        raise bad_request(f"{what} must contain only ASCII characters and no NUL: {value!r}")
    return value


def check_ids(raw: object, what: str = "ids") -> list[str]:
    """A non-empty list of at most 1,000 valid ids."""
    if not isinstance(raw, list) or not raw:
        raise bad_request(f"{what} must be a non-empty list of strings")
    if len(raw) > MAX_IDS_PER_REQUEST:
        raise bad_request(f"{what} has {len(raw)} entries; the maximum is {MAX_IDS_PER_REQUEST}")
    return [check_id(value, what) for value in raw]


def check_metadata(raw: object, vector_id: str) -> dict[str, Any] | None:
    """Metadata as Pinecone stores it (numbers become floats), or a 400."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise bad_request(f"metadata of vector {vector_id!r} must be a JSON object")
    stored: dict[str, Any] = {}
    for key, value in raw.items():
        stored[key] = _metadata_value(key, value, vector_id)
    # Pinecone's 40 KB is the metadata's JSON in UTF-8 (as sent): "日" is 3 bytes, not the
    # 6 of "\u65e5", and 2019 is not counted as 2019.0.
    size = len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise bad_request(
            f"Metadata size is {size} bytes, which exceeds the limit of "
            f"{MAX_METADATA_BYTES} bytes per vector (id {vector_id!r})"
        )
    return stored or None


def _metadata_value(key: str, value: object, vector_id: str) -> object:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float64
            number = math.inf
        if not math.isfinite(number):
            raise bad_request(f"metadata field {key!r} of vector {vector_id!r} is not finite")
        return number
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    kind = "null" if value is None else type(value).__name__
    raise bad_request(
        f"Metadata value for field {key!r} of vector {vector_id!r} must be a string, number, "
        f"boolean or list of strings, got {kind}"
    )


def check_values(raw: object, dimension: int, what: str = "Vector") -> npt.NDArray[np.float32]:
    """Dense values of the index dimension, or Pinecone's dimension-mismatch 400."""
    if not isinstance(raw, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in raw
    ):
        raise bad_request(f"{what} values must be a list of numbers")
    if len(raw) != dimension:
        raise bad_request(
            f"{what} dimension {len(raw)} does not match the dimension of the index {dimension}"
        )
    values = np.asarray(raw, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise bad_request(f"{what} values must be finite numbers")
    return values


class FakeIndex:
    """One dense index: its settings and namespaces. Thread-safe."""

    def __init__(self, name: str, dimension: int, metric: Metric) -> None:
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self._lock = threading.Lock()
        self._namespaces: dict[str, dict[str, StoredVector]] = {}

    # -- writes ----------------------------------------------------------------------------

    def upsert(self, namespace: str, vectors: Sequence[StoredVector]) -> int:
        """Insert or replace by id; creates the namespace."""
        with self._lock:
            stored = self._namespaces.setdefault(namespace, {})
            for vector in vectors:
                stored[vector.id] = vector
        return len(vectors)

    def delete_ids(self, namespace: str, ids: Iterable[str]) -> None:
        """Remove ids; the namespace must exist (Pinecone answers 404 otherwise)."""
        with self._lock:
            stored = self._existing(namespace)
            for vector_id in ids:
                stored.pop(vector_id, None)
            self._drop_if_empty(namespace)

    def delete_matching(self, namespace: str, filter: Filter | None) -> int:
        """Remove every vector passing `filter` (all of them for None); returns how many."""
        with self._lock:
            stored = self._existing(namespace)
            doomed = [v.id for v in stored.values() if matches(filter, v.metadata or {})]
            for vector_id in doomed:
                del stored[vector_id]
            self._drop_if_empty(namespace)
        return len(doomed)

    def delete_namespace(self, namespace: str) -> None:
        """Drop a namespace and its vectors (404 if absent)."""
        with self._lock:
            self._existing(namespace)
            del self._namespaces[namespace]

    def clear(self) -> None:
        """Forget every vector."""
        with self._lock:
            self._namespaces.clear()

    # -- reads -----------------------------------------------------------------------------

    def fetch(self, namespace: str, ids: Iterable[str]) -> list[StoredVector]:
        """The stored vectors among `ids`, in request order."""
        with self._lock:
            stored = self._namespaces.get(namespace, {})
            return [stored[i] for i in dict.fromkeys(ids) if i in stored]

    def matching(self, namespace: str, filter: Filter | None) -> list[StoredVector]:
        """Every vector passing `filter`, sorted by id (a stable order for pagination)."""
        with self._lock:
            stored = list(self._namespaces.get(namespace, {}).values())
        return sorted((v for v in stored if matches(filter, v.metadata or {})), key=lambda v: v.id)

    def query(
        self, namespace: str, vector: npt.NDArray[np.float32], top_k: int, filter: Filter | None
    ) -> list[tuple[StoredVector, float]]:
        """The `top_k` closest vectors passing `filter`, closest first, with their scores."""
        with self._lock:
            candidates = list(self._namespaces.get(namespace, {}).values())
        candidates = [v for v in candidates if matches(filter, v.metadata or {})]
        if not candidates:
            return []
        matrix = np.stack([v.values for v in candidates]).astype(np.float64)
        scores = _scores(self.metric, matrix, vector.astype(np.float64))
        ids = np.array([v.id for v in candidates])
        # Closest first; ties broken by id so answers are deterministic.
        order = np.lexsort((ids, scores if self.metric is Metric.EUCLIDEAN else -scores))
        return [(candidates[i], float(scores[i])) for i in order[:top_k]]

    def counts(self) -> dict[str, int]:
        """Vectors per namespace (stored names)."""
        with self._lock:
            return {name: len(stored) for name, stored in self._namespaces.items()}

    def has_namespace(self, namespace: str) -> bool:
        """Whether the namespace exists (holds at least one vector)."""
        with self._lock:
            return namespace in self._namespaces

    def _existing(self, namespace: str) -> dict[str, StoredVector]:
        stored = self._namespaces.get(namespace)
        if stored is None:
            raise PineconeApiError(404, "Namespace not found")
        return stored

    def _drop_if_empty(self, namespace: str) -> None:
        if not self._namespaces.get(namespace):
            self._namespaces.pop(namespace, None)


def _scores(
    metric: Metric, matrix: npt.NDArray[np.float64], query: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    if metric is Metric.DOTPRODUCT:
        return np.asarray(matrix @ query, dtype=np.float64)
    if metric is Metric.EUCLIDEAN:
        diff = matrix - query
        return np.asarray(np.einsum("ij,ij->i", diff, diff), dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
    dots = matrix @ query
    cosine = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return np.asarray(cosine, dtype=np.float64)


class IndexRegistry:
    """The project's indexes by name, with the one the fake was started with."""

    def __init__(self, default: FakeIndex) -> None:
        self._lock = threading.Lock()
        self.default = default
        self._indexes: dict[str, FakeIndex] = {default.name: default}

    def get(self, name: str) -> FakeIndex | None:
        """The index called `name`, if it exists."""
        with self._lock:
            return self._indexes.get(name)

    def all(self) -> list[FakeIndex]:
        """Every index, by name."""
        with self._lock:
            return [self._indexes[name] for name in sorted(self._indexes)]

    def create(self, name: str, dimension: int, metric: Metric) -> FakeIndex:
        """A new empty index; 409 if the name is taken."""
        with self._lock:
            if name in self._indexes:
                raise PineconeApiError(409, f"Resource {name} already exists")
            index = FakeIndex(name, dimension, metric)
            self._indexes[name] = index
            return index

    def delete(self, name: str) -> None:
        """Remove an index; 404 if there is none by that name."""
        with self._lock:
            if self._indexes.pop(name, None) is None:
                raise PineconeApiError(404, f"Resource {name} not found")

    def reset(self) -> None:
        """Back to the starting state: only the default index, empty."""
        with self._lock:
            self.default.clear()
            self._indexes = {self.default.name: self.default}
