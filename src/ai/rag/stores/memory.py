"""In-memory vector store: one dense float32 matrix per namespace, exact search.

A search is one matrix-vector product over the namespace's rows, a filter mask from
`MetadataColumns` (failing rows get -inf; under a sixteenth passing, only those rows are
gathered and scored), a top-k selection (`memory_topk`: threshold on block maxima, then a
sort of the few candidates) and exact scores for the k winners. `query_batch` scores
blocks of queries with one matrix-matrix product. The rows of a namespace, and the layout
of its matrix, are `memory_namespace.Namespace`'s.

Above `config.ann_threshold` vectors a namespace also keeps an approximate index
(`memory_index`: ScaNN where it imports, else a usearch HNSW graph), built in one batch
when an upsert crosses the threshold (or at the first query after loading a file),
updated in place afterwards, dropped below half the threshold, rebuilt when the engine
says it is stale. Unfiltered queries take exact scores for the best of `hnsw_ef_search`
candidates (ScaNN re-scores them itself; the graph's candidates are re-scored here).
Filtered queries over-fetch in proportion to the filter's selectivity and keep the rows
that pass; when the filter is selective (the over-fetch would exceed a fifth of the
rows) or too few candidates pass, the query runs exactly over the passing rows instead,
which is then cheap. Scores are always exact.

Searches run on the event loop's thread, synchronously: a query never sees a half-done
write; for 100k x 384 vectors an exact query takes a few to a few tens of milliseconds
(memory bandwidth), an HNSW query well under one. With `persist_path` the store loads that
file on construction and writes it on `save()` and on `aclose()` when anything changed
(see `memory_file` for the format).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ai.errors import ConfigurationError
from ai.rag.filters import Filter
from ai.rag.stores.memory_file import (
    NamespaceData,
    StoreData,
    encode_manifest,
    read_store,
    write_store,
)
from ai.rag.stores.memory_index import build_row_index
from ai.rag.stores.memory_namespace import Namespace
from ai.rag.stores.memory_topk import select_top, select_top_rows
from ai.rag.types import (
    DistanceMetric,
    Match,
    StoreStats,
    Vector,
    VectorRecord,
    stored_match,
)
from ai.rag.vector_store_config import VectorStoreConfig

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]

#: Scores of this many (query x row) pairs are computed at once in `query_batch`.
_BATCH_CELLS = 8_000_000


class MemoryVectorBackend:
    """`VectorBackend` kept in process memory, optionally saved to one file."""

    def __init__(self, config: VectorStoreConfig) -> None:
        self.config = config
        self.metric = config.metric
        self.dimension = config.dimension
        self._ef_search = config.resolved_hnsw().ef_search
        self._euclidean = self.metric is DistanceMetric.EUCLIDEAN
        self._namespaces: dict[str, Namespace] = {}
        self._dirty = False
        if config.persist_path and Path(config.persist_path).exists():
            self._load(config.persist_path)

    # --- writes ---------------------------------------------------------------------------

    async def upsert(self, records: Sequence[VectorRecord], namespace: str) -> None:
        if not records:
            return
        for record in records:  # all checked before anything changes
            self._check_dimension(record.values)
        ns = self._namespaces.get(namespace)
        if ns is None:
            ns = self._namespaces[namespace] = Namespace(records[0].values.shape[0], self.metric)
        ns.upsert(records)
        self._dirty = True
        self._maintain_ann(ns)

    async def delete(self, ids: Sequence[str], namespace: str) -> None:
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        for record_id in ids:
            ns.remove(record_id)
        self._dirty = True
        self._after_delete(namespace, ns)

    async def delete_by_filter(self, filter: Filter, namespace: str) -> None:
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        doomed = [ns.ids[row] for row in np.flatnonzero(ns.metadata.mask(filter)).tolist()]
        await self.delete(doomed, namespace)

    # --- reads ----------------------------------------------------------------------------

    async def query(
        self,
        vector: Vector,
        top_k: int,
        namespace: str,
        filter: Filter | None,
        include_values: bool,
    ) -> list[Match]:
        ns = self._namespaces.get(namespace)
        if ns is None or ns.size == 0:
            return []
        query = self._query_vector(vector)
        if ns.unchecked:  # loaded from a file: the index is built at the first query
            self._maintain_ann(ns)
        if ns.ann is not None and filter is None:
            found = self._ann_top(ns, query, top_k)
            if found is not None:
                return self._scored_matches(ns, *found, include_values)
        mask = None if filter is None else ns.metadata.mask(filter)
        rows = None
        if mask is not None and ns.ann is not None:
            rows = self._ann_rows(ns, query, top_k, mask)
        if rows is None:
            rows = ns.exact(query, top_k, mask)
        return self._matches(ns, query, rows, include_values)

    async def query_batch(
        self,
        vectors: npt.NDArray[np.float32],
        top_k: int,
        namespace: str,
        filter: Filter | None = None,
        include_values: bool = False,
    ) -> list[list[Match]]:
        """`query` for many vectors (the rows of a matrix), best first for each.

        Exact search scores blocks of queries with one matrix-matrix product, as FAISS's
        flat index does; this is the fast path for bulk evaluation. Unlike `query` (whose
        input the `VectorStore` front prepares) it normalises the vectors itself for cosine.
        """
        queries = self._query_matrix(vectors)
        ns = self._namespaces.get(namespace)
        if ns is None or ns.size == 0:
            return [[] for _ in range(queries.shape[0])]
        if ns.unchecked:
            self._maintain_ann(ns)
        if filter is not None:
            return [await self.query(q, top_k, namespace, filter, include_values) for q in queries]
        if ns.ann is not None:
            found = ns.ann.search_batch(queries, max(top_k, self._ef_search))
            return [
                self._matches(ns, query, self._rerank(ns, query, rows, top_k), include_values)
                for query, rows in zip(queries, found, strict=True)
            ]
        results: list[list[Match]] = []
        n = ns.size
        k = min(top_k, n)
        block = max(1, _BATCH_CELLS // n)
        for start in range(0, queries.shape[0], block):
            chunk = queries[start : start + block]
            keys = chunk @ ns.matrix[:n].T
            if self.metric is DistanceMetric.EUCLIDEAN:
                keys *= 2
                keys -= ns.sq_norms[:n]
            for query, rows in zip(chunk, select_top_rows(keys, k), strict=True):
                results.append(self._matches(ns, query, rows, include_values))
        return results

    async def fetch(self, ids: Sequence[str], namespace: str) -> list[VectorRecord]:
        ns = self._namespaces.get(namespace)
        if ns is None:
            return []
        return [ns.record(ns.row_of[i]) for i in ids if i in ns.row_of]

    async def count(self, namespace: str, filter: Filter | None) -> int:
        ns = self._namespaces.get(namespace)
        if ns is None:
            return 0
        if filter is None:
            return ns.size
        return int(np.count_nonzero(ns.metadata.mask(filter)))

    async def stats(self) -> StoreStats:
        counts = {name: ns.size for name, ns in self._namespaces.items()}
        return StoreStats(dimension=self.dimension, metric=self.metric, namespaces=counts)

    # --- persistence ----------------------------------------------------------------------

    async def save(self) -> None:
        """Write the store to `config.persist_path` atomically (temporary file + rename).

        The snapshot is taken on the event loop; the file is written on a worker thread.
        """
        path = self.config.persist_path
        if not path:
            raise ConfigurationError("save() needs VectorStoreConfig(persist_path=...).")
        data = StoreData(
            dimension=self.dimension,
            metric=self.metric.value,
            namespaces=[
                NamespaceData(
                    name,
                    ns.ids,
                    ns.texts,
                    [ns.metadata.get(r) for r in range(ns.size)],
                    ns.matrix[: ns.size],
                )
                for name, ns in self._namespaces.items()
            ],
        )
        manifest = encode_manifest(data)
        vectors = [ns.vectors.copy() for ns in data.namespaces]
        await asyncio.to_thread(write_store, path, manifest, vectors)
        self._dirty = False

    async def aclose(self) -> None:
        """Save when persistence is configured and something changed since load/save."""
        if self.config.persist_path and self._dirty:
            await self.save()

    def _load(self, path: str) -> None:
        data = read_store(path)
        if data.metric != self.metric.value:
            raise ConfigurationError(
                f"{path} holds a {data.metric} store, but the config asks for {self.metric.value}; "
                "use the same metric or another persist_path."
            )
        if self.dimension is not None and data.dimension not in (None, self.dimension):
            raise ConfigurationError(
                f"{path} holds {data.dimension}-d vectors, but the config says "
                f"dimension={self.dimension}."
            )
        self.dimension = self.dimension or data.dimension
        for entry in data.namespaces:
            if not entry.ids:
                continue
            records = [
                VectorRecord(record_id, entry.vectors[row], entry.metadata[row], entry.texts[row])
                for row, record_id in enumerate(entry.ids)
            ]
            ns = self._namespaces[entry.name] = Namespace(entry.vectors.shape[1], self.metric)
            ns.upsert(records)

    # --- helpers --------------------------------------------------------------------------

    def _check_dimension(self, vector: FloatArray) -> None:
        size = int(vector.shape[0]) if vector.ndim == 1 else -1
        if self.dimension is None and size > 0:
            self.dimension = size
        elif size != self.dimension:
            raise ConfigurationError(
                f"vector has dimension {size}, but the store holds {self.dimension}-d vectors."
            )

    def _query_vector(self, vector: Vector) -> FloatArray:
        query = np.ascontiguousarray(vector, dtype=np.float32)
        if query.ndim != 1 or query.shape[0] != self.dimension:
            raise ConfigurationError(
                f"the query vector has dimension {query.shape[-1] if query.ndim else 0}, "
                f"but the store holds {self.dimension}-d vectors."
            )
        return query

    def _query_matrix(self, vectors: npt.NDArray[np.float32]) -> FloatArray:
        queries = np.array(vectors, dtype=np.float32, ndmin=2, copy=True)
        if queries.ndim != 2 or (self.dimension is not None and queries.shape[1] != self.dimension):
            raise ConfigurationError(
                f"query vectors must form a matrix with {self.dimension} columns, "
                f"got shape {queries.shape}."
            )
        if self.metric is DistanceMetric.COSINE:
            wide = queries.astype(np.float64)  # float32 norms overflow (3e38) or underflow
            norms = np.linalg.norm(wide, axis=1, keepdims=True)
            if np.any(norms == 0):
                raise ConfigurationError(
                    "a query vector is all zeros; cosine similarity is undefined."
                )
            queries = (wide / norms).astype(np.float32)
        return queries

    def _matches(
        self, ns: Namespace, query: FloatArray, rows: IntArray, include_values: bool
    ) -> list[Match]:
        return self._scored_matches(
            ns, rows.tolist(), ns.scores_of(query, rows).tolist(), include_values
        )

    @staticmethod
    def _scored_matches(
        ns: Namespace, rows: list[int], scores: list[float], include_values: bool
    ) -> list[Match]:
        """`Match` objects for `rows` with their `scores` (the hot end of every query)."""
        ids, texts, matrix = ns.ids, ns.texts, ns.matrix
        metadata = ns.metadata.get_many(rows)
        if include_values:
            return [
                stored_match(ids[row], score, meta, texts[row], matrix[row].copy())
                for row, score, meta in zip(rows, scores, metadata, strict=True)
            ]
        return [
            stored_match(ids[row], score, meta, texts[row], None)
            for row, score, meta in zip(rows, scores, metadata, strict=True)
        ]

    def _ann_top(
        self, ns: Namespace, query: FloatArray, top_k: int
    ) -> tuple[list[int], list[float]] | None:
        """Rows and exact scores of the best `top_k` of the HNSW walk's `hnsw_ef_search`
        candidates (the walk visits that many whatever the count asked for; re-scoring all
        of them from the float32 matrix lifts recall and makes scores exact), or None where
        exact search is the better answer (a graph cut off by deletions)."""
        assert ns.ann is not None
        scored = ns.ann.nearest(query, top_k)  # engines that re-score exactly themselves
        if scored is not None:
            return None if len(scored[0]) < min(top_k, ns.size) else scored
        candidates = ns.ann.search(query, top_k if top_k > self._ef_search else self._ef_search)
        found = candidates.shape[0]
        if found < top_k and found < ns.size:
            return None
        products: FloatArray = ns.matrix[candidates] @ query  # row-major while indexed
        if self._euclidean:
            keys = 2 * products - ns.sq_norms[candidates]
            rows = candidates[np.lexsort((candidates, -keys))[:top_k]]
            return rows.tolist(), ns.scores_of(query, rows).tolist()
        order = np.lexsort((candidates, -products))[:top_k]  # ties by row, as exact search
        return candidates[order].tolist(), products[order].tolist()

    def _ann_rows(
        self, ns: Namespace, query: FloatArray, top_k: int, mask: npt.NDArray[np.bool_]
    ) -> IntArray | None:
        """Rows passing a filter from the HNSW index, or None where exact search is the
        better answer."""
        assert ns.ann is not None
        n = ns.size
        passing = int(np.count_nonzero(mask))
        fetch = max(math.ceil(2 * top_k * n / max(passing, 1)), self._ef_search)
        if passing == 0 or fetch > n // 5:
            return None
        rows = ns.ann.search(query, fetch)
        rows = rows[mask[rows]]
        if rows.size < min(top_k, passing):
            return None
        keys = ns.rank_keys(query, rows)
        return rows[select_top(keys, top_k)]

    @staticmethod
    def _rerank(ns: Namespace, query: FloatArray, rows: IntArray, top_k: int) -> IntArray:
        """The best `top_k` of the index's candidates by exact score; exact search when the
        index returned fewer than it should (a graph cut off by deletions)."""
        if rows.size < min(top_k, ns.size):
            return ns.exact(query, top_k, None)
        return rows[select_top(ns.rank_keys(query, rows), top_k)]

    def _maintain_ann(self, ns: Namespace) -> None:
        """Build the index past the threshold, drop it below half, rebuild when stale."""
        ns.unchecked = False
        threshold = self.config.resolved_ann_threshold()
        if threshold is None:
            ns.ann = None
            ns.use_order("F")
            return
        if ns.ann is not None and (ns.size <= threshold // 2 or ns.ann.needs_rebuild):
            ns.ann = None
        if ns.ann is None and ns.size > threshold:
            assert self.dimension is not None
            ns.use_order("C")
            ns.ann = build_row_index(self.dimension, self.metric, self.config, ns.matrix[: ns.size])
        ns.use_order("F" if ns.ann is None else "C")

    def _after_delete(self, name: str, ns: Namespace) -> None:
        if ns.size == 0:
            del self._namespaces[name]
        else:
            self._maintain_ann(ns)
