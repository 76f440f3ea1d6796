"""Templates as YAML or JSON files in a directory: the embedded default, and git-friendly.

A file holds either one template (as the built-in library ships them: read as version 1,
labelled `production`) or a whole history (`name`, `labels`, `versions`). Writes take a
lock file in the directory, read the file, apply the change and replace the file
atomically, so concurrent writers in any number of processes never share a version number,
and readers never see a half-written file.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock

from ai.errors import StoreError, TemplateError
from ai.prompts.documents import DOCUMENT_SUFFIXES, parse_document, write_document
from ai.prompts.stores.base import HistoryChange, TemplateStore, added_versions
from ai.prompts.template import NAME_PATTERN, PromptTemplate
from ai.prompts.versions import TemplateHistory, initial_history

LOCK_FILE = ".devora-prompts.lock"
FLAT_FILE_AUTHOR = "file"


class DirectoryTemplateStore(TemplateStore):
    """Template histories in `directory`, one file per template (`<name>.yaml`)."""

    def __init__(
        self, directory: str | Path, *, format: str = "yaml", lock_timeout: float = 30.0
    ) -> None:
        if format not in ("yaml", "json"):
            raise TemplateError(f"format must be 'yaml' or 'json', got {format!r}")
        self.directory = Path(directory)
        self._suffix = "." + format
        self._lock_timeout = lock_timeout
        # name -> (file bytes, parsed history): reading a file is cheap, parsing and
        # verifying it is not; comparing bytes keeps the cache exact (hand edits included).
        self._parsed: dict[str, tuple[bytes, TemplateHistory]] = {}

    def __repr__(self) -> str:
        return f"DirectoryTemplateStore({str(self.directory)!r})"

    async def load(self, name: str) -> TemplateHistory | None:
        return await asyncio.to_thread(self._load, name)

    async def names(self) -> list[str]:
        return await asyncio.to_thread(self._names)

    async def update(self, name: str, change: HistoryChange) -> TemplateHistory:
        return await asyncio.to_thread(self._update, name, change)

    # --- blocking parts, run in a worker thread ------------------------------------------

    def _names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        found = {
            path.stem
            for path in self.directory.iterdir()
            if path.suffix.lower() in DOCUMENT_SUFFIXES and NAME_PATTERN.fullmatch(path.stem)
        }
        return sorted(found)

    def _load(self, name: str) -> TemplateHistory | None:
        path = self._existing_file(name)
        if path is None:
            return None
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise TemplateError(f"cannot read {path}: {exc.strerror or exc}") from None
        cached = self._parsed.get(name)
        if cached is not None and cached[0] == raw:
            return cached[1]
        history = self._parse(name, path, raw)
        self._parsed[name] = (raw, history)
        return history

    def _parse(self, name: str, path: Path, raw: bytes) -> TemplateHistory:
        data = parse_document(
            raw.decode("utf-8", errors="replace"), source=str(path), suffix=path.suffix.lower()
        )
        try:
            if isinstance(data, dict) and "versions" in data:
                history = TemplateHistory.from_dict(data)
            else:
                history = _flat_history(path, data)
        except TemplateError as exc:
            raise TemplateError(f"{path}: {exc}") from None
        if history.name != name:
            raise TemplateError(f"{path} holds template {history.name!r}; rename the file or it")
        return history

    def _update(self, name: str, change: HistoryChange) -> TemplateHistory:
        if not NAME_PATTERN.fullmatch(name):
            raise TemplateError(f"template name {name!r} is not a lowercase slug")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with filelock.FileLock(self.directory / LOCK_FILE, timeout=self._lock_timeout):
                old = self._load(name)
                new = change(old)
                added_versions(name, old, new)
                path = self._existing_file(name) or self.directory / f"{name}{self._suffix}"
                write_document(path, new.to_dict())
                return new
        except filelock.Timeout:
            raise StoreError(
                f"template directory {self.directory}: another writer held {LOCK_FILE} for "
                f"{self._lock_timeout}s; if no writer is running, delete the lock file"
            ) from None
        except OSError as exc:
            raise StoreError(
                f"template directory {self.directory}: cannot write {name!r}: {exc.strerror or exc}"
            ) from None

    def _existing_file(self, name: str) -> Path | None:
        if not NAME_PATTERN.fullmatch(name):
            return None  # never build a path from an unchecked name
        paths = [self.directory / f"{name}{suffix}" for suffix in DOCUMENT_SUFFIXES]
        existing = [path for path in paths if path.is_file()]
        if len(existing) > 1:
            raise TemplateError(
                f"template {name!r} has several files ({', '.join(p.name for p in existing)}); "
                "keep one"
            )
        return existing[0] if existing else None


def _flat_history(path: Path, data: Any) -> TemplateHistory:
    """A single-template file read as version 1, labelled production."""
    if not isinstance(data, dict):
        raise TemplateError("a template file must hold a mapping")
    return initial_history(
        PromptTemplate.from_dict(data),
        author=FLAT_FILE_AUTHOR,
        created_at=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
        note=f"read from {path.name}",
    )
