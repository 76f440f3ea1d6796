"""Template versions in PostgreSQL: one store shared by every worker of a deployment.

Needs asyncpg (`pip install 'devora-ai[pgvector]'`); this module is imported only when a
PostgreSQL store is asked for.

Two tables, `<prefix>_versions` and `<prefix>_labels` (the same columns as the SQLite
store), created on first use under an advisory lock so several workers may start at once.
Names are unqualified: they land in the connection's `search_path` schema.

A write is one transaction that first takes `pg_advisory_xact_lock` on the template's name,
then reads the history, applies the change and inserts the new rows: writers of one
template serialise across connections and processes, each reads the history its
predecessor committed, and no number is handed out twice; the primary key
(name, version) is the backstop. Reads use one REPEATABLE READ snapshot, so versions and
labels always agree, and verify every content hash.

Content is stored as `json`, not `jsonb`: `jsonb` reorders object keys, and a template's
`variables` mapping is ordered (it is the declaration order).

SQL text: the only identifiers spliced into it are the two table names, built from a
prefix checked against `PREFIX_PATTERN` and quoted; every value travels as a `$n`
parameter. Hence S608 is silenced for this file.

Errors: every failure of the driver or the connection (asyncpg errors, `OSError`,
time-outs) becomes `StoreError` in the store's `ai.db.postgres.PostgresPool`, the one
boundary; messages name the tables and show the server with its password masked.
"""

# ruff: noqa: S608

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ai.errors import ConfigurationError, mask_url
from ai.prompts.stores.base import HistoryChange, TemplateStore, added_versions
from ai.prompts.stores.rows import history_from_rows, label_changes, version_row
from ai.prompts.versions import TemplateHistory

try:
    import asyncpg

    from ai.db.postgres import PoolOptions, PostgresPool
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "The PostgreSQL template store needs asyncpg: pip install 'devora-ai[pgvector]'"
    ) from exc


PREFIX_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,40}")
"""Table prefixes: lowercase SQL identifiers, short enough for `_versions` and index names."""

_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
_PRIVILEGE_HINT = "Grant the user CREATE on the schema, or have an administrator create the tables."


class PostgresTemplateStore(TemplateStore):
    """Template histories in PostgreSQL at `connection_string`.

    Connections come from a small asyncpg pool (at most `pool_size`) opened on first use;
    `close()` closes it.
    """

    def __init__(
        self,
        connection_string: str,
        *,
        table_prefix: str = "devora_prompt",
        pool_size: int = 4,
    ) -> None:
        if not isinstance(table_prefix, str) or not PREFIX_PATTERN.fullmatch(table_prefix):
            raise ConfigurationError(
                f"table_prefix {table_prefix!r} must be a lowercase SQL identifier "
                "(letters, digits, '_', not starting with a digit, at most 41 characters)"
            )
        if pool_size < 1:
            raise ConfigurationError(f"pool_size must be at least 1, got {pool_size}")
        self._url = connection_string
        self._prefix = table_prefix
        self._versions = f"{table_prefix}_versions"
        self._labels = f"{table_prefix}_labels"
        self._schema_ready = False
        self._pool = PostgresPool(
            connection_string,
            name="PostgreSQL template store",
            owner="PostgresTemplateStore",
            subject=f" (tables {table_prefix}_*)",
            options=PoolOptions(min_size=1, max_size=pool_size),
            hints={asyncpg.InsufficientPrivilegeError: _PRIVILEGE_HINT},
            on_undefined_table=self._forget_tables,  # dropped behind our back
        )

    def __repr__(self) -> str:
        return f"PostgresTemplateStore({mask_url(self._url)!r}, table_prefix={self._prefix!r})"

    async def load(self, name: str) -> TemplateHistory | None:
        async with (
            self._connection("load") as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await self._select(conn, name)

    async def names(self) -> list[str]:
        async with self._connection("names") as conn:
            rows = await conn.fetch(f'SELECT DISTINCT name FROM "{self._versions}"')
        return sorted(str(row["name"]) for row in rows)

    async def update(self, name: str, change: HistoryChange) -> TemplateHistory:
        async with self._connection("update") as conn, conn.transaction():
            await conn.execute(_LOCK_SQL, f"{self._prefix}:{name}")
            old = await self._select(conn, name)
            new = change(old)
            added = added_versions(name, old, new)
            if added:
                await conn.executemany(
                    f'INSERT INTO "{self._versions}" VALUES ($1, $2, $3, $4, $5, $6, $7)',
                    [version_row(version) for version in added],
                )
            removed, moved = label_changes(old, new)
            if removed:
                await conn.execute(
                    f'DELETE FROM "{self._labels}" WHERE name = $1 AND label = ANY($2::text[])',
                    name,
                    removed,
                )
            if moved:
                await conn.executemany(
                    f'INSERT INTO "{self._labels}" VALUES ($1, $2, $3, now())'
                    " ON CONFLICT (name, label)"
                    " DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                    [(name, label, number) for label, number in moved.items()],
                )
            return new

    async def aclose(self) -> None:
        """Close the pool; the store refuses work afterwards. Idempotent."""
        await self._pool.aclose()

    # --- connections and tables ----------------------------------------------------------

    @asynccontextmanager
    async def _connection(self, operation: str) -> AsyncIterator[Any]:
        """A pooled connection with the tables in place (errors converted by the pool)."""
        async with self._pool.connection(operation) as conn:
            if not self._schema_ready:
                await self._create_tables(conn)
            yield conn

    def _forget_tables(self) -> None:
        """The tables were dropped behind our back: create them again next time."""
        self._schema_ready = False

    async def _create_tables(self, conn: Any) -> None:
        async with conn.transaction():
            await conn.execute(_LOCK_SQL, f"{self._prefix}:<schema>")
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS "{self._versions}" (
                    name text NOT NULL,
                    version integer NOT NULL CHECK (version >= 1),
                    author text NOT NULL,
                    created_at timestamptz NOT NULL,
                    note text NOT NULL,
                    content_hash text NOT NULL,
                    content json NOT NULL,
                    PRIMARY KEY (name, version)
                )"""
            )
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS "{self._labels}" (
                    name text NOT NULL,
                    label text NOT NULL,
                    version integer NOT NULL,
                    updated_at timestamptz NOT NULL,
                    PRIMARY KEY (name, label),
                    FOREIGN KEY (name, version) REFERENCES "{self._versions}" (name, version)
                )"""
            )
        self._schema_ready = True

    async def _select(self, conn: Any, name: str) -> TemplateHistory | None:
        versions = await conn.fetch(
            "SELECT version, author, created_at, note, content_hash, content::text"
            f' FROM "{self._versions}" WHERE name = $1 ORDER BY version',
            name,
        )
        labels = await conn.fetch(
            f'SELECT label, version FROM "{self._labels}" WHERE name = $1', name
        )
        return history_from_rows(name, versions, labels)


__all__ = ["PostgresTemplateStore"]
