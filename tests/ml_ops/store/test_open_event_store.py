"""`open_event_store`: one string names any store; the environment picks the default."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ai.errors import ConfigurationError
from ml_ops.store import (
    MemoryEventStore,
    PostgresEventStore,
    SQLiteEventStore,
    open_event_store,
)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("events.db", "events.db"),
        ("data/x.sqlite", "data/x.sqlite"),
        ("data/x.SQLITE3", "data/x.SQLITE3"),
        ("sqlite:///rel/events.db", "rel/events.db"),
        ("sqlite:////abs/events.db", "/abs/events.db"),
        ("some/folder", "some/folder/events.db"),
        (Path("p/e.db"), "p/e.db"),
    ],
)
def test_paths_and_sqlite_urls_open_sqlite(location: str | Path, expected: str) -> None:
    store = open_event_store(location)
    assert isinstance(store, SQLiteEventStore)
    assert store.path == Path(expected)


def test_an_existing_directory_holds_events_db(tmp_path: Path) -> None:
    folder = tmp_path / "state.d"  # a suffix, but a directory
    folder.mkdir()
    store = open_event_store(str(folder))
    assert isinstance(store, SQLiteEventStore) and store.path == folder / "events.db"
    assert not store.path.exists()  # nothing is created before first use


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u:p@h:5433/db?sslmode=off"])
def test_postgres_urls_open_postgres(url: str) -> None:
    assert isinstance(open_event_store(url), PostgresEventStore)


def test_memory() -> None:
    assert isinstance(open_event_store("memory:"), MemoryEventStore)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("mysql://h/db", "mysql:// is not supported"),
        ("redis://localhost", "redis:// is not supported"),
        ("memory:extra", "takes no options"),
        ("sqlite://events.db", "three slashes"),
        ("sqlite:///events.db?mode=ro", "options"),
        ("notes.txt", "name a SQLite file"),
    ],
)
def test_bad_locations_are_configuration_errors(location: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        open_event_store(location)


def test_environment_order() -> None:
    both = {"DEVORA_EVENT_STORE": "memory:", "POSTGRES_CONNECTION_STRING": "postgresql://h/db"}
    assert isinstance(open_event_store(environ=both), MemoryEventStore)
    only_pg = {"DEVORA_EVENT_STORE": "  ", "POSTGRES_CONNECTION_STRING": "postgresql://h/db"}
    assert isinstance(open_event_store(environ=only_pg), PostgresEventStore)
    default = open_event_store(environ={})
    assert isinstance(default, SQLiteEventStore)
    assert default.path == Path(".devora/events.db")


def test_a_reader_never_creates_a_missing_sqlite_store(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "evnets.db"
    for location in (str(missing), f"sqlite:///{missing}", str(tmp_path / "empty-dir")):
        with pytest.raises(ConfigurationError, match="no event store at"):
            open_event_store(location, must_exist=True)
    assert list(tmp_path.iterdir()) == []  # no folder, no file
    written = tmp_path / "state" / "events.db"
    asyncio.run(_create(written))  # a writer creates it
    for location in (str(written), str(written.parent)):
        found = open_event_store(location, must_exist=True)
        assert isinstance(found, SQLiteEventStore) and found.path == written


async def _create(path: Path) -> None:
    async with SQLiteEventStore(path) as store:
        await store.alerts()
