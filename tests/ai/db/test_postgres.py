"""The shared asyncpg pool: lazy opening, connection hooks, the error boundary, closing.

Runs against the real PostgreSQL of the test session; each test gets its own schema
(`postgres_test_url`). The dead-server case uses a port nobody listens on.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import asyncpg
import pytest

from ai.db.postgres import PoolOptions, PostgresPool
from ai.errors import ConfigurationError, StoreError
from tests.services.ports import closed_port


def make_pool(url: str, **kwargs: Any) -> PostgresPool:
    return PostgresPool(url, name="test store", owner="TestStore", subject=" on 't'", **kwargs)


def dead_url() -> str:
    return f"postgresql://devora:hunter2-secret@127.0.0.1:{closed_port()}/nowhere"


async def test_connection_runs_statements(postgres_test_url: str) -> None:
    pool = make_pool(postgres_test_url)
    try:
        async with pool.connection("select") as conn:
            assert await conn.fetchval("SELECT 41 + 1") == 42
    finally:
        await pool.aclose()


async def test_init_and_reset_hooks_reach_asyncpg(postgres_test_url: str) -> None:
    resets: list[bool] = []

    async def init(conn: Any) -> None:
        await conn.execute("SET application_name = 'from_init'")

    async def reset(conn: Any) -> None:
        resets.append(conn.is_in_transaction())

    pool = make_pool(postgres_test_url, options=PoolOptions(max_size=1, init=init, reset=reset))
    try:
        async with pool.connection("first") as conn:
            assert await conn.fetchval("SHOW application_name") == "from_init"
            await conn.execute("SET statement_timeout = '7s'")
        async with pool.connection("second") as conn:  # same connection: no RESET ALL ran
            assert await conn.fetchval("SHOW statement_timeout") == "7s"
        assert resets == [False, False]
    finally:
        await pool.aclose()


async def test_default_reset_clears_session_settings(postgres_test_url: str) -> None:
    pool = make_pool(postgres_test_url, options=PoolOptions(max_size=1))
    try:
        async with pool.connection("first") as conn:
            await conn.execute("SET statement_timeout = '7s'")
        async with pool.connection("second") as conn:
            assert await conn.fetchval("SHOW statement_timeout") == "0"
    finally:
        await pool.aclose()


async def test_sql_errors_become_store_errors_naming_what_failed(postgres_test_url: str) -> None:
    dropped: list[str] = []
    pool = make_pool(
        postgres_test_url,
        hints={asyncpg.UndefinedFunctionError: "Install the extension."},
        on_undefined_table=lambda: dropped.append("table"),
    )
    try:
        with pytest.raises(StoreError) as caught:
            async with pool.connection("count") as conn:
                await conn.fetchval("SELECT count(*) FROM no_such_table")
        message = str(caught.value)
        assert message.startswith("test store count on 't' at postgresql://")
        assert "UndefinedTableError" in message and "server log" in message
        assert isinstance(caught.value.__cause__, asyncpg.UndefinedTableError)
        assert dropped == ["table"]

        with pytest.raises(
            StoreError, match=r"(?s)UndefinedFunctionError.*Install the extension\."
        ):
            async with pool.connection("call") as conn:
                await conn.fetchval("SELECT no_such_function()")
        assert dropped == ["table"]  # only a missing table is reported

        async with pool.connection("after") as conn:  # errors leave the pool usable
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.aclose()


async def test_other_exceptions_pass_through_unchanged(postgres_test_url: str) -> None:
    pool = make_pool(postgres_test_url)
    try:
        with pytest.raises(KeyError):
            async with pool.connection("lookup"):
                raise KeyError("not a driver error")
    finally:
        await pool.aclose()


async def test_dead_server_raises_store_error_without_password() -> None:
    pool = make_pool(dead_url(), options=PoolOptions(connect_timeout_s=5))
    for attempt in range(2):  # a failed attempt leaves no pool behind: the next one retries
        with pytest.raises(StoreError) as caught:
            async with pool.connection(f"try{attempt}"):
                pass
        message = str(caught.value)
        assert "hunter2-secret" not in message
        assert "devora:***@127.0.0.1" in message and "PostgreSQL is running" in message
    await pool.aclose()


async def test_malformed_url_is_a_configuration_error() -> None:
    pool = make_pool("postgresql://devora:hunter2-secret@localhost:notaport/db")
    with pytest.raises(ConfigurationError, match="test store: the connection string") as caught:
        async with pool.connection("select"):
            pass
    assert "hunter2-secret" not in str(caught.value)
    assert "devora:***@localhost" in str(caught.value)


async def test_closed_pool_refuses_work(postgres_test_url: str) -> None:
    pool = make_pool(postgres_test_url)
    async with pool.connection("select") as conn:
        await conn.fetchval("SELECT 1")
    await pool.aclose()
    await pool.aclose()  # idempotent
    with pytest.raises(StoreError, match=r"test store load: the store is closed; create a new"):
        async with pool.connection("load"):
            pass


async def test_closing_an_unopened_pool_needs_no_server() -> None:
    pool = make_pool(dead_url())
    await pool.aclose()
    with pytest.raises(StoreError, match="closed"):
        async with pool.connection("load"):
            pass


@pytest.mark.parametrize(
    "options",
    [
        {"min_size": 2, "max_size": 1},
        {"min_size": -1},
        {"min_size": 0, "max_size": 0},
        {"connect_timeout_s": 0},
        {"command_timeout_s": 0},
    ],
)
def test_options_are_checked_when_made(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        PoolOptions(**options)


async def test_a_frozen_server_fails_the_statement_within_the_command_timeout(
    postgres_test_url: str,
) -> None:
    pool = make_pool(postgres_test_url, options=PoolOptions(max_size=1, command_timeout_s=0.5))
    async with pool.connection("probe") as conn:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
    os.kill(backend, signal.SIGSTOP)  # the server process behind our one connection hangs
    try:
        with pytest.raises(StoreError, match="command timeout") as caught:
            async with pool.connection("render") as conn:
                await conn.fetchval("SELECT 1")
        assert "command_timeout_s" in str(caught.value)
    finally:
        os.kill(backend, signal.SIGCONT)
    async with pool.connection("after") as conn:  # the pool recovers by itself
        assert await conn.fetchval("SELECT 2") == 2
    await pool.aclose()
