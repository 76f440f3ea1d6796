"""`open_template_store(location)`: one string (a setting, a CLI flag) names any store;
the forms are listed in the `ai.prompts.stores` docstring."""

from __future__ import annotations

from pathlib import Path

from ai.db.locations import SQLITE_SUFFIXES, LocationGrammar, LocationKind
from ai.prompts.stores.base import TemplateStore
from ai.prompts.stores.directory import DirectoryTemplateStore
from ai.prompts.stores.memory import MemoryTemplateStore
from ai.prompts.stores.sqlite import SQLiteTemplateStore

GRAMMAR = LocationGrammar("template store", "SQLiteTemplateStore", "prompts.db")


def open_template_store(location: str | Path) -> TemplateStore:
    """The store `location` names (see the module docstring for the forms): a path with
    a SQLite suffix is a SQLite file, any other path a directory of YAML files.

    An unknown `scheme://` is an error rather than a directory with a strange name.
    """
    parsed = GRAMMAR.parse(location)
    if parsed.kind is LocationKind.MEMORY:
        return MemoryTemplateStore()
    if parsed.kind is LocationKind.POSTGRES:
        from ai.prompts.stores.postgres import PostgresTemplateStore

        return PostgresTemplateStore(parsed.target)
    path = parsed.path
    if parsed.kind is LocationKind.SQLITE or path.suffix.lower() in SQLITE_SUFFIXES:
        return SQLiteTemplateStore(path)
    return DirectoryTemplateStore(path)
