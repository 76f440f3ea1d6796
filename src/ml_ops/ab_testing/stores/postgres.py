"""Experiments in PostgreSQL: one set of experiments for every process and host.

Needs asyncpg (`pip install 'devora-ai[pgvector]'`); imported only when a PostgreSQL
store is asked for. Two tables, `<prefix>_experiments` and `<prefix>_totals`
(`devora_ab_*` by default), unqualified so they land in the connection's `search_path`
schema, created on first use under an advisory lock.

The store's methods are synchronous, like `ABTester`'s: the asyncpg pool lives on a
private event loop in a daemon thread (`devora-ab-postgres`), and each call submits one
coroutine there and waits for it. That keeps asyncpg's one-loop rule whatever thread or
loop the caller is on; the cost is one blocking round trip per call, which `ABTester`
keeps off the call path (cached states, a background flush of results).

Concurrency: `update` reads the state `FOR UPDATE` and writes it back in the same
transaction; `add_totals` inserts missing rows, then locks and rewrites each one, in key
order (so two writers never deadlock). Errors become `StoreError` in the pool
(`ai.db.postgres.PostgresPool`), the one boundary; messages mask the password.
"""

# ruff: noqa: S608 - only the checked table prefix is formatted into SQL text

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar

from ai.errors import ConfigurationError, StoreError, mask_url
from ml_ops.ab_testing.state import ExperimentState
from ml_ops.ab_testing.stores.base import (
    StateChange,
    TotalsKey,
    merged,
    not_found,
    state_from_text,
    state_text,
    totals_from_text,
)
from ml_ops.ab_testing.totals import VariantTotals

try:
    import asyncpg

    from ai.db.postgres import PoolOptions, PostgresPool
except ImportError as exc:  # pragma: no cover - exercised where asyncpg is missing
    raise ImportError(
        "The PostgreSQL experiment store needs asyncpg: pip install 'devora-ai[pgvector]'"
    ) from exc

_T = TypeVar("_T")
PREFIX_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(coalesce(current_schema(), '') || $1, 0))"
_PRIVILEGE_HINT = "Grant the user CREATE on the schema, or have an administrator create the tables."


