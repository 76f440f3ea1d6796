"""The SQLite embedding cache with other writers on its file: it waits its turn (through
`ai.db.sqlite`), degrades to memory when it waits too long, and names a bad path."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from ai.errors import StoreError
from ai.rag.embedding_cache import SqliteEmbeddingCache


def rows(*values: float) -> np.ndarray:
    return np.array([[v, v + 1] for v in values], dtype=np.float32)


def lock_file(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's writer holds the write lock
    return other


async def test_a_write_waits_for_another_writer(tmp_path: Path) -> None:
    cache = SqliteEmbeddingCache(tmp_path)
    other = lock_file(cache.path)
    release = threading.Timer(0.3, other.execute, ("ROLLBACK",))
    release.start()
    try:
        await cache.put_many("m", [b"a"], rows(1))
    finally:
        release.join()
        other.close()
        cache.close()
    reopened = SqliteEmbeddingCache(tmp_path)
    [vector] = await reopened.get_many("m", [b"a"])
    reopened.close()
    assert vector is not None and vector.tolist() == [1.0, 2.0]


async def test_a_write_that_waits_too_long_stays_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = SqliteEmbeddingCache(tmp_path, busy_timeout=0.2)
    other = lock_file(cache.path)
    try:
        with caplog.at_level(logging.WARNING, logger="ai.rag.embedding_cache"):
            await cache.put_many("m", [b"a"], rows(1))  # does not raise
        assert "kept in memory only" in caplog.text
        [vector] = await cache.get_many("m", [b"a"])
        assert vector is not None
    finally:
        other.close()
        cache.close()


def test_an_unusable_path_names_it_and_the_way_out(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError) as caught:
        SqliteEmbeddingCache(blocker / "sub" / "cache.sqlite")
    message = str(caught.value)
    assert str(blocker / "sub" / "cache.sqlite") in message
    assert "cache=True for memory only" in message


_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    import numpy as np
    from ai.rag.embedding_cache import SqliteEmbeddingCache

    async def main(path, tag):
        cache = SqliteEmbeddingCache(path)
        for i in range(30):
            await cache.put_many("m", [f"{tag}{i}".encode()], np.ones((1, 4), np.float32))
        cache.close()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"  # new: the writers also race to create it
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), tag],
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b", "c")
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
        assert "unwritable" not in stderr  # no write fell back to memory
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT count(*) FROM embeddings WHERE model = 'm'").fetchone()
    conn.close()
    assert stored == (90,)
