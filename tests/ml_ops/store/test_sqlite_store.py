"""What only the SQLite store does: its file, WAL, the default place, the blocking append."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ml_ops.store import RecordQuery, SQLiteEventStore
from tests.ml_ops.store.factories import make_record


async def test_file_and_folder_are_created_on_first_use_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "events.db"
    store = SQLiteEventStore(path)
    assert not path.parent.exists()
    await store.append([make_record(1)])
    await store.aclose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert store.spill_dir == tmp_path / "nested" / "events.db.spill"


async def test_default_path_is_under_dot_devora(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with SQLiteEventStore() as store:
        await store.append([make_record(1)])
    assert (tmp_path / ".devora" / "events.db").is_file()


async def test_append_blocking_needs_no_event_loop(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.db")
    assert store.append_blocking([make_record(1), make_record(2)]) == 2
    assert store.append_blocking([make_record(2)]) == 0
    assert await store.count(RecordQuery()) == 2
    await store.aclose()


async def test_an_integer_too_large_for_sqlite_is_a_store_error(tmp_path: Path) -> None:
    from ai.core.usage import Usage
    from ai.errors import StoreError

    huge = make_record(1, usage=Usage(input_tokens=2**70))
    async with SQLiteEventStore(tmp_path / "events.db") as store:
        with pytest.raises(StoreError, match="append failed"):
            await store.append([huge])
