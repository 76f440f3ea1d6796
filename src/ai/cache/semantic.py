"""Semantic matching: serve a cached answer for a differently worded but same question.

Off by default, and risky: two questions can be close in embedding space yet need
different answers ("cancel my order" / "don't cancel my order"). Use a high threshold,
scope it to deterministic prompts, and measure false hits before enabling it widely.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ai.core.embedder import TextEmbedder
from ai.errors import ConfigurationError

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SemanticMatch:
    """The cached key whose question is closest, and how close (cosine)."""

    key: str
    similarity: float


class SemanticIndex:
    """Per-scope vectors of cached questions, searched with one matrix product.

    Held in process memory, bounded by `max_entries` (oldest scope entries go first).
    """

    def __init__(
        self, embedder: TextEmbedder, threshold: float = 0.95, max_entries: int = 10_000
    ) -> None:
        if not 0 < threshold <= 1:
            raise ConfigurationError(f"semantic threshold must be within (0, 1], got {threshold}.")
        if max_entries < 1:
            raise ConfigurationError(f"semantic max_entries must be >= 1, got {max_entries}.")
        self.embedder = embedder
        self.threshold = threshold
        self.max_entries = max_entries
        self._scopes: dict[str, OrderedDict[str, Vector]] = {}
        self._size = 0

    async def vector(self, text: str) -> Vector:
        """The normalised embedding of `text`."""
        [raw] = await self.embedder.embed([text])
        vector = np.asarray(raw, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def best(self, scope: str, vector: Vector) -> SemanticMatch | None:
        """The closest cached question in `scope` at or above the threshold."""
        entries = self._scopes.get(scope)
        if not entries:
            return None
        keys = list(entries)
        similarities = np.stack(list(entries.values())) @ vector
        index = int(np.argmax(similarities))
        similarity = float(similarities[index])
        if similarity < self.threshold:
            return None
        return SemanticMatch(keys[index], similarity)

    def add(self, scope: str, key: str, vector: Vector) -> None:
        """Remember that `key` answers the question embedded as `vector`."""
        entries = self._scopes.setdefault(scope, OrderedDict())
        if key not in entries:
            self._size += 1
        entries[key] = vector
        while self._size > self.max_entries:
            self._evict_oldest()

    def forget(self, scope: str, key: str) -> None:
        """Drop `key` (its cached answer expired or was removed)."""
        entries = self._scopes.get(scope)
        if entries is not None and entries.pop(key, None) is not None:
            self._size -= 1

    def _evict_oldest(self) -> None:
        scope = max(self._scopes, key=lambda name: len(self._scopes[name]))
        self._scopes[scope].popitem(last=False)
        self._size -= 1
        if not self._scopes[scope]:
            del self._scopes[scope]

    def __len__(self) -> int:
        return self._size
