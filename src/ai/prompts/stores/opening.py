"""`open_template_store(location)`: one string (a setting, a CLI flag) names any store;
the forms are listed in the `ai.prompts.stores` docstring."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ai.errors import ConfigurationError
from ai.prompts.stores.base import TemplateStore
from ai.prompts.stores.directory import DirectoryTemplateStore
from ai.prompts.stores.memory import MemoryTemplateStore
from ai.prompts.stores.sqlite import SQLiteTemplateStore

MEMORY_LOCATION = "memory:"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def _sqlite_url(url: str) -> TemplateStore:
    path = url.split("://", 1)[1]
    options = re.search(r"[?#]", path)
    if options is not None:
        raise ConfigurationError(
            f"SQLite URL {url!r} has options ({path[options.start() :]!r}) that "
            "SQLiteTemplateStore does not use; remove them, or build "
            "SQLiteTemplateStore(path, busy_timeout=...) yourself"
        )
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
    if location.startswith(MEMORY_LOCATION):
        raise ConfigurationError(
            f"template store {location!r}: {MEMORY_LOCATION} takes no options or name; "
            f"remove {location[len(MEMORY_LOCATION) :]!r}, or name a directory as "
            f"./{location} or as a Path"
        )
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
