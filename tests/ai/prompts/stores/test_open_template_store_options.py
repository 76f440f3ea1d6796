"""`open_template_store`: options a backend does not use are errors, never a file name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai.errors import ConfigurationError
from ai.prompts.stores import DirectoryTemplateStore, open_template_store
from ai.prompts.stores.postgres import PostgresTemplateStore


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("sqlite:///prompts.db?mode=ro", "has options ('?mode=ro')"),
        ("sqlite:////srv/prompts.db?timeout=5&x=1", "has options ('?timeout=5&x=1')"),
        ("sqlite:///prompts.db#main", "has options ('#main')"),
        ("memory:?shared=1", "remove '?shared=1'"),
        ("memory:prompts", "remove 'prompts'"),
        ("memory://", "remove '//'"),
    ],
)
def test_options_the_store_does_not_use_are_errors(location: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_template_store(location)
    assert message in str(caught.value)
    assert "does not use" in str(caught.value) or "takes no options" in str(caught.value)


def test_a_directory_named_like_memory_is_still_reachable() -> None:
    for location in ("./memory:prompts", Path("memory:prompts")):
        store = open_template_store(location)
        assert isinstance(store, DirectoryTemplateStore)
        assert store.directory == Path("memory:prompts")


def test_postgres_urls_keep_their_options() -> None:
    store = open_template_store("postgresql://127.0.0.1/db?sslmode=disable")
    assert isinstance(store, PostgresTemplateStore)
