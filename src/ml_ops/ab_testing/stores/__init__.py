"""Where experiments live: SQLite (the embedded default, `.devora/experiments.db`),
PostgreSQL (shared by a deployment) or memory, behind one synchronous contract
(`ExperimentStore`). `open_experiment_store(location)` opens any of them by name;
`PostgresExperimentStore` is imported on first use, so asyncpg is never imported unless
asked for.
"""

import typing as _typing

from ai.core import lazy as _lazy
from ml_ops.ab_testing.stores.base import ExperimentStore
from ml_ops.ab_testing.stores.memory import MemoryExperimentStore
from ml_ops.ab_testing.stores.opening import open_experiment_store
from ml_ops.ab_testing.stores.sqlite import SQLiteExperimentStore

if _typing.TYPE_CHECKING:
    from ml_ops.ab_testing.stores.postgres import PostgresExperimentStore

__all__ = [
    "ExperimentStore",
    "MemoryExperimentStore",
    "PostgresExperimentStore",
    "SQLiteExperimentStore",
    "open_experiment_store",
]

__getattr__, __dir__ = _lazy.lazy_exports(
    __name__, __all__, {"PostgresExperimentStore": "ml_ops.ab_testing.stores.postgres"}
)
