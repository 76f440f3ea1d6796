"""Embedding caches: the bounded memory LRU and the SQLite file that survives restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from ai.errors import ConfigurationError
from ai.rag.embedding_cache import MemoryEmbeddingCache, SqliteEmbeddingCache
from ai.rag.embeddings import EmbeddingService
from ai.testing import FakeProviderServer
from tests.ai.provider_configs import TEST_KEY


def rows(*values: float) -> np.ndarray:
    return np.array([[v, v + 1] for v in values], dtype=np.float32)


async def test_memory_cache_evicts_the_least_recently_used() -> None:
    cache = MemoryEmbeddingCache(max_entries=2)
    await cache.put_many("m", [b"a", b"b"], rows(1, 2))
    await cache.get_many("m", [b"a"])  # a is now fresher than b
    await cache.put_many("m", [b"c"], rows(3))
    found = await cache.get_many("m", [b"a", b"b", b"c"])
    assert [v is not None for v in found] == [True, False, True]
    assert len(cache) == 2


async def test_memory_cache_separates_models_and_protects_rows() -> None:
    cache = MemoryEmbeddingCache()
    matrix = rows(1)
    await cache.put_many("m1", [b"k"], matrix)
    matrix[0, 0] = 99  # the caller's matrix is not the cached row
    [hit] = await cache.get_many("m1", [b"k"])
    [other] = await cache.get_many("m2", [b"k"])
    assert hit is not None and hit[0] == 1 and other is None
    with pytest.raises(ValueError, match="read-only"):
        hit[0] = 5


async def test_sqlite_cache_survives_a_restart(tmp_path: Path) -> None:
    first = SqliteEmbeddingCache(tmp_path)
    await first.put_many("m", [b"a", b"b"], rows(1, 2))
    first.close()
    second = SqliteEmbeddingCache(tmp_path / "embeddings.sqlite", max_entries=10)
    found = await second.get_many("m", [b"b", b"x", b"a"])
    assert found[1] is None
    np.testing.assert_array_equal(np.stack([found[2], found[0]]), rows(1, 2))  # type: ignore[list-item]
    assert len(second.memory) == 2  # loaded rows are kept in memory too
    second.clear()
    assert await second.get_many("m", [b"a"]) == [None]
    second.close()


async def test_a_broken_database_costs_recomputation_not_the_call(tmp_path: Path) -> None:
    cache = SqliteEmbeddingCache(tmp_path)
    cache.close()  # every later query fails with sqlite3.ProgrammingError
    await cache.put_many("m", [b"a"], rows(1))
    cache.memory.clear()
    assert await cache.get_many("m", [b"a"]) == [None]
    with pytest.raises(sqlite3.ProgrammingError):
        cache.clear()


async def test_the_service_persists_vectors_across_instances(
    fake: FakeProviderServer, tmp_path: Path
) -> None:
    def make() -> EmbeddingService:
        return EmbeddingService(
            api_key=TEST_KEY, base_url=fake.openai_base_url, cache_path=tmp_path / "cache.db"
        )

    async with make() as first:
        before = await first.embed(["persist me", "and me"])
    async with make() as second:
        after = await second.embed(["and me", "persist me"])
    np.testing.assert_array_equal(after, before[::-1])
    assert fake.request_count() == 1
    assert second.cache_stats.hits == 2


def test_cache_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cache_path"):
        EmbeddingService(api_key=TEST_KEY, cache=False, cache_path=tmp_path)
    with pytest.raises(ConfigurationError, match="cache_size"):
        EmbeddingService(api_key=TEST_KEY, cache_size=0)
    with pytest.raises(ConfigurationError, match="cache_path"):
        EmbeddingService(api_key=TEST_KEY, cache=MemoryEmbeddingCache(), cache_path=tmp_path)
