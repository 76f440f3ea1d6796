"""The event store in PostgreSQL: one request log for every process and host of a
deployment.

Needs asyncpg (`pip install 'devora-ai[pgvector]'`); this module is imported only when a
PostgreSQL store is asked for. Tables (`ml_ops.store.migrations`) are unqualified, so they
land in the connection's `search_path` schema; migrations run on first use under an
advisory lock, so several processes may start at once.

Exactly-once `read_after` with concurrent writers. An identity column hands out numbers
when a row is inserted, not when it commits: writer A may take seq 5, writer B seq 6, B
commit first, a reader see 6 and move its cursor past 5 before A commits, and never see 5.
`append` prevents that by taking a transaction-scoped advisory lock (one per schema)
before it inserts, so appends take turns: a transaction gets its numbers only after the
previous one has committed and become visible (PostgreSQL makes a commit visible before
it releases the transaction's locks). Sequence numbers therefore become visible in
increasing order, whatever snapshot a reader takes sees a prefix of the log, and a
cursor never passes a number that can still appear. The cost is that appends do not run
in parallel; each is one batched statement (`unnest` of column arrays), so the log takes
many thousands of records per second (see docs/monitoring.md). Reads take no lock.

Retention runs under a second advisory lock (two passes never roll the same records up
twice) and deletes exactly the rows it rolled up: those up to the highest `seq` below the
cut-off, which by the rule above were all visible when it began.

Errors: every driver and connection failure becomes `StoreError` in the store's
`ai.db.postgres.PostgresPool`, the one boundary; messages mask the password.
"""

# ruff: noqa: S608 - only fixed table and column names are formatted into SQL text

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ai.core.lifecycle import AsyncClosing
from ai.core.records import RequestRecord
from ai.errors import mask_url
from ml_ops.store import migrations as m
from ml_ops.store.base import AlertRecord, AlertStatus, RecordQuery, RetentionReport, Rollup
from ml_ops.store.codec import (
    ALERT_COLUMNS,
    COLUMNS,
    ROLLUP_COLUMNS,
    alert_from_row,
    alert_row,
    as_utc,
    from_row,
    rollup_from_row,
    rollup_key,
    rollup_row,
    to_row,
)
from ml_ops.store.query_sql import Param, record_order, record_where
from ml_ops.store.rollup import HOUR, merge_into, roll_up, rollup_order

try:
    import asyncpg

    from ai.db.postgres import PoolOptions, PostgresPool
except ImportError as exc:  # pragma: no cover - exercised where asyncpg is missing
    raise ImportError(
        "The PostgreSQL event store needs asyncpg: pip install 'devora-ai[pgvector]'"
    ) from exc

_CHUNK = 5000
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(coalesce(current_schema(), '') || $1, 0))"
_PRIVILEGE_HINT = "Grant the user CREATE on the schema, or have an administrator create the tables."

_SELECT = (
    "SELECT seq, "
    + ", ".join("tags::text AS tags" if c == "tags" else f'"{c}"' for c in COLUMNS)
    + f" FROM {m.RECORDS}"
)
_QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)
_INSERT = (
    f"INSERT INTO {m.RECORDS} ({_QUOTED}) SELECT "
    + ", ".join("t.tags::jsonb" if c == "tags" else f't."{c}"' for c in COLUMNS)
    + " FROM unnest("
    + ", ".join(
        f"${i}::{'text' if c == 'tags' else m.PG_TYPES[c]}[]" for i, c in enumerate(COLUMNS, 1)
    )
    + f") WITH ORDINALITY AS t({_QUOTED}, ord)"
    + " ORDER BY t.ord ON CONFLICT (request_id) DO NOTHING"
)
_UPSERT_ROLLUP = (
    f"INSERT INTO {m.ROLLUPS} ({', '.join(ROLLUP_COLUMNS)}) VALUES ("
    + ", ".join(f"${i}" for i in range(1, len(ROLLUP_COLUMNS) + 1))
    + ") ON CONFLICT (rollup_key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ROLLUP_COLUMNS[1:])
)
_UPSERT_ALERT = (
    f"INSERT INTO {m.ALERTS} ({', '.join(ALERT_COLUMNS)}) VALUES ("
    + ", ".join(f"${i}" for i in range(1, len(ALERT_COLUMNS) + 1))
    + ") ON CONFLICT (alert_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in ALERT_COLUMNS[1:])
)


