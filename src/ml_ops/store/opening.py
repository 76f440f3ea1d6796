"""`open_event_store(location)`: one string (a setting, an environment variable, a CLI
flag) names any event store.

    memory:                               MemoryEventStore (nothing persists)
    sqlite:///relative/events.db          SQLiteEventStore (three slashes, then the path;
    sqlite:////absolute/events.db           four for an absolute one)
    events.db, x.sqlite, x.sqlite3        SQLiteEventStore at that file
    a directory (existing, or no suffix)  SQLiteEventStore at <directory>/events.db
    postgresql://..., postgres://...      PostgresEventStore (needs asyncpg)

With no location: `$DEVORA_EVENT_STORE`, else `$POSTGRES_CONNECTION_STRING` (the
deployment's shared PostgreSQL), else `.devora/events.db`. An unknown `scheme://` is a
`ConfigurationError`, never a file with a strange name. The grammar is
`ai.db.locations`'s, shared with the other stores.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ai.db.locations import LocationGrammar, LocationKind, location_from_environment
from ai.errors import ConfigurationError
from ml_ops.store.base import EventStore
from ml_ops.store.memory import MemoryEventStore
from ml_ops.store.sqlite import DEFAULT_PATH, SQLiteEventStore

ENV_VARIABLES = ("DEVORA_EVENT_STORE", "POSTGRES_CONNECTION_STRING")
GRAMMAR = LocationGrammar("event store", "SQLiteEventStore", "events.db")


def open_event_store(
    location: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    must_exist: bool = False,
) -> EventStore:
    """The event store `location` names (forms in the module docstring); without one,
    the environment's (`environ` defaults to `os.environ`) or `.devora/events.db`.

    Nothing is opened yet: files, folders, pools and tables are created on first use.
    Commands that only read pass `must_exist=True`: a SQLite file that is not there is
    then a `ConfigurationError` (a mistyped path would otherwise become a new, empty
    store that reads as no traffic); a PostgreSQL database is checked when connecting.
    """
    if location is None:
        environ = os.environ if environ is None else environ
        location = location_from_environment(environ, ENV_VARIABLES, DEFAULT_PATH)
    parsed = GRAMMAR.parse(location)
    if parsed.kind is LocationKind.MEMORY:
        return MemoryEventStore()
    if parsed.kind is LocationKind.POSTGRES:
        from ml_ops.store.postgres import PostgresEventStore

        return PostgresEventStore(parsed.target)
    sqlite_url = parsed.kind is LocationKind.SQLITE
    path = parsed.path if sqlite_url else GRAMMAR.sqlite_file(parsed.path)
    if must_exist and not path.is_file():
        raise ConfigurationError(
            f"no event store at {str(path)!r}: nothing has been recorded there; check the "
            "path (--store, $DEVORA_EVENT_STORE) or point it at the store your services "
            "write to"
        )
    return SQLiteEventStore(path)
