"""The approximate index a large in-memory namespace keeps, and which engine builds it.

Two engines implement `RowIndex`: ScaNN (`memory_scann`, a quantized scan of every row
with exact float32 re-scoring, Linux wheels only) and usearch (`memory_ann`, an HNSW
graph, every platform). `VectorStoreConfig.ann_engine` picks one. Left out, namespaces
of up to `AUTO_UP_TO` (20,000) rows get ScaNN where it can be imported (on 4,000 DBPedia
embeddings it answered at recall 0.95 faster than hnswlib, benchmarks.md), larger ones
and other platforms usearch. Both keep rows in step with `Namespace`'s matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from ai.rag.types import DistanceMetric

if TYPE_CHECKING:
    from ai.rag.vector_store_config import VectorStoreConfig

IntArray = npt.NDArray[np.intp]


class RowIndex(Protocol):
    """Approximate nearest rows of a namespace's matrix; told of every row change."""

    #: What the index stores ("I8", "F32", "AH4"), for tests and diagnostics.
    scalar: str

    def __len__(self) -> int: ...

    @property
    def needs_rebuild(self) -> bool: ...

    def append(self, vectors: npt.NDArray[np.float32]) -> None: ...

    def replace(self, rows: IntArray, vectors: npt.NDArray[np.float32]) -> None: ...

    def swap_remove(self, row: int) -> None: ...

    def nearest(
        self, vector: npt.NDArray[np.float32], top_k: int
    ) -> tuple[list[int], list[float]] | None:
        """Rows and exact scores of the best `top_k`, or None when the engine finds
        candidates only (the store then re-scores `search`'s candidates itself)."""

    def search(self, vector: npt.NDArray[np.float32], count: int) -> IntArray: ...

    def search_batch(self, vectors: npt.NDArray[np.float32], count: int) -> list[IntArray]: ...


def resolved_engine(engine: str | None, rows: int) -> str:
    """`engine` (checked by `VectorStoreConfig`), or when None ScaNN for up to
    `AUTO_UP_TO` rows where it imports, and usearch otherwise."""
    if engine is not None:
        return engine
    from ai.rag.stores.memory_scann import AUTO_UP_TO, scann_available

    return "scann" if rows <= AUTO_UP_TO and scann_available() else "usearch"


def build_row_index(
    dimension: int,
    metric: DistanceMetric,
    config: VectorStoreConfig,
    vectors: npt.NDArray[np.float32],
) -> RowIndex:
    """An index of `vectors` (rows 0..len-1) by the configured engine."""
    if resolved_engine(config.ann_engine, vectors.shape[0]) == "scann":
        from ai.rag.stores.memory_scann import ScannIndex

        return ScannIndex(dimension, metric, config, vectors)
    from ai.rag.stores.memory_ann import AnnIndex

    return AnnIndex(dimension, metric, config, vectors)
