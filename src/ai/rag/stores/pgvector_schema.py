"""SQL for the pgvector backend: table naming, the schema, and the statements it runs.

Kept apart from the backend so the SQL can be read (and reviewed for injection) in one
place. Every identifier spliced into SQL text comes from `table_name` (only `[a-z0-9_]`,
then quoted), integers are spliced only after `int()`, `WHERE` clauses come from
`ai.rag.filters.compile_sql` (parameterised), and every value travels as an asyncpg `$n`
parameter: hence S608 (SQL built from strings) is silenced for this file only. No driver
import here.

Layout of one collection (one table per `VectorStoreConfig.index_name`):

    id text, namespace text, content text, metadata jsonb, embedding vector(d)
    PRIMARY KEY (namespace, id)   -- also the btree that serves `namespace = $n`
    HNSW index per metric used    -- vector_cosine_ops / vector_ip_ops / vector_l2_ops
    GIN (metadata jsonb_path_ops) -- for containment (`@>`) filters
"""

# ruff: noqa: S608

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from ai.rag.types import DistanceMetric

TABLE_PREFIX = "devora_vec_"
# 63 is PostgreSQL's identifier limit; index names add at most 15 ("_hnsw_euclidean").
_MAX_TABLE_NAME = 48

#: SQL for the schema holding the `vector` type (None until the extension exists).
VECTOR_SCHEMA_SQL = (
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'vector'"
)
#: Serialises `CREATE EXTENSION` between processes (concurrent ones can collide).
EXTENSION_LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(hashtextextended('devora-ai/pgvector/extension', 0))"
)
CREATE_EXTENSION_SQL = "CREATE EXTENSION IF NOT EXISTS vector"
#: Serialises schema creation for one table (`$1`: the table name) in the current schema.
TABLE_LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(hashtextextended("
    "'devora-ai/pgvector/table/' || current_schema() || '/' || $1, 0))"
)
#: The declared dimension of `embedding` (`$1`: table name), None when no such table.
TABLE_DIMENSION_SQL = (
    "SELECT a.atttypmod FROM pg_attribute a"
    " WHERE a.attrelid = to_regclass($1) AND a.attname = 'embedding' AND NOT a.attisdropped"
)
#: Names of the indexes on a table (`$1`: table name).
TABLE_INDEXES_SQL = (
    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = to_regclass($1)"
)


@dataclass(frozen=True, slots=True)
class MetricSql:
    """How one metric maps onto pgvector: operator class, distance operator, and the
    conversion from pgvector's distance to our "higher is closer" score."""

    opclass: str
    operator: str
    score: Callable[[float], float]


METRICS: dict[DistanceMetric, MetricSql] = {
    # <=> is cosine distance (1 - similarity).
    DistanceMetric.COSINE: MetricSql("vector_cosine_ops", "<=>", lambda d: 1.0 - d),
    # <#> is the *negative* inner product (so that ascending order is best first).
    DistanceMetric.DOT: MetricSql("vector_ip_ops", "<#>", lambda d: -d),
    # <-> is the Euclidean distance; our score is its negation.
    DistanceMetric.EUCLIDEAN: MetricSql("vector_l2_ops", "<->", lambda d: -d),
}


def table_name(index_name: str) -> str:
    """The table for a collection: `devora_vec_` + `index_name` reduced to `[a-z0-9_]`.

    Long names are cut and given a hash of the original, so two long names that share a
    prefix still get different tables.
    """
    slug = re.sub(r"[^a-z0-9_]+", "_", index_name.lower()).strip("_") or "default"
    name = TABLE_PREFIX + slug
    if len(name) > _MAX_TABLE_NAME:
        digest = hashlib.sha256(index_name.encode()).hexdigest()[:8]
        name = f"{name[: _MAX_TABLE_NAME - 9]}_{digest}"
    return name


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (quotes inside doubled)."""
    return '"' + name.replace('"', '""') + '"'


def hnsw_index_name(table: str, metric: DistanceMetric) -> str:
    """One HNSW index per metric, so a table can serve stores with different metrics."""
    return f"{table}_hnsw_{metric.value}"


def metadata_index_name(table: str) -> str:
    return f"{table}_metadata"


@dataclass(frozen=True, slots=True)
class TableSql:
    """Every statement the backend runs against one table, built once per backend."""

    table: str
    metric: MetricSql

    @property
    def quoted(self) -> str:
        return quote_ident(self.table)

    def create_table(self, dimension: int) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.quoted} ("
            " id text NOT NULL, namespace text NOT NULL, content text, metadata jsonb NOT NULL"
            f" DEFAULT '{{}}'::jsonb, embedding vector({int(dimension)}) NOT NULL,"
            " PRIMARY KEY (namespace, id))"
        )

    def create_indexes(
        self, metric: DistanceMetric, m: int, ef_construction: int
    ) -> dict[str, str]:
        """Index name -> CREATE INDEX statement, for the indexes this backend needs."""
        hnsw = hnsw_index_name(self.table, metric)
        gin = metadata_index_name(self.table)
        return {
            hnsw: (
                f"CREATE INDEX IF NOT EXISTS {quote_ident(hnsw)} ON {self.quoted}"
                f" USING hnsw (embedding {self.metric.opclass})"
                f" WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
            ),
            gin: (
                f"CREATE INDEX IF NOT EXISTS {quote_ident(gin)} ON {self.quoted}"
                " USING gin (metadata jsonb_path_ops)"
            ),
        }

    @property
    def upsert(self) -> str:
        """Batched upsert: parallel arrays ($1 ids, $2 texts, $3 metadata, $4 vectors) and
        the namespace ($5). One statement per batch, no temporary table."""
        return (
            f"INSERT INTO {self.quoted} (id, namespace, content, metadata, embedding)"
            " SELECT u.id, $5, u.content, u.metadata, u.embedding"
            " FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::vector[])"
            " AS u(id, content, metadata, embedding)"
            " ON CONFLICT (namespace, id) DO UPDATE SET content = EXCLUDED.content,"
            " metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding"
        )

    def query(self, where: str, include_values: bool) -> str:
        """Nearest first: `$1` the query vector, `$2` the limit; `where` uses `$3`...

        ORDER BY the bare operator expression (not an alias) so the HNSW index applies.
        """
        values = ", embedding" if include_values else ""
        op = self.metric.operator
        return (
            f"SELECT id, content, metadata, embedding {op} $1 AS distance{values}"
            f" FROM {self.quoted} WHERE {where} ORDER BY embedding {op} $1 LIMIT $2"
        )

    @staticmethod
    def search_settings(ef_search: int, *, local: bool = False) -> str:
        """HNSW settings for the session (or, with `local`, the current transaction).

        Iterative scans (pgvector 0.8) keep searching when the namespace or filter condition
        rejects candidates, instead of returning fewer than top_k rows.
        """
        scope = "LOCAL " if local else ""
        return (
            f"SET {scope}hnsw.ef_search = {int(ef_search)};"
            f" SET {scope}hnsw.iterative_scan = relaxed_order"
        )

    @property
    def fetch(self) -> str:
        return (
            f"SELECT id, content, metadata, embedding FROM {self.quoted}"
            " WHERE namespace = $1 AND id = ANY($2::text[])"
        )

    @property
    def delete(self) -> str:
        return f"DELETE FROM {self.quoted} WHERE namespace = $1 AND id = ANY($2::text[])"

    def delete_where(self, where: str) -> str:
        return f"DELETE FROM {self.quoted} WHERE {where}"

    def count(self, where: str) -> str:
        return f"SELECT count(*) FROM {self.quoted} WHERE {where}"

    @property
    def stats(self) -> str:
        return (
            f"SELECT namespace, count(*) FROM {self.quoted} GROUP BY namespace ORDER BY namespace"
        )
