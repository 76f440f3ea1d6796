"""Embedding caches keyed by (model id, SHA-256 of the text): unchanged texts are embedded once.

`MemoryEmbeddingCache` is a bounded LRU in process memory (the default).
`SqliteEmbeddingCache` adds a SQLite file under it, so vectors survive restarts and are
shared by processes on one machine: one table, `embeddings(model, key, dim, vector)`,
vectors stored as little-endian float32 bytes, WAL mode. Its disk work runs in a worker
thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ai.errors import ConfigurationError, StoreError

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

DEFAULT_MAX_ENTRIES = 10_000
SQLITE_FILE_NAME = "embeddings.sqlite"
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
    `embeddings.sqlite`."""

    def __init__(
        self, path: str | os.PathLike[str], max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        target = Path(path)
        if target.is_dir():
            target = target / SQLITE_FILE_NAME
        self.path = target
        self.memory = MemoryEmbeddingCache(max_entries)
        self._lock = threading.Lock()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, key BLOB NOT NULL, "
                "dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, key)) "
                "WITHOUT ROWID"
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"Cannot open the embedding cache at {target} ({exc}); pass a writable "
                "cache_path or cache=True for memory only."
            ) from exc

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
            self._db.execute("DELETE FROM embeddings")

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    def _select(self, model_id: str, keys: list[bytes]) -> dict[bytes, Vector]:
        found: dict[bytes, Vector] = {}
        with self._lock:
            for start in range(0, len(keys), _SQL_VARIABLES):
                chunk = keys[start : start + _SQL_VARIABLES]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, dim, vector FROM embeddings WHERE model = ? AND key IN ({marks})",  # noqa: S608 - only placeholders are interpolated
                    (model_id, *chunk),
                )
                for key, dim, blob in rows:
                    vector = np.frombuffer(blob, dtype="<f4").astype(np.float32, copy=False)
                    if vector.shape[0] == dim:
                        found[bytes(key)] = vector
        return found

    def _insert(self, model_id: str, keys: Sequence[bytes], vectors: Matrix) -> None:
        little = vectors.astype("<f4", copy=False)
        dim = int(little.shape[1])
        rows = [(model_id, key, dim, row.tobytes()) for key, row in zip(keys, little, strict=True)]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO embeddings (model, key, dim, vector) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
