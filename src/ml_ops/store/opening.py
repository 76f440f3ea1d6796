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
`ConfigurationError`, never a file with a strange name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ai.errors import ConfigurationError
from ml_ops.store.base import EventStore
from ml_ops.store.memory import MemoryEventStore
from ml_ops.store.sqlite import DEFAULT_PATH, SQLiteEventStore

MEMORY_LOCATION = "memory:"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
FILE_NAME = "events.db"
ENV_VARIABLES = ("DEVORA_EVENT_STORE", "POSTGRES_CONNECTION_STRING")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def _sqlite_url(url: str) -> EventStore:
    path = url.split("://", 1)[1]
    if re.search(r"[?#]", path):
        raise ConfigurationError(
            f"event store URL {url!r} has options; SQLite takes none: remove them, or build "
            "SQLiteEventStore(path, busy_timeout=...) yourself"
        )
    if not path.startswith("/") or len(path) < 2:
        raise ConfigurationError(
            f"event store URL {url!r} needs three slashes before the path: "
            "sqlite:///events.db (relative) or sqlite:////var/lib/devora/events.db (absolute)"
        )
    return SQLiteEventStore(path[1:])


def _postgres_url(url: str) -> EventStore:
    from ml_ops.store.postgres import PostgresEventStore

    return PostgresEventStore(url)


#: URL schemes and the store each opens; one line per backend.
_SCHEMES: dict[str, Callable[[str], EventStore]] = {
    "sqlite": _sqlite_url,
    "postgresql": _postgres_url,
    "postgres": _postgres_url,
}


def open_event_store(
    location: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> EventStore:
    """The event store `location` names (forms in the module docstring); without one,
    the environment's (`environ` defaults to `os.environ`) or `.devora/events.db`.

    Nothing is opened yet: files, folders, pools and tables are created on first use.
    """
    if location is None:
        location = _from_environment(os.environ if environ is None else environ)
    if isinstance(location, Path):
        return _path_store(location, str(location))
    if location == MEMORY_LOCATION:
        return MemoryEventStore()
    if location.startswith(MEMORY_LOCATION):
        raise ConfigurationError(
            f"event store {location!r}: {MEMORY_LOCATION} takes no options or name"
        )
    scheme = _URL_SCHEME.match(location)
    if scheme is None:
        return _path_store(Path(location), location)
    opener = _SCHEMES.get(scheme.group(1).lower())
    if opener is None:
        raise ConfigurationError(
            f"event store {location.split('://', 1)[0]}:// is not supported; use "
            f"{', '.join(f'{name}://' for name in _SCHEMES)}, {MEMORY_LOCATION}, a .db file "
            "or a directory"
        )
    return opener(location)


def _from_environment(environ: Mapping[str, str]) -> str | Path:
    for name in ENV_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return value
    return DEFAULT_PATH


def _path_store(path: Path, written: str) -> EventStore:
    if path.suffix.lower() in SQLITE_SUFFIXES:
        return SQLiteEventStore(path)
    if path.is_dir() or not path.suffix:
        return SQLiteEventStore(path / FILE_NAME)
    raise ConfigurationError(
        f"event store {written!r}: name a SQLite file ({', '.join(SQLITE_SUFFIXES)}), a "
        f"directory, {MEMORY_LOCATION}, sqlite:///... or postgresql://..."
    )
