"""What only the PostgreSQL store does: table prefixes, errors, and the optional driver.

Tests with a server use a fresh schema each (`postgres_test_url`).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from ai.errors import ConfigurationError, StoreError
from ai.prompts.stores.postgres import PostgresTemplateStore
from tests.ai.prompts.stores.conftest import draft
from tests.services.ports import closed_port


async def table_exists(pg_conn: Any, name: str) -> bool:
    return bool(await pg_conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


async def test_tables_use_the_prefix_in_the_current_schema(
    postgres_test_url: str, pg_conn: Any
) -> None:
    async with (
        PostgresTemplateStore(postgres_test_url, table_prefix="team_a") as team_a,
        PostgresTemplateStore(postgres_test_url) as default,
    ):
        await team_a.append("greet", draft("A {x}"), labels=["production"])
        assert await default.names() == []  # another prefix, other tables
        await default.append("greet", draft("Other {x}"))
    for table in ("team_a_versions", "team_a_labels", "devora_prompt_versions"):
        assert await table_exists(pg_conn, table)
    schema = await pg_conn.fetchval("SELECT current_schema()")
    assert (
        await pg_conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'team_a_%'",
            schema,
        )
        == 2
    )
    row = await pg_conn.fetchrow(
        "SELECT version, author, content->>'text' AS text FROM team_a_versions"
    )
    assert (row["version"], row["author"], row["text"]) == (1, "tester", "A {x}")
    assert (
        await pg_conn.fetchval("SELECT version FROM team_a_labels WHERE label = 'production'") == 1
    )


@pytest.mark.parametrize("prefix", ["Team", "1abc", "", 'x"; DROP TABLE y; --', "a-b", "p" * 42])
def test_table_prefix_must_be_an_identifier(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="table_prefix"):
        PostgresTemplateStore("postgresql://127.0.0.1/db", table_prefix=prefix)


async def test_dead_database_raises_store_error_without_password() -> None:
    url = f"postgresql://devora:hunter2-secret@127.0.0.1:{closed_port()}/nowhere"
    async with PostgresTemplateStore(url) as store:
        assert "hunter2-secret" not in repr(store)
        for attempt in (store.load("greet"), store.names(), store.append("greet", draft("A {x}"))):
            with pytest.raises(StoreError) as caught:
                await attempt
            message = str(caught.value)
            assert "hunter2-secret" not in message
            assert "devora:***@127.0.0.1" in message and "PostgreSQL is running" in message


async def test_tables_dropped_behind_its_back_are_recreated(
    postgres_test_url: str, pg_conn: Any
) -> None:
    async with PostgresTemplateStore(postgres_test_url) as store:
        await store.append("greet", draft("A {x}"))
        await pg_conn.execute("DROP TABLE devora_prompt_labels, devora_prompt_versions")
        with pytest.raises(StoreError, match="UndefinedTableError"):
            await store.load("greet")
        assert await store.load("greet") is None  # the next call recreates them
        version, _ = await store.append("greet", draft("B {x}"))
        assert version.version == 1


async def test_closed_store_refuses_work(postgres_test_url: str) -> None:
    store = PostgresTemplateStore(postgres_test_url)
    await store.append("greet", draft("A {x}"))
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await store.load("greet")


def test_missing_driver_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "from ai.prompts.stores import open_template_store\n"
        "try:\n    open_template_store('postgresql://127.0.0.1/db')\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "PostgreSQL template store needs asyncpg" in result.stdout
    assert "pip install 'devora-ai[pgvector]'" in result.stdout
