"""`open_experiment_store(location)`: one string names any experiment store.

    memory:                                  MemoryExperimentStore (nothing persists)
    sqlite:///relative.db, sqlite:////abs.db SQLiteExperimentStore at that path
    x.db, x.sqlite, x.sqlite3                SQLiteExperimentStore at that file
    a directory (existing, or no suffix)     SQLiteExperimentStore at <dir>/experiments.db
    postgresql://..., postgres://...         PostgresExperimentStore (needs asyncpg)

With no location: `$DEVORA_EXPERIMENTS_STORE`, else `$POSTGRES_CONNECTION_STRING` (the
deployment's shared PostgreSQL), else `.devora/experiments.db`. An unknown `scheme://` is
a `ConfigurationError`. The grammar is `ai.db.locations`'s, shared with the other stores.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ai.db.locations import LocationGrammar, LocationKind, location_from_environment
from ai.errors import ConfigurationError
from ml_ops.ab_testing.stores.base import ExperimentStore
from ml_ops.ab_testing.stores.memory import MemoryExperimentStore
from ml_ops.ab_testing.stores.sqlite import DEFAULT_PATH, SQLiteExperimentStore

ENV_VARIABLES = ("DEVORA_EXPERIMENTS_STORE", "POSTGRES_CONNECTION_STRING")
GRAMMAR = LocationGrammar("experiment store", "SQLiteExperimentStore", "experiments.db")


def open_experiment_store(
    location: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    must_exist: bool = False,
) -> ExperimentStore:
    """The experiment store `location` names (forms in the module docstring); without
    one, the environment's (`environ` defaults to `os.environ`) or the default file.
    Nothing is opened until first use. With `must_exist`, a SQLite file that is not there
    is a `ConfigurationError` (a mistyped path would otherwise become a new, empty store
    that lists no experiments); a PostgreSQL database is checked when connecting."""
    if location is None:
        environ = os.environ if environ is None else environ
        location = location_from_environment(environ, ENV_VARIABLES, DEFAULT_PATH)
    parsed = GRAMMAR.parse(location)
    if parsed.kind is LocationKind.MEMORY:
        return MemoryExperimentStore()
    if parsed.kind is LocationKind.POSTGRES:
        from ml_ops.ab_testing.stores.postgres import PostgresExperimentStore

        return PostgresExperimentStore(parsed.target)
    path = parsed.path if parsed.kind is LocationKind.SQLITE else GRAMMAR.sqlite_file(parsed.path)
    if must_exist and not path.is_file():
        raise ConfigurationError(
            f"no experiment store at {str(path)!r}: no experiment was created there; check "
            "the path (--store, $DEVORA_EXPERIMENTS_STORE) or create one with "
            "`devora experiments create`"
        )
    return SQLiteExperimentStore(path)
