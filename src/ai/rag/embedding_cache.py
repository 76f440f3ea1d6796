"""Embedding caches keyed by (model id, SHA-256 of the text): unchanged texts are embedded once.

`MemoryEmbeddingCache` is a bounded LRU in process memory (the default).
`SqliteEmbeddingCache` adds a SQLite file under it, so vectors survive restarts and are
shared by processes on one machine: one table, `embeddings(model, key, dim, vector)`,
vectors stored as little-endian float32 bytes, WAL mode. Its disk work runs in a worker
thread, never on the event loop. The file is opened and written through `ai.db.sqlite`,
so writers of several processes take turns (`BEGIN IMMEDIATE`, retried while the file is
busy) instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ai.db.sqlite import open_sqlite, read_transaction, sqlite_errors, write_transaction
from ai.errors import ConfigurationError

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

DEFAULT_MAX_ENTRIES = 10_000
SQLITE_FILE_NAME = "embeddings.sqlite"
#: Seconds a cache write waits for another process's write lock; a cache should not stall
#: the call it speeds up for long (a failed write only costs recomputation later).
DEFAULT_BUSY_TIMEOUT_S = 5.0
_STORE = "embedding cache"
_ADVICE = "Pass a writable cache_path, or cache=True for memory only."
_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, key BLOB NOT NULL, "
    "dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID"
)
_INSERT = "INSERT OR REPLACE INTO embeddings (model, key, dim, vector) VALUES (?, ?, ?, ?)"
_SQL_VARIABLES = 500  # keys per SELECT, well under SQLite's 32,766 limit

logger = logging.getLogger(__name__)


class EmbeddingCache(Protocol):
    """Vectors by model id and text digest. Rows handed back must not be modified."""

    async def get_many(self, model_id: str, keys: Sequence[bytes]) -> list[Vector | None]:
        """One entry per key: the cached vector, or None."""
        ...

    async def put_many(self, model_id: str, keys: Sequence[bytes], vectors: Matrix) -> None:
        """Remember row i of `vectors` under `keys[i]`."""
        ...

    def clear(self) -> None:
        """Forget everything."""
        ...


class MemoryEmbeddingCache:
    """A least-recently-used map bounded by entry count (`max_entries` vectors)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ConfigurationError(f"cache_size must be >= 1, got {max_entries}.")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, bytes], Vector] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, model_id: str, keys: Sequence[bytes]) -> list[Vector | None]:
        """The synchronous lookup behind `get_many`."""
        entries = self._entries
        found: list[Vector | None] = []
        for key in keys:
            slot = (model_id, key)
            vector = entries.get(slot)
            if vector is not None:
                entries.move_to_end(slot)
            found.append(vector)
        return found

    def store(self, model_id: str, keys: Sequence[bytes], vectors: Matrix) -> None:
        """The synchronous store behind `put_many`; each row is copied so the caller's
        matrix is not kept alive by a few cached rows."""
        entries = self._entries
        for key, row in zip(keys, vectors, strict=True):
            vector = row.copy()
            vector.flags.writeable = False
            entries[(model_id, key)] = vector
            entries.move_to_end((model_id, key))
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    async def get_many(self, model_id: str, keys: Sequence[bytes]) -> list[Vector | None]:
        return self.lookup(model_id, keys)

    async def put_many(self, model_id: str, keys: Sequence[bytes], vectors: Matrix) -> None:
        self.store(model_id, keys, vectors)

    def clear(self) -> None:
        self._entries.clear()


class SqliteEmbeddingCache:
    """A SQLite file behind a memory LRU. `path` is the file, or a folder to hold
    `embeddings.sqlite`.

    Opening raises `StoreError` when the file cannot be used; afterwards a failed read or
    write only logs a warning (the vectors are recomputed or kept in memory). A write
    waits up to `busy_timeout` seconds for another writer of the same file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_entries: int = DEFAULT_MAX_ENTRIES,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        target = Path(path)
        if target.is_dir():
            target = target / SQLITE_FILE_NAME
        self.path = target
        self.memory = MemoryEmbeddingCache(max_entries)
        self._lock = threading.Lock()
        self._busy_timeout = busy_timeout
        self._db = open_sqlite(target, store=_STORE, busy_timeout=busy_timeout, advice=_ADVICE)
        try:
            with sqlite_errors(
                target,
                store=_STORE,
                operation="create table",
                busy_timeout=busy_timeout,
                advice=_ADVICE,
            ):
                self._write(lambda db: db.execute(_CREATE_TABLE))
        except BaseException:
            self._db.close()
            raise

    async def get_many(self, model_id: str, keys: Sequence[bytes]) -> list[Vector | None]:
        found = self.memory.lookup(model_id, keys)
        missing = [i for i, vector in enumerate(found) if vector is None]
        if not missing:
            return found
        try:
            stored = await asyncio.to_thread(self._select, model_id, [keys[i] for i in missing])
        except sqlite3.Error as exc:  # a broken cache costs recomputation, never the call
            logger.warning("embedding cache %s unreadable (%s); embedding afresh", self.path, exc)
            return found
        loaded_keys: list[bytes] = []
        loaded: list[Vector] = []
        for i in missing:
            vector = stored.get(keys[i])
            if vector is not None:
                found[i] = vector
                loaded_keys.append(keys[i])
                loaded.append(vector)
        if loaded:
            self.memory.store(model_id, loaded_keys, np.stack(loaded))
        return found

    async def put_many(self, model_id: str, keys: Sequence[bytes], vectors: Matrix) -> None:
        self.memory.store(model_id, keys, vectors)
        try:
            await asyncio.to_thread(self._insert, model_id, keys, vectors)
        except sqlite3.Error as exc:
            logger.warning(
                "embedding cache %s unwritable (%s); kept in memory only", self.path, exc
            )

    def clear(self) -> None:
        """Forget everything, on disk too."""
        self.memory.clear()
        with self._lock:
            self._write(lambda db: db.execute("DELETE FROM embeddings"))

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    def _select(self, model_id: str, keys: list[bytes]) -> dict[bytes, Vector]:
        with self._lock:
            return read_transaction(
                self._db,
                lambda db: _select_vectors(db, model_id, keys),
                busy_timeout=self._busy_timeout,
            )

    def _insert(self, model_id: str, keys: Sequence[bytes], vectors: Matrix) -> None:
        little = vectors.astype("<f4", copy=False)
        dim = int(little.shape[1])
        rows = [(model_id, key, dim, row.tobytes()) for key, row in zip(keys, little, strict=True)]
        with self._lock:
            self._write(lambda db: db.executemany(_INSERT, rows))

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        """One write transaction, retried while another writer holds the file."""
        write_transaction(self._db, work, busy_timeout=self._busy_timeout)


def _select_vectors(
    db: sqlite3.Connection, model_id: str, keys: list[bytes]
) -> dict[bytes, Vector]:
    """The stored vectors among `keys`, in chunks that stay under SQLite's variable limit;
    rows whose length disagrees with their `dim` are skipped as damaged."""
    found: dict[bytes, Vector] = {}
    for start in range(0, len(keys), _SQL_VARIABLES):
        chunk = keys[start : start + _SQL_VARIABLES]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT key, dim, vector FROM embeddings WHERE model = ? AND key IN ({marks})",  # noqa: S608 - only placeholders are interpolated
            (model_id, *chunk),
        )
        for key, dim, blob in rows:
            vector = np.frombuffer(blob, dtype="<f4").astype(np.float32, copy=False)
            if vector.shape[0] == dim:
                found[bytes(key)] = vector
    return found
