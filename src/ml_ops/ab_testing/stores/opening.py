"""`open_experiment_store(location)`: one string names any experiment store.

    memory:                                  MemoryExperimentStore (nothing persists)
    sqlite:///relative.db, sqlite:////abs.db SQLiteExperimentStore at that path
    x.db, x.sqlite, x.sqlite3                SQLiteExperimentStore at that file
    a directory (existing, or no suffix)     SQLiteExperimentStore at <dir>/experiments.db
    postgresql://..., postgres://...         PostgresExperimentStore (needs asyncpg)

With no location: `$DEVORA_EXPERIMENTS_STORE`, else `$POSTGRES_CONNECTION_STRING` (the
deployment's shared PostgreSQL), else `.devora/experiments.db`. An unknown `scheme://` is
a `ConfigurationError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ai.errors import ConfigurationError
from ml_ops.ab_testing.stores.base import ExperimentStore
from ml_ops.ab_testing.stores.memory import MemoryExperimentStore
from ml_ops.ab_testing.stores.sqlite import DEFAULT_PATH, SQLiteExperimentStore

MEMORY_LOCATION = "memory:"
ENV_VARIABLES = ("DEVORA_EXPERIMENTS_STORE", "POSTGRES_CONNECTION_STRING")
FILE_NAME = "experiments.db"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def open_experiment_store(
    location: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> ExperimentStore:
    """The experiment store `location` names (forms in the module docstring); without
    one, the environment's (`environ` defaults to `os.environ`) or the default file.
    Nothing is opened until first use."""
    if location is None:
        location = _from_environment(os.environ if environ is None else environ)
    if isinstance(location, Path):
        return _path_store(location, str(location))
    if location == MEMORY_LOCATION:
        return MemoryExperimentStore()
    scheme = _URL_SCHEME.match(location)
    if scheme is None:
        return _path_store(Path(location), location)
    kind = scheme.group(1).lower()
    if kind == "sqlite":
        return SQLiteExperimentStore(_sqlite_path(location))
    if kind in ("postgresql", "postgres"):
        from ml_ops.ab_testing.stores.postgres import PostgresExperimentStore

        return PostgresExperimentStore(location)
    raise ConfigurationError(
        f"experiment store {kind}:// is not supported; use sqlite:///file.db, "
        f"postgresql://..., {MEMORY_LOCATION}, a .db file or a directory"
    )


def _from_environment(environ: Mapping[str, str]) -> str | Path:
    for name in ENV_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return value
    return DEFAULT_PATH


def _sqlite_path(url: str) -> str:
    path = url.split("://", 1)[1]
    if re.search(r"[?#]", path) or not path.startswith("/") or len(path) < 2:
        raise ConfigurationError(
            f"experiment store URL {url!r}: write sqlite:///experiments.db (relative) or "
            "sqlite:////var/lib/devora/experiments.db (absolute), without options"
        )
    return path[1:]


def _path_store(path: Path, written: str) -> ExperimentStore:
    if path.suffix.lower() in SQLITE_SUFFIXES:
        return SQLiteExperimentStore(path)
    if path.is_dir() or not path.suffix:
        return SQLiteExperimentStore(path / FILE_NAME)
    raise ConfigurationError(
        f"experiment store {written!r}: name a SQLite file ({', '.join(SQLITE_SUFFIXES)}), "
        f"a directory, {MEMORY_LOCATION}, sqlite:///... or postgresql://..."
    )
