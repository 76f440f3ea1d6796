"""Cache counters: hits, misses, skips by reason, backend outages, latency, cost saved."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ai.cache.backend import BackendStats


@dataclass
class CacheMetrics:
    """Mutable counters kept by `ResponseCache`; `snapshot()` gives a plain dict."""

    hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    sets: int = 0
    coalesced: int = 0
    backend_errors: int = 0
    outages: int = 0
    cost_saved: float = 0.0
    skipped: Counter[str] = field(default_factory=Counter)
    get_seconds: float = 0.0
    gets: int = 0
    set_seconds: float = 0.0

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def snapshot(self, backend: BackendStats, backend_name: str, available: bool) -> dict[str, Any]:
        """Everything at once, for printing, JSON or the dashboard."""
        return {
            "backend": backend_name,
            "available": available,
            "hits": self.hits,
            "semantic_hits": self.semantic_hits,
            "misses": self.misses,
            "hit_rate": self.hit_rate,
            "sets": self.sets,
            "coalesced_calls": self.coalesced,
            "skipped": dict(self.skipped),
            "backend_errors": self.backend_errors,
            "outages": self.outages,
            "entries": backend.entries,
            "bytes": backend.bytes,
            "evictions": backend.evictions,
            "expirations": backend.expirations,
            "avg_get_ms": self.get_seconds / self.gets * 1000 if self.gets else 0.0,
            "avg_set_ms": self.set_seconds / self.sets * 1000 if self.sets else 0.0,
            "cost_saved": self.cost_saved,
        }
