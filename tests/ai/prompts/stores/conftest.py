"""One `Backend` per template store: how to open it again, and how to edit it behind its back.

`backend` is parametrised by name (indirectly): the PostgreSQL one asks for
`postgres_test_url` only when it runs, so the other backends never start a server.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ai.prompts.stores import MemoryTemplateStore, TemplateStore, open_template_store
from ai.prompts.template import PromptTemplate
from ai.prompts.versions import VersionDraft

ALL_BACKENDS = ["memory", "directory", "sqlite", "postgres"]
DURABLE_BACKENDS = ["directory", "sqlite", "postgres"]

#: Rewrites the stored `text` of (name, version) without touching its hash.
Tamper = Callable[[str, int, str], Awaitable[None]]


def draft(text: str, *, name: str = "greet", author: str = "tester") -> VersionDraft:
    return VersionDraft(
        template=PromptTemplate(name=name, text=text),
        author=author,
        note=f"note for {text!r}",
        created_at=datetime.now(UTC),
    )


@dataclass
class Backend:
    """A store location; `open()` gives a new store object (a new connection) on it."""

    kind: str
    location: str
    tamper: Tamper | None = None
    _opened: list[TemplateStore] = field(default_factory=list)
    _memory: MemoryTemplateStore | None = None

    @property
    def durable(self) -> bool:
        return self.kind != "memory"

    def open(self) -> TemplateStore:
        """A new store object; for memory the one instance (it has nothing to share)."""
        if self.kind == "memory":
            if self._memory is None:
                self._memory = MemoryTemplateStore()
            return self._memory
        store = open_template_store(self.location)
        self._opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self._opened:
            await store.aclose()


def _tamper_sqlite(path: Path) -> Tamper:
    async def tamper(name: str, version: int, text: str) -> None:
        with sqlite3.connect(path) as conn:
            changed = conn.execute(
                "UPDATE prompt_versions SET content = json_set(content, '$.text', ?)"
                " WHERE name = ? AND version = ?",
                (text, name, version),
            ).rowcount
        conn.close()
        assert changed == 1

    return tamper


def _tamper_directory(directory: Path) -> Tamper:
    async def tamper(name: str, version: int, text: str) -> None:
        path = directory / f"{name}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        (stored,) = [v for v in data["versions"] if v["version"] == version]
        stored["template"]["text"] = text
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    return tamper


def _tamper_postgres(url: str) -> Tamper:
    async def tamper(name: str, version: int, text: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            where = " FROM devora_prompt_versions WHERE name = $1 AND version = $2"
            stored = await conn.fetchval("SELECT content::text" + where, name, version)
            content: Any = json.loads(stored)
            content["text"] = text
            status = await conn.execute(
                "UPDATE devora_prompt_versions SET content = $3::json"
                " WHERE name = $1 AND version = $2",
                name,
                version,
                json.dumps(content),
            )
        finally:
            await conn.close()
        assert status == "UPDATE 1"

    return tamper


def make_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    if kind == "memory":
        return Backend(kind, "memory:")
    if kind == "directory":
        directory = tmp_path / "prompts"
        return Backend(kind, str(directory), _tamper_directory(directory))
    if kind == "sqlite":
        path = tmp_path / "prompts.db"
        return Backend(kind, str(path), _tamper_sqlite(path))
    url = request.getfixturevalue("postgres_test_url")
    return Backend(kind, url, _tamper_postgres(url))


@pytest.fixture
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = make_backend(request.param, tmp_path, request)
    try:
        yield made
    finally:
        await made.close_all()
