"""Database plumbing shared by every store: one asyncpg pool boundary (`postgres`), one
SQLite opener (`sqlite`) and one Redis client factory (`redis`).

Each module imports its driver only when used, so `import ai.db` stays driver-free; the
names below load on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PoolOptions": "ai.db.postgres",
    "PostgresPool": "ai.db.postgres",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ai.db' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return list(__all__)
