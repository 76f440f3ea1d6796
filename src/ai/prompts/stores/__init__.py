"""Where template versions live: memory, a directory of files, SQLite or PostgreSQL.

`open_template_store(location)` picks the backend from one string, so a setting or a CLI
flag can name any of them:

    memory:                               MemoryTemplateStore (nothing persists)
    sqlite:///relative/prompts.db         SQLiteTemplateStore (SQLAlchemy's convention:
    sqlite:////absolute/prompts.db          three slashes then the path)
    prompts.db, x.sqlite, x.sqlite3       SQLiteTemplateStore (a path with such a suffix)
    postgresql://..., postgres://...      PostgresTemplateStore (needs asyncpg)
    any other path                        DirectoryTemplateStore (YAML/JSON files)

`PostgresTemplateStore` is imported on first use, so importing this package never imports
asyncpg.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai.errors import ConfigurationError
from ai.prompts.stores.base import HistoryChange, TemplateStore
from ai.prompts.stores.directory import DirectoryTemplateStore
from ai.prompts.stores.memory import MemoryTemplateStore
from ai.prompts.stores.sqlite import SQLiteTemplateStore

if TYPE_CHECKING:
    from ai.prompts.stores.postgres import PostgresTemplateStore

MEMORY_LOCATION = "memory:"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def _sqlite_url(url: str) -> TemplateStore:
    path = url.split("://", 1)[1]
    if not path.startswith("/") or len(path) < 2:
        raise ConfigurationError(
            f"SQLite URL {url!r} needs three slashes before the path: sqlite:///prompts.db "
            "(relative) or sqlite:////var/lib/prompts.db (absolute)"
        )
    return SQLiteTemplateStore(path[1:])


def _postgres_url(url: str) -> TemplateStore:
    from ai.prompts.stores.postgres import PostgresTemplateStore

    return PostgresTemplateStore(url)


#: URL schemes and the backend each opens; one line per backend.
_SCHEMES: dict[str, Callable[[str], TemplateStore]] = {
    "sqlite": _sqlite_url,
    "postgresql": _postgres_url,
    "postgres": _postgres_url,
}


def open_template_store(location: str | Path) -> TemplateStore:
    """The store `location` names (see the module docstring for the forms).

    An unknown `scheme://` is an error rather than a directory with a strange name.
    """
    if isinstance(location, Path):
        return _path_store(location)
    if location == MEMORY_LOCATION:
        return MemoryTemplateStore()
    scheme = _URL_SCHEME.match(location)
    if scheme is None:
        return _path_store(Path(location))
    opener = _SCHEMES.get(scheme.group(1).lower())
    if opener is None:
        raise ConfigurationError(
            f"template store {location.split('://', 1)[0]}:// is not supported; use "
            f"{', '.join(f'{name}://' for name in _SCHEMES)}, {MEMORY_LOCATION} or a directory"
        )
    return opener(location)


def _path_store(path: Path) -> TemplateStore:
    if path.suffix.lower() in SQLITE_SUFFIXES:
        return SQLiteTemplateStore(path)
    return DirectoryTemplateStore(path)


def __getattr__(name: str) -> Any:
    """`PostgresTemplateStore`, imported only when asked for (it needs asyncpg)."""
    if name == "PostgresTemplateStore":
        from ai.prompts.stores.postgres import PostgresTemplateStore

        return PostgresTemplateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DirectoryTemplateStore",
    "HistoryChange",
    "MemoryTemplateStore",
    "PostgresTemplateStore",
    "SQLiteTemplateStore",
    "TemplateStore",
    "open_template_store",
]
