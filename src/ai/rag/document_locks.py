"""Per-document locks, so that two `add_documents` calls for one id in a process take turns.

Without them, two concurrent calls for the same document could both read the store's
old hash, both write, and leave chunks of both versions behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

__all__ = ["DocumentLocks"]


@dataclass(slots=True)
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class DocumentLocks:
    """asyncio locks by document id, made on demand and dropped as soon as nobody holds or
    waits for them: the map stays small and no lock outlives the event loop it served."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @contextlib.asynccontextmanager
    async def hold(self, ids: Iterable[str]) -> AsyncIterator[None]:
        """Hold the lock of every id in `ids`; taken in sorted order, so that two callers
        whose ids overlap cannot deadlock."""
        ordered = sorted(set(ids))
        entries = [self._entries.setdefault(id, _Entry()) for id in ordered]
        for entry in entries:
            entry.users += 1
        held: list[asyncio.Lock] = []
        try:
            for entry in entries:
                await entry.lock.acquire()
                held.append(entry.lock)
            yield
        finally:
            for lock in held:
                lock.release()
            for id, entry in zip(ordered, entries, strict=True):
                entry.users -= 1
                if entry.users == 0:
                    del self._entries[id]
