"""ScaNN index over the rows of one in-memory namespace.

ScaNN (Google Research, `pip install 'devora-ai[ann]'` on Linux) scores every row with
anisotropic 4-bit product quantization (asymmetric hashing: a 16-entry lookup table per
block of dimensions, read with SIMD shuffles), then re-scores the best `hnsw_ef_search`
candidates exactly in float32 and returns exact scores for the final `top_k`. The scan
covers every row, so its cost grows with the namespace: on 4,000 DBPedia embeddings
(384-d) it answered at recall@10 0.95 faster than hnswlib's graph, and it stays ahead of
a graph up to about `AUTO_UP_TO` rows (benchmarks.md, "ANN on real embeddings"), which
is where the default engine choice (`memory_index`) hands over to usearch's HNSW graph.
ScaNN's partitioning tree would scale further, but with a tenth of its leaves searched
it recalled 0.27 on 100,000 random vectors, so it is not used.

- Rows are ScaNN's own indices: `append` adds at the end, `replace` overwrites in place
  and `swap_remove` moves the last row into the hole, exactly as `Namespace` does, so
  no label table is needed.
- The quantizer is chosen at build time (`_DIMS_PER_BLOCK`, checked on probe queries)
  and trained on the rows present then; rows added later are encoded with it. When the
  namespace has doubled since the build the owner rebuilds (`needs_rebuild`).

ScaNN keeps its own float32 copy of the rows for the exact re-scoring, so a namespace
under this index costs about twice the memory of the matrix alone (plus the codes, 32
bytes a row at 384-d). ScaNN's C++ core logs a line to stderr per build. Its PyPI wheels
never select their AVX2 kernels by themselves; `scann_kernels` does, where the CPU has
AVX2 (a query 1.25x as fast, the same answers).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ai.rag.stores import scann_kernels
from ai.rag.types import DistanceMetric

if TYPE_CHECKING:
    from ai.rag.vector_store_config import VectorStoreConfig

IntArray = npt.NDArray[np.intp]

#: The default engine uses this index up to this many rows (the quantized scan's cost
#: grows with the rows; a graph's barely does).
AUTO_UP_TO = 20_000
#: Dimensions per 4-bit code, coarsest (fastest) first; the build keeps the first that
#: passes the check below. With 100 candidates re-scored, real queries recalled: on
#: 4,000 DBPedia embeddings (384-d) 0.985 with 6, 0.998 with 4 (6 reached 0.95 at 50
#: candidates in 0.8x of 4's time at 30); on 20,000 synthetic embeddings 0.92 with 6,
#: 0.94 with 4, 0.996 with 2; on tightly clustered 32-d data, queried between its
#: clusters, 0.69 with 4, 0.95 with 2, 1.0 with 1.
_DIMS_PER_BLOCK = (6, 4, 2, 1)
#: The check: recall@10 of each kind of probe (`_check_probes`), this many of each, with
#: this many candidates re-scored, at least this much for the worse kind. On the four
#: sets above (and 10,000 synthetic embeddings: 0.949, 0.967 and 0.999) it kept a
#: quantizer whose real recall was 0.985 or more.
_CHECK_QUERIES = 64
_CHECK_CANDIDATES = 100
_CHECK_RECALL = 0.98
#: ScaNN's distance per store metric; cosine vectors arrive unit length.
_SCANN_DISTANCE = {
    DistanceMetric.COSINE: "dot_product",
    DistanceMetric.DOT: "dot_product",
    DistanceMetric.EUCLIDEAN: "squared_l2",
}


def scann_available() -> bool:
    """ScaNN can be imported here (it ships Linux wheels only)."""
    return _import_scann() is not None


def _import_scann() -> Any | None:
    """ScaNN, with its AVX2 kernels selected where the CPU has them (`scann_kernels`,
    once per process), or None where it cannot be imported."""
    try:
        import scann
    except ImportError:
        return None
    _choose_kernels()
    return scann


@functools.cache
def _choose_kernels() -> bool:
    """`scann_kernels.enable_where_supported()`, once per process."""
    return scann_kernels.enable_where_supported()


def _scann() -> Any:
    scann = _import_scann()
    if scann is None:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ann_engine='scann' needs ScaNN: pip install 'devora-ai[ann]' (Linux only), or "
            "use ann_engine='usearch'."
        )
    return scann


class ScannIndex:
    """Approximate nearest rows of a matrix, with exact scores; the owner reports every
    row change."""

    def __init__(
        self,
        dimension: int,
        metric: DistanceMetric,
        config: VectorStoreConfig,
        vectors: npt.NDArray[np.float32],
    ) -> None:
        """Train on `vectors` and index them as rows 0..len-1."""
        self._euclidean = metric is DistanceMetric.EUCLIDEAN
        self._candidates = config.resolved_hnsw().ef_search
        self._auto = config.ann_engine is None
        rows = int(vectors.shape[0])
        self._built_size = rows
        self._size = rows
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        probes = _check_probes(data, self._euclidean)
        for dims in _DIMS_PER_BLOCK:
            self._searcher = self._build(data, _SCANN_DISTANCE[metric], dims)
            #: "AH" and the dimensions per 4-bit code kept, for tests and diagnostics.
            self.scalar = f"AH{dims}"
            if all(self._recall(*kind) >= _CHECK_RECALL for kind in probes):
                break  # (no probes: too few rows to judge, the coarsest is kept)
        del dimension  # ScaNN reads it from the rows

    def _build(self, data: npt.NDArray[np.float32], distance: str, dims: int) -> Any:
        builder = (
            _scann()
            .scann_ops_pybind.builder(data, 10, distance)
            .score_ah(
                dims,
                # Anisotropic ("score-aware") quantization is for inner products only.
                anisotropic_quantization_threshold=float("nan") if self._euclidean else 0.2,
            )
        )
        return builder.reorder(self._candidates).build().searcher

    def _recall(
        self,
        queries: npt.NDArray[np.float32],
        truth: npt.NDArray[np.intp],
        left_out: npt.NDArray[np.intp],
    ) -> float:
        """recall@10 of the built searcher on one kind of probe."""
        hits = 0
        for query, expected, skip in zip(queries, truth, left_out, strict=True):
            found = self._searcher.search(query, 11, _CHECK_CANDIDATES, -1)[0].tolist()
            answer = [row for row in found if row != skip][:10]
            hits += len(set(answer) & set(expected.tolist()))
        return hits / (10 * len(queries))

    def __len__(self) -> int:
        return self._size

    @property
    def needs_rebuild(self) -> bool:
        """The namespace has doubled since training, or outgrew the default engine's use
        of this index."""
        grown = self._size > 2 * self._built_size
        return grown or (self._auto and self._size > AUTO_UP_TO)

    def append(self, vectors: npt.NDArray[np.float32]) -> None:
        """Index new rows at the end (rows len(self) .. len(self)+len(vectors)-1)."""
        count = int(vectors.shape[0])
        if count:
            self._searcher.upsert([None] * count, _rows(vectors), max(1, count))
            self._size += count

    def replace(self, rows: IntArray, vectors: npt.NDArray[np.float32]) -> None:
        """New vectors for existing rows, in place."""
        if rows.size:
            self._searcher.upsert(rows.tolist(), _rows(vectors), max(1, int(rows.size)))

    def swap_remove(self, row: int) -> None:
        """Mirror the matrix: drop `row`, the last row moves into its place."""
        self._searcher.delete([row])
        self._size -= 1

    def nearest(self, vector: npt.NDArray[np.float32], top_k: int) -> tuple[list[int], list[float]]:
        """Rows and exact scores of (about) the `top_k` best rows, best first."""
        found, distances = self._searcher.search(vector, top_k, max(top_k, self._candidates), -1)
        if self._euclidean:
            return found.tolist(), (-np.sqrt(np.maximum(distances, 0))).tolist()
        return found.tolist(), distances.tolist()

    def search(self, vector: npt.NDArray[np.float32], count: int) -> IntArray:
        """Rows of (about) the `count` nearest vectors, nearest first."""
        found = self._searcher.search(vector, count, max(count, self._candidates), -1)[0]
        rows: IntArray = found.astype(np.intp)
        return rows

    def search_batch(self, vectors: npt.NDArray[np.float32], count: int) -> list[IntArray]:
        """`search` for many queries at once, spread over ScaNN's threads."""
        found, distances = self._searcher.search_batched(
            _rows(vectors), count, max(count, self._candidates), -1, True, 256
        )
        # Short answers are padded to `count` with row 0 at a NaN distance.
        return [
            row[~np.isnan(far)].astype(np.intp) for row, far in zip(found, distances, strict=True)
        ]


