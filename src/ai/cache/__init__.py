"""Response caching: memory LRU+TTL or Redis, single-flight, optional semantic matching.

    from ai.cache import ResponseCache
    cache = ResponseCache.memory(max_entries=10_000, ttl=3600)   # or ResponseCache.redis(url)
    llm = LLMService(config, cache=cache)

`RedisBackend` is imported on first use, so `import ai.cache` never imports redis.
"""

from __future__ import annotations

import typing as _typing

from ai.cache.backend import BackendStats, CacheBackend
from ai.cache.entry import CachedResponse, CacheValueError
from ai.cache.memory import MemoryBackend
from ai.cache.response_cache import CacheMode, CachePlan, ResponseCache
from ai.cache.semantic import SemanticIndex
from ai.core import lazy as _lazy
from ai.core.embedder import TextEmbedder

if _typing.TYPE_CHECKING:
    from ai.cache.redis_backend import RedisBackend

__all__ = [
    "BackendStats",
    "CacheBackend",
    "CacheMode",
    "CachePlan",
    "CacheValueError",
    "CachedResponse",
    "MemoryBackend",
    "RedisBackend",
    "ResponseCache",
    "SemanticIndex",
    "TextEmbedder",
]


__getattr__, __dir__ = _lazy.lazy_exports(
    __name__, __all__, {"RedisBackend": "ai.cache.redis_backend"}
)
