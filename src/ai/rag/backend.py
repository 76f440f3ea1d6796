"""The protocol each vector-store backend fills in; `VectorStore` does the shared work.

Inputs reach a backend already validated: ids unique within a call, vectors float32 of
the store's dimension (unit length for cosine), filters parsed into `ai.rag.filters.Filter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ai.rag.filters import Filter
from ai.rag.types import Match, StoreStats, Vector, VectorRecord


class VectorBackend(Protocol):
    """Storage and search for one collection (table, index) with namespaces."""

    async def upsert(self, records: Sequence[VectorRecord], namespace: str) -> None:
        """Insert or replace by id."""
        ...

    async def query(
        self,
        vector: Vector,
        top_k: int,
        namespace: str,
        filter: Filter | None,
        include_values: bool,
    ) -> list[Match]:
        """The `top_k` closest records passing `filter`, best first."""
        ...

    async def fetch(self, ids: Sequence[str], namespace: str) -> list[VectorRecord]:
        """The records with these ids (missing ids are left out)."""
        ...

    async def delete(self, ids: Sequence[str], namespace: str) -> None:
        """Remove these ids (missing ids are ignored)."""
        ...

    async def delete_by_filter(self, filter: Filter, namespace: str) -> None:
        """Remove every record in `namespace` passing `filter`."""
        ...

    async def count(self, namespace: str, filter: Filter | None) -> int:
        """How many records in `namespace` pass `filter` (all when None)."""
        ...

    async def stats(self) -> StoreStats:
        """Counts per namespace, dimension and metric."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
