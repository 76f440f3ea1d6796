"""One grammar for the strings that name a store (a setting, an environment variable, a
CLI flag), shared by the template, event and experiment stores:

    memory:                               nothing persists
    sqlite:///relative/x.db               a SQLite file (three slashes, then the path;
    sqlite:////absolute/x.db                four for an absolute one; no options)
    postgresql://..., postgres://...      PostgreSQL (the URL kept whole: its options
                                            are the driver's)
    anything else, or a `Path`            a path, which each store reads its own way

An unknown `scheme://` is a `ConfigurationError`, never a file with a strange name; so is
`memory:` with anything after it (a folder of that name is `./memory:x` or a `Path`).
Messages name the scheme, never the rest of a URL, which may hold a password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ai.errors import ConfigurationError

MEMORY_LOCATION = "memory:"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
POSTGRES_SCHEMES = ("postgresql", "postgres")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_OPTIONS = re.compile(r"[?#]")


class LocationKind(StrEnum):
    """What a location string names."""

    MEMORY = "memory"
    SQLITE = "sqlite"
    POSTGRES = "postgres"
    PATH = "path"


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A parsed location: `target` is the path (SQLITE, PATH) or the URL (POSTGRES)."""

    kind: LocationKind
    target: str = ""

    @property
    def path(self) -> Path:
        """`target` as a path."""
        return Path(self.target)


@dataclass(frozen=True, slots=True)
class LocationGrammar:
    """The grammar as one kind of store speaks it: `what` names the store in messages
    ("event store"), `sqlite_class` is the class to build by hand for SQLite options,
    `file_name` the file a folder holds and the example in messages."""

    what: str
    sqlite_class: str
    file_name: str

    def parse(self, location: str | Path) -> StoreLocation:
        """Parse `location`; raise `ConfigurationError` for an unknown scheme or options
        a backend would silently ignore."""
        if isinstance(location, Path):
            return StoreLocation(LocationKind.PATH, str(location))
        if location == MEMORY_LOCATION:
            return StoreLocation(LocationKind.MEMORY)
        if location.startswith(MEMORY_LOCATION):
            raise ConfigurationError(
                f"{self.what} {location!r}: {MEMORY_LOCATION} takes no options or name; "
                f"remove {location[len(MEMORY_LOCATION) :]!r}, or name a directory as "
                f"./{location} or as a Path"
            )
        scheme = _URL_SCHEME.match(location)
        if scheme is None:
            return StoreLocation(LocationKind.PATH, location)
        kind = scheme.group(1).lower()
        if kind == "sqlite":
            return StoreLocation(LocationKind.SQLITE, self._sqlite_url_path(location))
        if kind in POSTGRES_SCHEMES:
            return StoreLocation(LocationKind.POSTGRES, location)
        raise ConfigurationError(
            f"{self.what} {scheme.group(1)}:// is not supported; use sqlite:///, "
            f"{', '.join(f'{name}://' for name in POSTGRES_SCHEMES)}, {MEMORY_LOCATION} "
            "or a path"
        )

    def _sqlite_url_path(self, url: str) -> str:
        path = url.split("://", 1)[1]
        options = _OPTIONS.search(path)
        if options is not None:
            raise ConfigurationError(
                f"{self.what} URL {url!r} has options ({path[options.start() :]!r}) that "
                f"{self.sqlite_class} does not use; remove them, or build "
                f"{self.sqlite_class}(path, busy_timeout=...) yourself"
            )
        if not path.startswith("/") or len(path) < 2:
            raise ConfigurationError(
                f"{self.what} URL {url!r} needs three slashes before the path: "
                f"sqlite:///{self.file_name} (relative) or "
                f"sqlite:////var/lib/devora/{self.file_name} (absolute)"
            )
        return path[1:]

    def sqlite_file(self, path: Path) -> Path:
        """The SQLite file a path names: a file with a SQLite suffix as it is; a folder
        (one that exists, or a name with no suffix) holds `file_name`."""
        if path.suffix.lower() in SQLITE_SUFFIXES:
            return path
        if path.is_dir() or not path.suffix:
            return path / self.file_name
        raise ConfigurationError(
            f"{self.what} {str(path)!r}: name a SQLite file ({', '.join(SQLITE_SUFFIXES)}), "
            f"a directory, {MEMORY_LOCATION}, sqlite:///... or postgresql://..."
        )


def location_from_environment(
    environ: Mapping[str, str], names: Sequence[str], default: str | Path
) -> str | Path:
    """The first of the variables `names` set to something other than blanks, else
    `default`."""
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return default