#: Probe queries, the exact top 10 of each, and for each the row to leave out of its
#: answer (-1: none).
Probes = tuple[npt.NDArray[np.float32], npt.NDArray[np.intp], npt.NDArray[np.intp]]


def _check_probes(data: npt.NDArray[np.float32], euclidean: bool) -> list[Probes]:
    """Two kinds of probe (none when there are too few rows to judge): stored rows, each
    left out of its own answer (a new text like the stored ones), and midpoints of two
    random rows (a query between topics). Each kind alone passed a quantizer whose real
    recall was far lower on one of the sets above (the rows: the clustered set's 4,
    0.988 against 0.65; the midpoints: the 20,000 embeddings' 4, 0.981 against 0.936)."""
    rows = data.shape[0]
    if rows < 4 * _CHECK_QUERIES:
        return []
    rng = np.random.default_rng(0)
    picked = rng.choice(rows, _CHECK_QUERIES, replace=False)
    pairs = rng.choice(rows, (2, _CHECK_QUERIES))
    none = np.full(_CHECK_QUERIES, -1, dtype=np.intp)
    squared = np.einsum("ij,ij->i", data, data) if euclidean else None
    probes = []
    for queries, left_out in (
        (data[picked], picked.astype(np.intp)),
        ((data[pairs[0]] + data[pairs[1]]) / 2, none),
    ):
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        keys = queries @ data.T
        if squared is not None:
            keys = 2 * keys - squared
        keys[left_out >= 0, left_out[left_out >= 0]] = -np.inf
        probes.append((queries, np.argpartition(-keys, 10, axis=1)[:, :10], left_out))
    return probes


def _rows(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, vectors.shape[-1])
