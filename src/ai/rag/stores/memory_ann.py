"""HNSW index (usearch) over the rows of one in-memory namespace.

usearch is optional (`pip install 'devora-ai[ann]'`) and imported only when an index is
built. The index is usearch's compiled class (`usearch.compiled.Index`), called directly:
the pure-Python `usearch.index.Index` wrapper around it cost more per query than the graph
walk itself on small namespaces (checks, result objects, and a thread pool even for one
query). A single query searches on the calling thread.

The graph holds a quantized copy of the vectors; the store re-scores the candidates the
walk returns from its float32 matrix, so the reported scores stay exact and the
quantization only decides which candidates are found, not their order:

- cosine (unit vectors): int8, usearch's cosine-style quantization (each vector scaled
  to 127 at unit length), whose distances cost a quarter of float32's memory traffic.
  On 4,000 DBPedia embeddings (384-d) re-scoring the candidates of an int8 graph recalls
  what a float32 graph does at the same `ef` (benchmarks.md);
- dot product and Euclidean: float32. int8 would lose the norms (usearch normalises every
  vector it quantizes to int8), which both metrics need; bfloat16 lost recall on the
  dot-product transform below (its extra coordinate is large next to the differences that
  rank neighbours), and float16 overflows past 65,504.

Cosine vectors arrive unit-length, so inner product ranks them; Euclidean uses squared
L2. Dot product is not a metric and HNSW graphs built on it recall poorly, so for it each
vector x is indexed as [x, sqrt(M^2 - |x|^2)] and the query as [q, 0]: their squared L2
distance is M^2 + |q|^2 - 2<x, q>, which orders rows exactly as the dot product does. M is
the largest norm seen, with headroom; a longer vector makes the index ask for a rebuild.

Keys are labels handed out once per stored vector, never row numbers: rows move on
swap-remove, labels do not, so a delete costs one `remove` and no re-insertion. An
overwritten or deleted vector leaves a tombstone in the graph; when tombstones outnumber
live vectors the owner rebuilds the index from the matrix (`needs_rebuild`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ai.rag.types import DistanceMetric

if TYPE_CHECKING:
    from ai.rag.vector_store_config import VectorStoreConfig

IntArray = npt.NDArray[np.intp]

#: usearch metric and stored scalar type per store metric (see the module docstring).
_USEARCH_KIND = {
    DistanceMetric.COSINE: ("IP", "I8"),
    DistanceMetric.DOT: ("L2sq", "F32"),
    DistanceMetric.EUCLIDEAN: ("L2sq", "F32"),
}
#: M = this many times the largest norm at build time, so slightly longer vectors fit.
_NORM_HEADROOM = 1.25


def _usearch() -> tuple[Any, Any, Any]:
    """usearch's compiled index class, metric kinds and scalar kinds."""
    try:
        import usearch.index  # noqa: F401 - the package as users install it, wrapper included
        from usearch.compiled import Index, MetricKind, ScalarKind
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The in-memory store's HNSW index needs usearch: pip install 'devora-ai[ann]' "
            "(or set VectorStoreConfig(ann_threshold=None) for exact search only)."
        ) from exc
    return Index, MetricKind, ScalarKind


