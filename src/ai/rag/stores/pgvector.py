"""pgvector backend: vectors in PostgreSQL, searched with an HNSW index.

Needs asyncpg and pgvector (`pip install 'devora-ai[pgvector]'`); this module is imported
only when a `VectorStore` is configured with `store_type="pgvector"`.

One table per collection (`VectorStoreConfig.index_name`), created on first use together
with its indexes (see `ai.rag.stores.pgvector_schema`). Creation is serialised between
processes with transaction-level advisory locks, so several workers may start at once.

A query is one round trip: every pooled connection gets `hnsw.ef_search` and
`hnsw.iterative_scan = relaxed_order` for its session when it opens, and the pool's
release skips asyncpg's `RESET ALL` (which would also cost a round trip per operation);
only a `top_k` above `hnsw_ef_search` needs a transaction with `SET LOCAL`. Iterative
scans are on for every query because the namespace is itself a filter. The pool therefore
needs session-level state: a PgBouncer in transaction mode in between is not supported.

Planner statistics: the upsert that creates a table loads its rows, runs ANALYZE and only
then builds the HNSW index (a bulk build). Later growth is analysed by autovacuum; until
then the planner may choose an exact scan, which is slower but returns the same rows.

Errors: every failure of the driver or the connection (any asyncpg error, `OSError`,
time-outs) is converted by the backend's `ai.db.postgres.PostgresPool` — the one
boundary — into `StoreError`, whose message names the table and the server without its
password and says what to check (this module adds the hints for a missing extension and
missing privileges). Settings that cannot work (a vector of another dimension than the
table's) raise `ConfigurationError`. A failed connection attempt is retried on the next
call, so the store recovers by itself once the server is back.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from types import MappingProxyType
from typing import Any

from ai.errors import ConfigurationError, mask_url
from ai.rag.filters import Filter, compile_sql
from ai.rag.stores.pgvector_schema import (
    CREATE_EXTENSION_SQL,
    EXTENSION_LOCK_SQL,
    METRICS,
    TABLE_DIMENSION_SQL,
    TABLE_INDEXES_SQL,
    TABLE_LOCK_SQL,
    VECTOR_SCHEMA_SQL,
    TableSql,
    table_name,
)
from ai.rag.types import Match, StoreStats, Vector, VectorRecord
from ai.rag.vector_store_config import VectorStoreConfig

try:
    import asyncpg
    from pgvector import Vector as PgVector
    from pgvector.asyncpg import register_vector

    from ai.db.postgres import PoolOptions, PostgresPool
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "The pgvector vector store needs asyncpg and pgvector: pip install 'devora-ai[pgvector]'"
    ) from exc

#: Rows per upsert statement: ~1.5 MB of parameters at 384 dimensions.
UPSERT_BATCH = 1000
#: pgvector's upper bound for `hnsw.ef_search`.
MAX_EF_SEARCH = 1000
_EXTENSION_HINT = (
    "Install the pgvector extension on the server (https://github.com/pgvector/pgvector)."
)
#: Advice beyond the pool's own (connection, password) for errors this backend meets.
_HINTS: Mapping[type[BaseException], str] = MappingProxyType(
    {
        asyncpg.UndefinedFileError: _EXTENSION_HINT,
        asyncpg.FeatureNotSupportedError: _EXTENSION_HINT,
        asyncpg.InsufficientPrivilegeError: (
            "Grant the privilege, or have an administrator run CREATE EXTENSION vector"
            " and create the table."
        ),
    }
)

#: Writes rows on a connection (inside the caller's transaction).
_Loader = Callable[[Any], Awaitable[None]]


class _Table(Enum):
    """What `_ensure_table` found or did."""

    MISSING = "missing"  # no table, and no dimension to create one with
    READY = "ready"  # the table and its indexes exist
    LOADED = "loaded"  # created now, with the caller's rows written before indexing


class PgVectorBackend:
    """A `VectorBackend` on PostgreSQL + pgvector, for stores shared by several processes.

    Connections come from an asyncpg pool opened on first use (each connection gets the
    pgvector codec); `aclose()` closes it. The dimension comes from the config, from an
    existing table, or from the first upsert.
    """

    def __init__(self, config: VectorStoreConfig) -> None:
        self._config = config
        self._metric = config.metric
        self._sql = TableSql(table_name(config.resolved_index_name()), METRICS[config.metric])
        self._dimension = config.dimension
        self._hnsw = config.resolved_hnsw()
        self._ef_search = min(self._hnsw.ef_search, MAX_EF_SEARCH)
        self._table_ready = False
        self._pool = PostgresPool(
            config.resolved_connection_string(),
            name="pgvector",
            owner="VectorStore",
            subject=f" on table {self.table!r}",
            options=PoolOptions(
                min_size=1,
                max_size=10,
                init=self._init_connection,
                reset=self._reset_connection,
            ),
            hints=_HINTS,
            on_undefined_table=self._forget_table,  # dropped behind our back
        )

    @property
    def table(self) -> str:
        """The (unqualified) table name in the connection's current schema."""
        return self._sql.table

    # --- VectorBackend -------------------------------------------------------------------

    async def upsert(self, records: Sequence[VectorRecord], namespace: str) -> None:
        """Insert or replace by id, in batches of `UPSERT_BATCH` rows, in one transaction.

        When this call creates the table, its rows go in before the HNSW index is built:
        a bulk build is ~10x faster than inserting into the graph row by row.
        """
        if not records:
            return
        dimension = int(records[0].values.size)
        # Rows locked in id order: concurrent upserts of overlapping ids cannot deadlock.
        ordered = sorted(records, key=lambda record: record.id)
        metadata = [self._metadata_json(record) for record in ordered]

        async def write(conn: Any) -> None:
            for start in range(0, len(ordered), UPSERT_BATCH):
                batch = ordered[start : start + UPSERT_BATCH]
                await conn.execute(
                    self._sql.upsert,
                    [record.id for record in batch],
                    [record.text for record in batch],
                    metadata[start : start + UPSERT_BATCH],
                    [PgVector(record.values) for record in batch],
                    namespace,
                )

        async with self._pool.connection("upsert") as conn:
            if await self._ensure_table(conn, dimension, load=write) is _Table.LOADED:
                return
            self._check_dimension(dimension, "the upserted vectors")
            async with conn.transaction():
                await write(conn)

    async def query(
        self,
        vector: Vector,
        top_k: int,
        namespace: str,
        filter: Filter | None,
        include_values: bool,
    ) -> list[Match]:
        """The `top_k` nearest in `namespace` passing `filter`, through the HNSW index."""
        async with self._pool.connection("query") as conn:
            if await self._ensure_table(conn, self._config.dimension) is _Table.MISSING:
                return []
            self._check_dimension(int(vector.size), "the query vector")
            params: list[Any] = [vector, top_k]
            sql = self._sql.query(self._where(namespace, filter, params), include_values)
            if top_k <= self._ef_search:  # the session's settings serve
                rows = await conn.fetch(sql, *params)
            else:  # ef_search below top_k would cap the result size
                async with conn.transaction():
                    ef_search = min(top_k, MAX_EF_SEARCH)
                    await conn.execute(self._sql.search_settings(ef_search, local=True))
                    rows = await conn.fetch(sql, *params)
        # Iterative scans in relaxed order may return rows slightly out of order.
        rows = sorted(rows, key=lambda row: float(row["distance"]))
        score = self._sql.metric.score
        return [
            Match(
                id=row["id"],
                score=score(float(row["distance"])),
                metadata=json.loads(row["metadata"]),
                text=row["content"],
                values=row["embedding"].to_numpy() if include_values else None,
            )
            for row in rows
        ]

    async def fetch(self, ids: Sequence[str], namespace: str) -> list[VectorRecord]:
        """The stored records with these ids; missing ids are left out."""
        if not ids:
            return []
        async with self._pool.connection("fetch") as conn:
            if await self._ensure_table(conn, self._config.dimension) is _Table.MISSING:
                return []
            rows = await conn.fetch(self._sql.fetch, namespace, list(ids))
        by_id = {
            row["id"]: VectorRecord(
                id=row["id"],
                values=row["embedding"].to_numpy(),
                metadata=json.loads(row["metadata"]),
                text=row["content"],
            )
            for row in rows
        }
        return [by_id[id_] for id_ in ids if id_ in by_id]

    async def delete(self, ids: Sequence[str], namespace: str) -> None:
        """Remove these ids from `namespace`; missing ones are ignored."""
        if not ids:
            return
        async with self._pool.connection("delete") as conn:
            if await self._ensure_table(conn, self._config.dimension) is not _Table.MISSING:
                await conn.execute(self._sql.delete, namespace, list(ids))

    async def delete_by_filter(self, filter: Filter, namespace: str) -> None:
        """Remove every record of `namespace` whose metadata passes `filter`."""
        async with self._pool.connection("delete_by_filter") as conn:
            if await self._ensure_table(conn, self._config.dimension) is not _Table.MISSING:
                params: list[Any] = []
                where = self._where(namespace, filter, params)
                await conn.execute(self._sql.delete_where(where), *params)

    async def count(self, namespace: str, filter: Filter | None) -> int:
        """How many records of `namespace` pass `filter` (all of them when None)."""
        async with self._pool.connection("count") as conn:
            if await self._ensure_table(conn, self._config.dimension) is _Table.MISSING:
                return 0
            params: list[Any] = []
            where = self._where(namespace, filter, params)
            return int(await conn.fetchval(self._sql.count(where), *params))

    async def stats(self) -> StoreStats:
        """Counts per namespace (one GROUP BY), dimension and metric."""
        async with self._pool.connection("stats") as conn:
            namespaces: dict[str, int] = {}
            if await self._ensure_table(conn, self._config.dimension) is not _Table.MISSING:
                rows = await conn.fetch(self._sql.stats)
                namespaces = {row["namespace"]: int(row["count"]) for row in rows}
        return StoreStats(dimension=self._dimension, metric=self._metric, namespaces=namespaces)

    async def aclose(self) -> None:
        """Close the pool; the backend cannot be used afterwards. Idempotent."""
        await self._pool.aclose()

    # --- connections ---------------------------------------------------------------------

    async def _init_connection(self, conn: Any) -> None:
        """Per new connection: make sure the extension exists, register its codec, and set
        the HNSW search settings for the session (so a query is one round trip)."""
        schema = await conn.fetchval(VECTOR_SCHEMA_SQL)
        if schema is None:
            async with conn.transaction():
                await conn.execute(EXTENSION_LOCK_SQL)
                await conn.execute(CREATE_EXTENSION_SQL)
            schema = await conn.fetchval(VECTOR_SCHEMA_SQL)
        await register_vector(conn, schema=schema)
        await conn.execute(self._sql.search_settings(self._ef_search))

    @staticmethod
    async def _reset_connection(conn: Any) -> None:
        """On release to the pool: only end a transaction left open.

        asyncpg's default reset runs `RESET ALL` (and more) on every release: one more
        round trip per operation, and it would drop the HNSW settings `_init_connection`
        made for the session. The pool is private to this backend, which leaves no
        session state behind (no LISTEN, cursors or session-level advisory locks).
        """
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")

    def _forget_table(self) -> None:
        """The table was dropped behind our back: look for it (and recreate it) next time."""
        self._table_ready = False

    # --- schema --------------------------------------------------------------------------

    async def _ensure_table(
        self, conn: Any, dimension: int | None, load: _Loader | None = None
    ) -> _Table:
        """Make sure the table and its indexes exist (MISSING when there is no table and no
        dimension to create it with: reads then see an empty store).

        `load` runs only if this call creates the table, between CREATE TABLE and CREATE
        INDEX, in the same transaction (LOADED is returned): the advisory lock keeps every
        other writer out until the table is complete, indexes included.
        """
        if self._table_ready:
            return _Table.READY
        existing = await conn.fetchval(TABLE_DIMENSION_SQL, self.table)
        if existing is None and dimension is None:
            return _Table.MISSING
        state = _Table.READY
        async with conn.transaction():
            await conn.execute(TABLE_LOCK_SQL, self.table)
            existing = await conn.fetchval(TABLE_DIMENSION_SQL, self.table)
            if existing is None and dimension is not None:
                self._check_dimension(dimension, "the first vectors")
                await conn.execute(self._sql.create_table(dimension))
                existing = dimension
                if load is not None:
                    await load(conn)
                    # Statistics now, not when autovacuum gets round to it: without them
                    # the planner guesses `namespace = $n` is rare and sorts the whole
                    # table instead of using the HNSW index.
                    await conn.execute(f"ANALYZE {self._sql.quoted}")
                    state = _Table.LOADED
            if existing is None:  # dropped by someone else between the two looks
                return _Table.MISSING
            self._adopt_dimension(int(existing))
            present = {row["relname"] for row in await conn.fetch(TABLE_INDEXES_SQL, self.table)}
            indexes = self._sql.create_indexes(
                self._metric, self._hnsw.m, self._hnsw.ef_construction
            )
            for name, statement in indexes.items():
                if name not in present:
                    await conn.execute(statement)
        self._table_ready = True
        return state

    def _adopt_dimension(self, table_dimension: int) -> None:
        if self._dimension is not None and self._dimension != table_dimension:
            raise ConfigurationError(
                f"pgvector table {self.table!r} holds {table_dimension}-d vectors, but the store "
                f"is configured for {self._dimension}-d. Use another index_name or the "
                "table's dimension."
            )
        self._dimension = table_dimension

    def _check_dimension(self, dimension: int, what: str) -> None:
        if self._dimension is not None and dimension != self._dimension:
            raise ConfigurationError(
                f"{what}: dimension {dimension}, but pgvector table {self.table!r} holds "
                f"{self._dimension}-d vectors. Use another index_name for other embeddings."
            )

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _where(namespace: str, filter: Filter | None, params: list[Any]) -> str:
        """`namespace = $n [AND (filter)]`, appending the values to `params`."""
        params.append(namespace)
        where = f"namespace = ${len(params)}"
        if filter is not None:
            where += f" AND ({compile_sql(filter, column='metadata', params=params)})"
        return where

    @staticmethod
    def _metadata_json(record: VectorRecord) -> str:
        try:
            return json.dumps(dict(record.metadata), allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested deep
            raise ConfigurationError(
                f"record {record.id!r}: metadata must be JSON (strings, numbers, booleans, "
                f"lists of strings); {exc}."
            ) from exc


__all__ = ["PgVectorBackend", "mask_url"]
