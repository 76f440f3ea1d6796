"""One `Backend` per event store kind: how to open it (again), so a contract test runs the
same on memory, SQLite (tmp_path) and PostgreSQL (a fresh schema per test).

`backend` is parametrised by name, indirectly: the PostgreSQL one asks for
`postgres_test_url` only when it runs, so the others never start a server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ml_ops.store import EventStore, MemoryEventStore, open_event_store

ALL_BACKENDS = ["memory", "sqlite", "postgres"]
DURABLE_BACKENDS = ["sqlite", "postgres"]


@dataclass
class Backend:
    """A store location; `open()` gives a new store object on it (memory: the one)."""

    kind: str
    location: str
    _opened: list[EventStore] = field(default_factory=list)
    _memory: MemoryEventStore | None = None

    def open(self) -> EventStore:
        if self.kind == "memory":
            if self._memory is None:
                self._memory = MemoryEventStore()
            return self._memory
        store = open_event_store(self.location)
        self._opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self._opened:
            await store.aclose()


def make_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    if kind == "memory":
        return Backend(kind, "memory:")
    if kind == "sqlite":
        return Backend(kind, str(tmp_path / "events.db"))
    return Backend(kind, request.getfixturevalue("postgres_test_url"))


@pytest.fixture
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = make_backend(request.param, tmp_path, request)
    try:
        yield made
    finally:
        await made.close_all()
