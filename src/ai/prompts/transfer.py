"""Moving template histories between stores: export to files, import from anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ai.core.clock import Clock
from ai.errors import TemplateError, TemplateNotFoundError
from ai.prompts.documents import DOCUMENT_SUFFIXES, write_document
from ai.prompts.stores.base import TemplateStore
from ai.prompts.versions import TemplateHistory, VersionDraft


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: names copied whole, versions appended, names already current."""

    created: tuple[str, ...] = ()
    appended: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    unchanged: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when the import stored anything."""
        return bool(self.created or self.appended)


async def export_histories(
    histories: Sequence[TemplateHistory], directory: Path, *, format: str = "yaml"
) -> list[Path]:
    """Write one history file per template into `directory`; returns the paths written."""
    if format not in ("yaml", "json"):
        raise TemplateError(f"format must be 'yaml' or 'json', got {format!r}")
    suffix = "." + format
    paths = [directory / f"{history.name}{suffix}" for history in histories]
    for history in histories:
        others = [directory / f"{history.name}{s}" for s in DOCUMENT_SUFFIXES if s != suffix]
        clash = [other.name for other in others if other.exists()]
        if clash:
            raise TemplateError(
                f"{directory} already holds {clash} for {history.name!r}; export as that "
                "format or into another directory"
            )

    def write_all() -> None:
        for history, path in zip(histories, paths, strict=True):
            write_document(path, history.to_dict())

    await asyncio.to_thread(write_all)
    return paths


async def import_histories(
    source: TemplateStore,
    target: TemplateStore,
    *,
    names: Sequence[str] | None,
    clock: Clock,
) -> ImportReport:
    """Copy `names` (default: all) from `source` into `target` (see `import_from`)."""
    created: list[str] = []
    appended: dict[str, tuple[int, ...]] = {}
    unchanged: list[str] = []
    for name in names or await source.names():
        incoming = await source.load(name)
        if incoming is None:
            raise TemplateNotFoundError(f"the import source has no template {name!r}")
        if await target.load(name) is None:
            try:
                await target.put_history(incoming)
                created.append(name)
                continue
            except TemplateError:
                if await target.load(name) is None:
                    raise  # not created meanwhile by someone else: a real failure
        numbers = await _append_missing(incoming, target, clock)
        if numbers:
            appended[name] = numbers
        else:
            unchanged.append(name)
    return ImportReport(tuple(created), appended, tuple(unchanged))


async def _append_missing(
    incoming: TemplateHistory, target: TemplateStore, clock: Clock
) -> tuple[int, ...]:
    """Append, in order, the incoming versions whose content the target lacks."""
    existing = await target.load(incoming.name)
    known = {v.content_hash for v in existing.versions} if existing else set()
    numbers: list[int] = []
    for version in incoming.versions:
        if version.content_hash in known:
            continue
        note = f"imported from version {version.version}" + (
            f": {version.note}" if version.note else ""
        )
        draft = VersionDraft(version.template, version.author, note, clock.now())
        stored, created = await target.append(incoming.name, draft)
        known.add(version.content_hash)
        if created:
            numbers.append(stored.version)
    return tuple(numbers)
