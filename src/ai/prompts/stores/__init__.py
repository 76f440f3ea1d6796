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

Only PostgreSQL URLs take options (`?sslmode=...`, read by asyncpg); an option after
`memory:` or in a `sqlite://` URL is a `ConfigurationError`, never part of a file name.
"""

import typing as _typing

from ai.core import lazy as _lazy
from ai.prompts.stores.base import HistoryChange, TemplateStore
from ai.prompts.stores.directory import DirectoryTemplateStore
from ai.prompts.stores.memory import MemoryTemplateStore
from ai.prompts.stores.opening import open_template_store
from ai.prompts.stores.sqlite import SQLiteTemplateStore

if _typing.TYPE_CHECKING:
    from ai.prompts.stores.postgres import PostgresTemplateStore

__all__ = [
    "DirectoryTemplateStore",
    "HistoryChange",
    "MemoryTemplateStore",
    "PostgresTemplateStore",
    "SQLiteTemplateStore",
    "TemplateStore",
    "open_template_store",
]

__getattr__, __dir__ = _lazy.lazy_exports(
    __name__, __all__, {"PostgresTemplateStore": "ai.prompts.stores.postgres"}
)
