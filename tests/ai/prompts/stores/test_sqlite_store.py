"""What only the SQLite store does: its schema, WAL, lock waits and error conversion."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ai.errors import StoreError
from ai.prompts.stores import SQLiteTemplateStore
from tests.ai.prompts.stores.conftest import draft


async def test_schema_and_wal_are_set_up_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "prompts.db"
    async with SQLiteTemplateStore(path) as store:
        assert await store.names() == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = {
            table: [(row[1], row[5]) for row in conn.execute(f"PRAGMA table_info({table})")]
            for table in ("prompt_versions", "prompt_labels")
        }
    conn.close()
    assert columns["prompt_versions"] == [
        ("name", 1),
        ("version", 2),
        ("author", 0),
        ("created_at", 0),
        ("note", 0),
        ("content_hash", 0),
        ("content", 0),
    ]
    assert columns["prompt_labels"] == [
        ("name", 1),
        ("label", 2),
        ("version", 0),
        ("updated_at", 0),
    ]


async def test_writer_waits_for_the_lock_and_readers_do_not(tmp_path: Path) -> None:
    path = tmp_path / "prompts.db"
    async with SQLiteTemplateStore(path) as store:
        await store.append("greet", draft("A {x}"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds SQLite's write lock
    try:
        async with SQLiteTemplateStore(path, busy_timeout=0.2) as store:
            history = await store.load("greet")  # WAL: a reader does not wait
            assert history is not None and history.latest.version == 1
            with pytest.raises(StoreError, match="raise busy_timeout") as caught:
                await store.append("greet", draft("B {x}"))
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            other.execute("ROLLBACK")
            version, created = await store.append("greet", draft("B {x}"))
            assert (version.version, created) == (2, True)
    finally:
        other.close()


def _under_a_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    return blocker / "prompts.db"


@pytest.mark.parametrize(
    "where",
    [_under_a_file, lambda _: Path("/proc/devora-prompts.db")],
    ids=["under-a-file", "unwritable-folder"],
)
async def test_unusable_location_raises_store_error(tmp_path: Path, where: object) -> None:
    assert callable(where)
    path = where(tmp_path)
    async with SQLiteTemplateStore(path) as store:
        for attempt in (store.load("greet"), store.names(), store.append("greet", draft("A {x}"))):
            with pytest.raises(StoreError) as caught:
                await attempt
            message = str(caught.value)
            assert str(path) in message and "writable" in message
            assert isinstance(caught.value.__cause__, OSError | sqlite3.Error)


async def test_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "prompts.db"
    path.write_bytes(b"these are not the pages you are looking for" * 200)
    async with SQLiteTemplateStore(path) as store:
        with pytest.raises(StoreError, match="not a healthy SQLite database"):
            await store.load("greet")


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SQLiteTemplateStore(tmp_path / "prompts.db")
    await store.append("greet", draft("A {x}"))
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await store.load("greet")