class AnnIndex:
    """Approximate nearest rows of a matrix; the owner reports every row change."""

    def __init__(
        self,
        dimension: int,
        metric: DistanceMetric,
        config: VectorStoreConfig,
        vectors: npt.NDArray[np.float32],
    ) -> None:
        """Index `vectors` as rows 0..len-1 (one multi-threaded batch insert)."""
        index_type, metric_kinds, scalar_kinds = _usearch()
        hnsw = config.resolved_hnsw()
        self._augment = metric is DistanceMetric.DOT
        self._max_norm = 0.0
        if self._augment and vectors.shape[0]:
            self._max_norm = _NORM_HEADROOM * float(np.sqrt(_squared_norms(vectors).max()))
        metric_name, scalar_name = _USEARCH_KIND[metric]
        #: The stored scalar type ("I8" or "F32"), for tests and diagnostics.
        self.scalar = scalar_name
        self._index = index_type(
            ndim=dimension + 1 if self._augment else dimension,
            dtype=getattr(scalar_kinds, scalar_name),
            connectivity=hnsw.m,
            expansion_add=hnsw.ef_construction,
            expansion_search=hnsw.ef_search,
            metric_kind=getattr(metric_kinds, metric_name),
            multi=False,
        )
        self._next_label = 0
        self._size = 0
        self._labels = np.zeros(0, dtype=np.uint64)  # row -> label
        self._rows = np.zeros(0, dtype=np.intp)  # label -> row, -1 once gone
        self._tombstones = 0
        self._too_long = False
        #: Labels equal rows while rows were only ever appended (no replace, no removal):
        #: a search's keys are then its rows, with no lookup.
        self._in_order = True
        self.append(vectors)

    def __len__(self) -> int:
        return self._size

    @property
    def needs_rebuild(self) -> bool:
        """Tombstones outnumber live vectors (search quality and memory suffer), or a
        vector is longer than the dot-product transform allows."""
        return self._too_long or self._tombstones > max(self._size, 1024)

    def append(self, vectors: npt.NDArray[np.float32]) -> None:
        """Index new rows at the end (rows len(self) .. len(self)+len(vectors)-1)."""
        count = vectors.shape[0]
        if count == 0:
            return
        labels = self._new_labels(count)
        self._add(labels, vectors)
        self._labels = _fit(self._labels, self._size + count, 0)
        self._labels[self._size : self._size + count] = labels
        self._rows[labels] = np.arange(self._size, self._size + count)
        self._size += count

    def replace(self, rows: IntArray, vectors: npt.NDArray[np.float32]) -> None:
        """New vectors for existing rows: fresh labels, old ones removed."""
        if rows.size == 0:
            return
        self._in_order = False
        old = self._labels[rows]
        self._index.remove_many(old, False, 0)
        self._tombstones += rows.size
        self._rows[old] = -1
        labels = self._new_labels(rows.size)
        self._add(labels, vectors)
        self._labels[rows] = labels
        self._rows[labels] = rows

    def swap_remove(self, row: int) -> None:
        """Mirror the matrix: drop `row`, the last row moves into its place."""
        self._in_order = False
        label = int(self._labels[row])
        self._index.remove_one(label, False, 1)
        self._tombstones += 1
        self._rows[label] = -1
        last = self._size - 1
        if row != last:
            moved = self._labels[last]
            self._labels[row] = moved
            self._rows[moved] = row
        self._size -= 1

    def nearest(self, vector: npt.NDArray[np.float32], top_k: int) -> None:
        """None: the graph finds candidates, which the store re-scores from its matrix."""
        del vector, top_k

    def search(self, vector: npt.NDArray[np.float32], count: int) -> IntArray:
        """Rows of (about) the `count` nearest vectors, nearest first, found on this thread."""
        found = self._index.search_many(self._query(vector[None, :]), count, False, 1)
        return self._rows_of(found[0][0, : found[2][0]])  # keys, distances, counts, ...

    def search_batch(self, vectors: npt.NDArray[np.float32], count: int) -> list[IntArray]:
        """`search` for many queries at once (usearch spreads them over threads)."""
        keys, _, counts = self._index.search_many(self._query(vectors), count, False, 0)[:3]
        return [self._rows_of(keys[i, : counts[i]]) for i in range(vectors.shape[0])]

    def _rows_of(self, keys: npt.NDArray[np.uint64]) -> IntArray:
        if self._in_order:
            return keys.view(np.intp)
        rows: IntArray = self._rows[keys.view(np.intp)]
        if self._tombstones:  # usearch skips removed keys; this guards against a stale one
            rows = rows[rows >= 0]
        return rows

    def _add(self, labels: npt.NDArray[np.uint64], vectors: npt.NDArray[np.float32]) -> None:
        self._index.add_many(labels, np.ascontiguousarray(self._indexed(vectors)), threads=0)

    def _new_labels(self, count: int) -> npt.NDArray[np.uint64]:
        start = self._next_label
        self._next_label += count
        self._rows = _fit(self._rows, self._next_label, -1)
        return np.arange(start, start + count, dtype=np.uint64)

    def _indexed(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if not self._augment:
            return vectors
        squared = _squared_norms(vectors)
        if vectors.shape[0] and float(squared.max()) > self._max_norm**2:
            self._too_long = True
        extra = np.sqrt(np.maximum(self._max_norm**2 - squared, 0)).astype(np.float32)
        return np.concatenate([vectors, extra[..., None]], axis=-1)

    def _query(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if not self._augment:
            return vectors
        zeros = np.zeros((*vectors.shape[:-1], 1), dtype=np.float32)
        return np.concatenate([vectors, zeros], axis=-1)


def _squared_norms(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    result: npt.NDArray[np.float32] = np.einsum("...i,...i->...", vectors, vectors)
    return result


def _fit(array: npt.NDArray[Any], size: int, fill: int) -> npt.NDArray[Any]:
    """`array`, or a copy grown (at least doubling) to hold `size` entries."""
    if size <= array.shape[0]:
        return array
    grown = np.full(max(size, 2 * array.shape[0]), fill, dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown
