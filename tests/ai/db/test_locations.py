"""`LocationGrammar`: the one grammar of store location strings, as properties over
generated locations and as the cases each store's messages rely on."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ai.db.locations import (
    MEMORY_LOCATION,
    LocationGrammar,
    LocationKind,
    StoreLocation,
    location_from_environment,
)
from ai.errors import ConfigurationError

GRAMMAR = LocationGrammar("test store", "SQLiteTestStore", "things.db")

path_text = st.text(
    alphabet=string.ascii_letters + string.digits + "/._-: ", min_size=1, max_size=30
)
schemes = st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,10}", fullmatch=True).filter(
    lambda scheme: scheme.lower() not in {"sqlite", "postgresql", "postgres"}
)
secrets = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=20)


@given(path_text.filter(lambda text: "://" not in text and not text.startswith("memory:")))
def test_text_without_a_scheme_is_a_path_kept_as_written(text: str) -> None:
    assert GRAMMAR.parse(text) == StoreLocation(LocationKind.PATH, text)


@given(path_text)
def test_a_path_object_is_always_a_path(text: str) -> None:
    parsed = GRAMMAR.parse(Path(text))
    assert parsed.kind is LocationKind.PATH
    assert parsed.path == Path(text)


@given(path_text.filter(lambda text: text != "/" and "?" not in text and "#" not in text))
def test_sqlite_urls_drop_the_third_slash(text: str) -> None:
    relative = text.lstrip("/") or "x.db"
    assert GRAMMAR.parse(f"sqlite:///{relative}") == StoreLocation(LocationKind.SQLITE, relative)
    assert GRAMMAR.parse(f"SQLite:////{relative}").target == f"/{relative}"


@given(schemes, secrets)
def test_unknown_schemes_are_errors_that_never_repeat_the_rest_of_the_url(
    scheme: str, secret: str
) -> None:
    with pytest.raises(ConfigurationError, match="is not supported") as caught:
        GRAMMAR.parse(f"{scheme}://user:{secret}@host/db")
    assert f"{scheme}://" in str(caught.value)
    assert secret not in str(caught.value)


@given(st.text(min_size=1, max_size=20))
def test_memory_takes_nothing_after_it(rest: str) -> None:
    with pytest.raises(ConfigurationError, match="takes no options"):
        GRAMMAR.parse(MEMORY_LOCATION + rest)


def test_memory_and_postgres() -> None:
    assert GRAMMAR.parse("memory:").kind is LocationKind.MEMORY
    url = "postgres://u:pw@h:5433/db?sslmode=off"
    assert GRAMMAR.parse(url) == StoreLocation(LocationKind.POSTGRES, url)  # options kept


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("sqlite://host/things.db", "three slashes before the path: sqlite:///things.db"),
        ("sqlite://", "three slashes"),
        ("sqlite:///", "three slashes"),
        ("sqlite:///things.db?mode=ro", "has options ('?mode=ro') that SQLiteTestStore"),
        ("sqlite:///things.db#main", "build SQLiteTestStore(path, busy_timeout=...)"),
    ],
)
def test_malformed_sqlite_urls(location: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        GRAMMAR.parse(location)
    assert message in str(caught.value)
    assert str(caught.value).startswith("test store")


def test_sqlite_file(tmp_path: Path) -> None:
    assert GRAMMAR.sqlite_file(Path("a/x.SQLite3")) == Path("a/x.SQLite3")
    assert GRAMMAR.sqlite_file(Path("a/folder")) == Path("a/folder/things.db")
    existing = tmp_path / "with.dot"
    existing.mkdir()
    assert GRAMMAR.sqlite_file(existing) == existing / "things.db"
    with pytest.raises(ConfigurationError, match="name a SQLite file"):
        GRAMMAR.sqlite_file(Path("notes.txt"))


def test_the_environment_gives_the_first_variable_set() -> None:
    names = ("FIRST", "SECOND")
    assert location_from_environment({}, names, "default.db") == "default.db"
    assert location_from_environment({"FIRST": "  ", "SECOND": "b"}, names, "d") == "b"
    assert location_from_environment({"FIRST": " a ", "SECOND": "b"}, names, "d") == "a"