class PostgresEventStore(AsyncClosing):
    """The `EventStore` in PostgreSQL at `url`; shared by every process that opens it.

    Connections come from an asyncpg pool opened on first use (`pool` sizes it and bounds
    each statement). `spill_dir` is where a `RecordWriter` on this store spills by
    default (`.devora/spill/postgres-<hash of the URL>`).
    """

    def __init__(
        self,
        url: str,
        *,
        pool: PoolOptions | None = None,
        spill_dir: str | Path | None = None,
    ) -> None:
        self._url = url
        self._schema_ready = False
        digest = hashlib.sha256(mask_url(url).encode()).hexdigest()[:12]
        self._spill_dir = Path(spill_dir or Path(".devora") / "spill" / f"postgres-{digest}")
        self._pool = PostgresPool(
            url,
            name="PostgreSQL event store",
            owner="PostgresEventStore",
            subject=f" (tables {m.RECORDS}*)",
            options=pool or PoolOptions(min_size=1, max_size=4),
            hints={asyncpg.InsufficientPrivilegeError: _PRIVILEGE_HINT},
            on_undefined_table=self._forget_tables,
        )

    def __repr__(self) -> str:
        return f"PostgresEventStore({mask_url(self._url)!r})"

    @property
    def spill_dir(self) -> Path:
        """Where a `RecordWriter` on this store spills by default."""
        return self._spill_dir

    async def append(self, records: Sequence[RequestRecord]) -> int:
        if not records:
            return 0
        rows = [to_row(r) for r in records]
        arrays = [[_pg_value(c, row[c]) for row in rows] for c in COLUMNS]
        async with self._connection("append") as conn, conn.transaction():
            await conn.execute(_LOCK, f".{m.RECORDS}:append")  # seq in commit order
            status = await conn.execute(_INSERT, *arrays)
        return int(status.rsplit(" ", 1)[-1])

    async def query(self, query: RecordQuery) -> list[RequestRecord]:
        params: list[Any] = []
        sql = f"{_SELECT} {_where(query, params)} {record_order(query)}"
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        async with self._connection("query") as conn:
            rows = await conn.fetch(sql, *params)
        return [from_row(row) for row in rows]

    async def read_after(self, seq: int, limit: int = 1000) -> tuple[list[RequestRecord], int]:
        async with self._connection("read_after") as conn:
            rows = await conn.fetch(
                f"{_SELECT} WHERE seq > $1 ORDER BY seq LIMIT $2", int(seq), max(int(limit), 0)
            )
        return [from_row(row) for row in rows], (int(rows[-1]["seq"]) if rows else seq)

    async def count(self, query: RecordQuery) -> int:
        params: list[Any] = []
        sql = f"SELECT count(*) FROM {m.RECORDS} {_where(query, params)}"
        async with self._connection("count") as conn:
            return int(await conn.fetchval(sql, *params))

    async def rollups(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[Rollup]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, op, value in (("bucket_start", ">=", since), ("bucket_start", "<", until)):
            if value is not None:
                params.append(as_utc(value))
                clauses.append(f"{column} {op} ${len(params)}")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        async with self._connection("rollups") as conn:
            rows = await conn.fetch(f"SELECT * FROM {m.ROLLUPS} {where}", *params)
        return sorted((rollup_from_row(row) for row in rows), key=rollup_order)

    async def apply_retention(self, *, keep_raw_until: datetime) -> RetentionReport:
        cutoff = as_utc(keep_raw_until)
        async with self._connection("apply_retention") as conn, conn.transaction():
            await conn.execute(_LOCK, f".{m.RECORDS}:retention")
            high = await conn.fetchval(
                f'SELECT max(seq) FROM {m.RECORDS} WHERE "timestamp" < $1', cutoff
            )
            if high is None:
                return RetentionReport(rolled_up=0, pruned=0, buckets_written=0)
            fresh, seen = await _roll_up_old(conn, high, cutoff)
            await _merge_and_save(conn, fresh)
            status = await conn.execute(
                f'DELETE FROM {m.RECORDS} WHERE seq <= $1 AND "timestamp" < $2', high, cutoff
            )
        return RetentionReport(
            rolled_up=seen, pruned=int(status.rsplit(" ", 1)[-1]), buckets_written=len(fresh)
        )

    async def save_alert(self, alert: AlertRecord) -> None:
        row = alert_row(alert)
        async with self._connection("save_alert") as conn:
            await conn.execute(_UPSERT_ALERT, *(row[c] for c in ALERT_COLUMNS))

    async def alerts(
        self, *, status: AlertStatus | None = None, since: datetime | None = None
    ) -> list[AlertRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            params.append(str(status))
            clauses.append(f"status = ${len(params)}")
        if since is not None:
            params.append(as_utc(since))
            clauses.append(f"fired_at >= ${len(params)}")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        async with self._connection("alerts") as conn:
            rows = await conn.fetch(
                f"SELECT * FROM {m.ALERTS} {where} ORDER BY fired_at DESC, position ASC", *params
            )
        return [alert_from_row(row) for row in rows]

    async def aclose(self) -> None:
        """Close the pool; the store refuses work afterwards. Idempotent."""
        await self._pool.aclose()

    # --- connections and migrations ------------------------------------------------------

    @asynccontextmanager
    async def _connection(self, operation: str) -> AsyncIterator[Any]:
        """A pooled connection with the schema up to date (errors converted by the pool)."""
        async with self._pool.connection(operation) as conn:
            if not self._schema_ready:
                await migrate(conn, where=mask_url(self._url))
                self._schema_ready = True
            yield conn

    def _forget_tables(self) -> None:
        """A table was dropped behind our back: check the schema again next time."""
        self._schema_ready = False


async def migrate(conn: Any, *, where: str) -> list[int]:
    """Apply the missing `POSTGRES_MIGRATIONS` steps in order, one transaction each under
    the migration advisory lock; returns the versions this call applied."""
    async with conn.transaction():
        await conn.execute(_LOCK, f".{m.MIGRATIONS}")
        await conn.execute(m.PG_MIGRATIONS_TABLE)
        todo = m.pending(await _versions(conn), m.POSTGRES_MIGRATIONS, where)
    applied: list[int] = []
    for step in todo:
        async with conn.transaction():
            await conn.execute(_LOCK, f".{m.MIGRATIONS}")
            if step not in m.pending(await _versions(conn), m.POSTGRES_MIGRATIONS, where):
                continue  # another process applied it meanwhile
            for statement in step.statements:
                await conn.execute(statement)
            await conn.execute(
                f"INSERT INTO {m.MIGRATIONS} (version, description) VALUES ($1, $2)",
                step.version,
                step.description,
            )
        applied.append(step.version)
    return applied


async def _versions(conn: Any) -> set[int]:
    return {int(r["version"]) for r in await conn.fetch(f"SELECT version FROM {m.MIGRATIONS}")}


# --- the parts --------------------------------------------------------------------------


def _pg_value(column: str, value: Any) -> Any:
    return as_utc(value) if column == "timestamp" else value


def _where(query: RecordQuery, params: list[Any]) -> str:
    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    return record_where(query, param, time_value=as_utc, tags_clause=_tags_clause)


def _tags_clause(tags: Mapping[str, str], param: Param) -> list[str]:
    return [f"tags @> {param(json.dumps(dict(tags), ensure_ascii=False))}::jsonb"]


async def _roll_up_old(
    conn: Any, high: int, cutoff: datetime
) -> tuple[dict[tuple[Any, ...], Rollup], int]:
    """The rollups of the records up to `high` older than `cutoff`, chunk by chunk."""
    fresh: dict[tuple[Any, ...], Rollup] = {}
    chunk: list[RequestRecord] = []
    seen = 0
    sql = f'{_SELECT} WHERE seq <= $1 AND "timestamp" < $2 ORDER BY seq'
    async for row in conn.cursor(sql, high, cutoff, prefetch=_CHUNK):
        chunk.append(from_row(row))
        if len(chunk) >= _CHUNK:
            merge_into(fresh, roll_up(chunk, HOUR))
            seen += len(chunk)
            chunk = []
    if chunk:
        merge_into(fresh, roll_up(chunk, HOUR))
        seen += len(chunk)
    return fresh, seen


async def _merge_and_save(conn: Any, fresh: dict[tuple[Any, ...], Rollup]) -> None:
    """Merge `fresh` into the stored rollups of the same bucket and group, and save."""
    if not fresh:
        return
    merged = dict(fresh)
    keys = {rollup_key(r): k for k, r in fresh.items()}
    stored = await conn.fetch(
        f"SELECT * FROM {m.ROLLUPS} WHERE rollup_key = ANY($1::text[])", list(keys)
    )
    merge_into(merged, (rollup_from_row(row) for row in stored))
    rows = [rollup_row(r) for r in merged.values()]
    await conn.executemany(_UPSERT_ROLLUP, [[row[c] for c in ROLLUP_COLUMNS] for row in rows])