class PostgresExperimentStore:
    """The `ExperimentStore` in PostgreSQL at `url` (see the module docstring).

    `table_prefix` names the tables; `pool` sizes the pool and bounds each statement;
    `call_timeout_s` bounds how long a caller waits for one operation.
    """

    def __init__(
        self,
        url: str,
        *,
        table_prefix: str = "devora_ab",
        pool: PoolOptions | None = None,
        call_timeout_s: float = 30.0,
    ) -> None:
        if not isinstance(table_prefix, str) or not PREFIX_PATTERN.fullmatch(table_prefix):
            raise ConfigurationError(
                f"table_prefix {table_prefix!r} must be a lowercase SQL identifier "
                "(letters, digits, '_', at most 41 characters)"
            )
        self._url = url
        self._experiments = f"{table_prefix}_experiments"
        self._totals = f"{table_prefix}_totals"
        self._timeout = call_timeout_s
        self._tables_ready = False
        self._pool = PostgresPool(
            url,
            name="PostgreSQL experiment store",
            owner="PostgresExperimentStore",
            subject=f" (tables {table_prefix}_*)",
            options=pool or PoolOptions(min_size=1, max_size=4),
            hints={asyncpg.InsufficientPrivilegeError: _PRIVILEGE_HINT},
            on_undefined_table=self._forget_tables,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresExperimentStore({mask_url(self._url)!r})"

    # --- the contract --------------------------------------------------------------------

    def create(self, state: ExperimentState) -> tuple[ExperimentState, bool]:
        return self._call(self._create(state))

    def load(self, name: str) -> ExperimentState | None:
        return self._call(self._load(name))

    def load_all(self) -> list[ExperimentState]:
        return self._call(self._load_all())

    def update(self, name: str, change: StateChange) -> ExperimentState:
        return self._call(self._update(name, change))

    def add_totals(self, deltas: Mapping[TotalsKey, VariantTotals]) -> None:
        if deltas:
            self._call(self._add_totals(dict(deltas)))

    def totals(self, name: str) -> dict[tuple[str, int], VariantTotals]:
        return self._call(self._read_totals(name))

    def close(self) -> None:
        """Close the pool and stop the loop thread. Idempotent."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._pool.aclose(), loop)
        try:
            future.result(self._timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(self._timeout)
            if not thread.is_alive():
                loop.close()

    # --- the loop thread -----------------------------------------------------------------

    def _call(self, work: Coroutine[Any, Any, _T]) -> _T:
        loop = self._running_loop(work)
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            return future.result(self._timeout)
        except TimeoutError as exc:
            future.cancel()
            raise StoreError(
                f"PostgreSQL experiment store at {mask_url(self._url)}: no answer within "
                f"{self._timeout}s; check that PostgreSQL is running and reachable."
            ) from exc

    def _running_loop(self, work: Coroutine[Any, Any, Any]) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._closed:
                work.close()
                raise StoreError(
                    "PostgreSQL experiment store: the store is closed; create a new "
                    "ABTester (or PostgresExperimentStore)."
                )
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="devora-ab-postgres", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    # --- SQL ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _connection(self, operation: str) -> AsyncIterator[Any]:
        async with self._pool.connection(operation) as conn:
            if not self._tables_ready:
                await self._create_tables(conn)
            yield conn

    def _forget_tables(self) -> None:
        self._tables_ready = False

    async def _create_tables(self, conn: Any) -> None:
        async with conn.transaction():
            await conn.execute(_LOCK, f"{self._experiments}:<schema>")
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS "{self._experiments}" (
                    name text PRIMARY KEY,
                    state text NOT NULL,
                    revision integer NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )"""
            )
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS "{self._totals}" (
                    experiment text NOT NULL,
                    variant text NOT NULL,
                    period integer NOT NULL,
                    totals text NOT NULL,
                    PRIMARY KEY (experiment, variant, period)
                )"""
            )
        self._tables_ready = True

    async def _create(self, state: ExperimentState) -> tuple[ExperimentState, bool]:
        async with self._connection("create") as conn, conn.transaction():
            inserted = await conn.fetchval(
                f'INSERT INTO "{self._experiments}" (name, state, revision) VALUES ($1, $2, $3)'
                " ON CONFLICT (name) DO NOTHING RETURNING name",
                state.name,
                state_text(state),
                state.revision,
            )
            if inserted is not None:
                return state, True
            text = await conn.fetchval(
                f'SELECT state FROM "{self._experiments}" WHERE name = $1', state.name
            )
            return state_from_text(text), False

    async def _load(self, name: str) -> ExperimentState | None:
        async with self._connection("load") as conn:
            text = await conn.fetchval(
                f'SELECT state FROM "{self._experiments}" WHERE name = $1', name
            )
        return None if text is None else state_from_text(text)

    async def _load_all(self) -> list[ExperimentState]:
        async with self._connection("list") as conn:
            rows = await conn.fetch(f'SELECT state FROM "{self._experiments}" ORDER BY name')
        return [state_from_text(row["state"]) for row in rows]

    async def _update(self, name: str, change: StateChange) -> ExperimentState:
        async with self._connection("update") as conn, conn.transaction():
            text = await conn.fetchval(
                f'SELECT state FROM "{self._experiments}" WHERE name = $1 FOR UPDATE', name
            )
            if text is None:
                names = await conn.fetch(f'SELECT name FROM "{self._experiments}"')
                raise not_found(name, sorted(str(row["name"]) for row in names))
            stored = state_from_text(text)
            changed = change(stored)
            if changed is stored:
                return stored
            changed = replace(changed, revision=stored.revision + 1)
            await conn.execute(
                f'UPDATE "{self._experiments}" SET state = $2, revision = $3, '
                "updated_at = now() WHERE name = $1",
                name,
                state_text(changed),
                changed.revision,
            )
            return changed

    async def _add_totals(self, deltas: dict[TotalsKey, VariantTotals]) -> None:
        keys = sorted(deltas)
        async with self._connection("add totals") as conn, conn.transaction():
            for experiment, variant, period in keys:
                await conn.execute(
                    f'INSERT INTO "{self._totals}" VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
                    experiment,
                    variant,
                    period,
                    merged(None, VariantTotals()),
                )
            for key in keys:
                stored = await conn.fetchval(
                    f'SELECT totals FROM "{self._totals}" WHERE experiment = $1 AND '
                    "variant = $2 AND period = $3 FOR UPDATE",
                    *key,
                )
                await conn.execute(
                    f'UPDATE "{self._totals}" SET totals = $4 WHERE experiment = $1 AND '
                    "variant = $2 AND period = $3",
                    *key,
                    merged(stored, deltas[key]),
                )

    async def _read_totals(self, name: str) -> dict[tuple[str, int], VariantTotals]:
        async with self._connection("read totals") as conn:
            rows = await conn.fetch(
                f'SELECT variant, period, totals FROM "{self._totals}" WHERE experiment = $1',
                name,
            )
        return {
            (str(row["variant"]), int(row["period"])): totals_from_text(row["totals"])
            for row in rows
        }
