"""`open_template_store`: one string picks the backend; the package's exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import ai.prompts.stores as stores
from ai.errors import ConfigurationError
from ai.prompts.stores import (
    DirectoryTemplateStore,
    MemoryTemplateStore,
    SQLiteTemplateStore,
    TemplateStore,
    open_template_store,
)
from ai.prompts.stores.postgres import PostgresTemplateStore


def test_memory() -> None:
    assert type(open_template_store("memory:")) is MemoryTemplateStore
    assert open_template_store("memory:") is not open_template_store("memory:")


@pytest.mark.parametrize(
    ("location", "path"),
    [
        ("sqlite:///prompts.db", Path("prompts.db")),
        ("sqlite:///data/prompts", Path("data/prompts")),
        ("sqlite:////var/lib/devora/prompts.db", Path("/var/lib/devora/prompts.db")),
        ("SQLite:////tmp/x.db", Path("/tmp/x.db")),
        ("/srv/prompts.db", Path("/srv/prompts.db")),
        ("prompts.sqlite", Path("prompts.sqlite")),
        ("prompts.SQLITE3", Path("prompts.SQLITE3")),
        (Path("/srv/prompts.db"), Path("/srv/prompts.db")),
    ],
)
def test_sqlite(location: str | Path, path: Path) -> None:
    store = open_template_store(location)
    assert isinstance(store, SQLiteTemplateStore)
    assert store.path == path


@pytest.mark.parametrize("location", ["prompts", "./prompts/", "/srv/prompts.d", Path("x")])
def test_anything_else_is_a_directory(location: str | Path) -> None:
    store = open_template_store(location)
    assert isinstance(store, DirectoryTemplateStore)
    assert store.directory == Path(location)


@pytest.mark.parametrize(
    "url", ["postgresql://devora:pw@127.0.0.1:5432/db", "postgres://127.0.0.1/db?sslmode=disable"]
)
def test_postgres(url: str) -> None:
    store = open_template_store(url)  # connects on first use, not here
    assert isinstance(store, PostgresTemplateStore)
    assert "pw@" not in repr(store)


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("mysql://user:pw@host/db", "mysql:// is not supported"),
        ("redis://127.0.0.1", "redis:// is not supported"),
        ("sqlite://host/prompts.db", "three slashes"),
        ("sqlite://", "three slashes"),
        ("sqlite:///", "three slashes"),
    ],
)
def test_unknown_or_malformed_urls_are_errors(location: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        open_template_store(location)
    assert "pw" not in str(caught.value)


def test_all_lists_the_exports() -> None:
    public = {
        name
        for name, value in vars(stores).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("ai.prompts.stores")
        and callable(value)
    }
    assert public <= set(stores.__all__)
    assert set(stores.__all__) - public == {"HistoryChange", "PostgresTemplateStore"}
    for name in stores.__all__:
        assert getattr(stores, name) is not None
    assert stores.PostgresTemplateStore is PostgresTemplateStore
    assert issubclass(PostgresTemplateStore, TemplateStore)


def test_importing_the_package_does_not_import_asyncpg() -> None:
    code = "import sys, ai.prompts.stores; print('asyncpg' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
