"""The rows of one in-memory namespace: a dense float32 matrix with ids, texts, metadata
columns and the optional HNSW index, kept in step (see `ai.rag.stores.memory`).

The matrix is stored column-major (Fortran order: each dimension's values for all rows lie
together) while exact search is the path, because OpenBLAS's `sgemv` streams that layout
~15% faster on one core than row-major (6.2 against 7.2 ms for 100k x 384 here); a few
rows, though, cost a cache line per value to gather, so while an HNSW index serves the
queries (which re-rank the candidates of its walk) the matrix is row-major. Deletes swap
the last row into the hole, so the matrix stays dense; ids, texts, metadata columns and the
index follow the same moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from ai.rag.filters import MetadataColumns
from ai.rag.stores.memory_index import RowIndex
from ai.rag.stores.memory_topk import select_top
from ai.rag.types import DistanceMetric, VectorRecord

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]

#: A filtered exact query gathers the passing rows (instead of scoring all) when fewer
#: than 1/this of the rows pass: the break-even measured on 100k x 384 at one thread. In
#: the column-major layout gathering a row reads a cache line per value.
_GATHER_BELOW = {"C": 6, "F": 16}


class Namespace:
    """Rows of one namespace: vectors, ids, texts, metadata, and the optional ANN index."""

    def __init__(self, dimension: int, metric: DistanceMetric) -> None:
        self.metric = metric
        self.order: Literal["C", "F"] = "F"
        self.matrix: FloatArray = np.empty((0, dimension), dtype=np.float32, order="F")
        self.sq_norms: FloatArray = np.empty(0, dtype=np.float32)
        self.scores: FloatArray = np.empty(0, dtype=np.float32)
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.texts: list[str | None] = []
        self.metadata = MetadataColumns()
        self.ann: RowIndex | None = None
        #: Rows changed without the owner deciding about the index (a file just loaded).
        self.unchecked = True

    @property
    def size(self) -> int:
        return len(self.ids)

    def upsert(self, records: Sequence[VectorRecord]) -> None:
        """Replace rows whose id exists, append the others (ids unique in `records`)."""
        replaced = [r for r in records if r.id in self.row_of]
        added = [r for r in records if r.id not in self.row_of]
        if replaced:
            rows = np.fromiter((self.row_of[r.id] for r in replaced), np.intp, len(replaced))
            self.matrix[rows] = np.stack([r.values for r in replaced])
            for row, record in zip(rows.tolist(), replaced, strict=True):
                self.metadata.replace(row, record.metadata)
                self.texts[row] = record.text
            self._refresh_norms(rows)
            if self.ann is not None:
                self.ann.replace(rows, self.matrix[rows])
        if added:
            start = self.size
            self._reserve(start + len(added))
            self.matrix[start : start + len(added)] = np.stack([r.values for r in added])
            for offset, record in enumerate(added):
                self.row_of[record.id] = start + offset
                self.ids.append(record.id)
                self.texts.append(record.text)
                self.metadata.append(record.metadata)
            self._refresh_norms(np.arange(start, start + len(added)))
            if self.ann is not None:
                self.ann.append(self.matrix[start : start + len(added)])

    def remove(self, record_id: str) -> None:
        """Swap-remove the row of `record_id` (the last row moves into it)."""
        row = self.row_of.pop(record_id, None)
        if row is None:
            return
        last = self.size - 1
        if row != last:
            self.matrix[row] = self.matrix[last]
            self.sq_norms[row] = self.sq_norms[last]
            self.ids[row] = self.ids[last]
            self.texts[row] = self.texts[last]
            self.row_of[self.ids[row]] = row
        self.ids.pop()
        self.texts.pop()
        self.metadata.swap_remove(row)
        if self.ann is not None:
            self.ann.swap_remove(row)

    def record(self, row: int) -> VectorRecord:
        return VectorRecord(
            self.ids[row], self.matrix[row].copy(), self.metadata.get(row), self.texts[row]
        )

    def use_order(self, order: Literal["C", "F"]) -> None:
        """Store the matrix row-major ("C", for gathering rows) or column-major ("F", for
        full scans); a copy of the filled rows when the layout changes, else nothing."""
        if order == self.order:
            return
        matrix = np.empty(self.matrix.shape, dtype=np.float32, order=order)
        matrix[: self.size] = self.matrix[: self.size]
        self.matrix, self.order = matrix, order

    def rows(self, rows: IntArray) -> FloatArray:
        """The vectors of `rows`, copied out of either layout."""
        if self.order == "C":
            return np.take(self.matrix, rows, axis=0)
        # np.take(axis=0) on a Fortran-ordered 100k x 384 matrix took ~110 ms whatever the
        # row count; gathering columns of its transpose reads each dimension in one pass.
        gathered: FloatArray = np.take(self.matrix.T, rows, axis=1).T
        return gathered

    def exact(self, query: FloatArray, top_k: int, mask: npt.NDArray[np.bool_] | None) -> IntArray:
        """Rows of the `top_k` best scores among the rows `mask` lets through, best first."""
        n = self.size
        if mask is not None:
            passing = np.flatnonzero(mask)
            if passing.size * _GATHER_BELOW[self.order] < n:  # cheaper than scoring all
                return passing[select_top(self.rank_keys(query, passing), top_k)]
            top_k = min(top_k, passing.size)
        keys = self.rank_keys(query, None)
        if mask is not None:
            keys[~mask] = -np.inf
        return select_top(keys, top_k)

    def rank_keys(self, query: FloatArray, rows: IntArray | None) -> FloatArray:
        """Monotone in the score: dot products, or 2<x,q> - |x|^2 for euclidean."""
        if rows is None:
            keys = np.matmul(self.matrix[: self.size], query, out=self.scores[: self.size])
            norms = self.sq_norms[: self.size]
        else:
            keys = self.rows(rows) @ query
            norms = self.sq_norms[rows]
        if self.metric is DistanceMetric.EUCLIDEAN:
            keys *= 2
            keys -= norms
        return keys

    def scores_of(self, query: FloatArray, rows: IntArray) -> FloatArray:
        """Scores as reported: cosine similarity, dot product or -euclidean distance.

        Distances are computed directly for these few rows: the |x|^2 - 2<x,q> + |q|^2
        form that ranks all rows loses precision in float32 for nearby points.
        """
        vectors = self.rows(rows)
        if self.metric is not DistanceMetric.EUCLIDEAN:
            scores: FloatArray = vectors @ query
            return scores
        differences = vectors - query
        distances: FloatArray = np.sqrt(np.einsum("ij,ij->i", differences, differences))
        return -distances

    def _reserve(self, size: int) -> None:
        capacity = self.matrix.shape[0]
        if size <= capacity:
            return
        capacity = max(size, 2 * capacity, 64)
        matrix = np.empty((capacity, self.matrix.shape[1]), dtype=np.float32, order=self.order)
        matrix[: self.size] = self.matrix[: self.size]
        norms = np.zeros(capacity, dtype=np.float32)
        norms[: self.size] = self.sq_norms[: self.size]
        self.matrix, self.sq_norms = matrix, norms
        self.scores = np.empty(capacity, dtype=np.float32)

    def _refresh_norms(self, rows: IntArray) -> None:
        if self.metric is DistanceMetric.EUCLIDEAN:
            vectors = self.rows(rows)
            self.sq_norms[rows] = np.einsum("ij,ij->i", vectors, vectors)
