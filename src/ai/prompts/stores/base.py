"""The template store contract: load a history, list names, change one atomically.

A backend supplies `load`, `names` and `update` (a read-modify-write of one template's
history under the backend's own exclusive lock: a file lock, `BEGIN IMMEDIATE`, an
advisory lock). Appending a version, moving a label and importing a history are all pure
changes applied through `update`, so every backend numbers versions the same way and two
writers can never be given the same number.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from ai.core.lifecycle import AsyncClosing
from ai.errors import TemplateError, TemplateNotFoundError
from ai.prompts.versions import (
    PRODUCTION,
    TemplateHistory,
    TemplateVersion,
    VersionDraft,
    check_label,
    content_hash,
)

HistoryChange = Callable[[TemplateHistory | None], TemplateHistory]


class TemplateStore(AsyncClosing, abc.ABC):
    """Durable home of template versions and labels."""

    @abc.abstractmethod
    async def load(self, name: str) -> TemplateHistory | None:
        """The template's history, or None when the store has never seen it."""

    @abc.abstractmethod
    async def names(self) -> list[str]:
        """Every template name in the store, sorted."""

    @abc.abstractmethod
    async def update(self, name: str, change: HistoryChange) -> TemplateHistory:
        """Apply `change` to the stored history atomically and return the result.

        Only additions are persisted: versions already stored are immutable, so a change
        may add versions and rewrite labels, nothing else.
        """

    # --- changes every backend gets, built on `update` ------------------------------------

    async def append(
        self, name: str, draft: VersionDraft, *, labels: Sequence[str] = ()
    ) -> tuple[TemplateVersion, bool]:
        """Store `draft` as the next version; (version, created).

        Content identical to the newest version creates nothing: that version is returned
        with `created` False (labels still move to it). A template's first version is also
        labelled `production`, so `get(name)` serves it; later versions are promoted by
        moving a label.
        """
        digest = content_hash(draft.template)
        created: list[bool] = []

        def change(history: TemplateHistory | None) -> TemplateHistory:
            updated, is_new = with_draft(history, name, draft, digest)
            created.append(is_new)
            moves = {label: updated.latest.version for label in labels}
            if history is None:
                moves.setdefault(PRODUCTION, updated.latest.version)
            return with_labels(updated, moves)

        history = await self.update(name, change)
        return history.latest, created[-1]

    async def set_label(self, name: str, label: str, version: int) -> TemplateHistory:
        """Point `label` at `version` (which must exist)."""
        check_label(label)

        def change(history: TemplateHistory | None) -> TemplateHistory:
            current = require(history, name)
            current.version(version)  # raises when missing
            return with_labels(current, {label: version})

        return await self.update(name, change)

    async def remove_label(self, name: str, label: str) -> TemplateHistory:
        """Drop `label`; removing one that is not set is an error naming the labels."""

        def change(history: TemplateHistory | None) -> TemplateHistory:
            current = require(history, name)
            current.labelled(label)  # raises when missing
            labels = {k: v for k, v in current.labels.items() if k != label}
            return replace(current, labels=labels)

        return await self.update(name, change)

    async def put_history(self, history: TemplateHistory) -> TemplateHistory:
        """Store a whole history (an import) under a name the store does not have yet."""

        def change(existing: TemplateHistory | None) -> TemplateHistory:
            if existing is not None:
                raise TemplateError(
                    f"template {history.name!r} already exists in the store; import appends "
                    "new versions to it instead"
                )
            return history

        return await self.update(history.name, change)


def require(history: TemplateHistory | None, name: str) -> TemplateHistory:
    """`history`, or `TemplateNotFoundError` when the template does not exist."""
    if history is None:
        raise TemplateNotFoundError(f"no template named {name!r} in the store")
    return history


def with_draft(
    history: TemplateHistory | None, name: str, draft: VersionDraft, digest: str
) -> tuple[TemplateHistory, bool]:
    """`history` plus `draft` as its next version, unless the newest has the same content."""
    if draft.template.name != name:
        raise TemplateError(f"cannot store template {draft.template.name!r} under name {name!r}")
    if history is not None and history.latest.content_hash == digest:
        return history, False
    number = 1 if history is None else history.latest.version + 1
    version = TemplateVersion(
        name=name,
        version=number,
        template=draft.template,
        author=draft.author,
        created_at=draft.created_at,
        note=draft.note,
        content_hash=digest,
    )
    if history is None:
        return TemplateHistory(name, (version,)), True
    return replace(history, versions=(*history.versions, version)), True


def with_labels(history: TemplateHistory, moves: Mapping[str, int]) -> TemplateHistory:
    """`history` with each label in `moves` pointing at its version."""
    if not moves:
        return history
    labels = dict(history.labels)
    for label, version in moves.items():
        labels[check_label(label)] = version
    return replace(history, labels=labels)


def added_versions(
    name: str, old: TemplateHistory | None, new: TemplateHistory
) -> tuple[TemplateVersion, ...]:
    """Versions in `new` that `old` lacks, each checked to load back as it was written.

    Refuses a change to a stored version, and (from imports) a version under another name
    or whose hash does not match its content.
    """
    if new.name != name:
        raise TemplateError(f"cannot store template {new.name!r} under name {name!r}")
    known = {} if old is None else {version.version: version for version in old.versions}
    added = []
    for version in new.versions:
        stored = known.get(version.version)
        if stored is not None:
            if stored.content_hash != version.content_hash:
                raise TemplateError(
                    f"template {new.name!r} version {version.version} is immutable and "
                    "already stored"
                )
            continue
        if version.name != new.name or version.template.name != new.name:
            raise TemplateError(
                f"cannot store version {version.version} of {version.template.name!r} under "
                f"name {new.name!r}"
            )
        if content_hash(version.template) != version.content_hash:
            raise TemplateError(
                f"template {new.name!r} version {version.version}: content_hash "
                f"{version.content_hash} does not match its content; let the store hash it"
            )
        added.append(version)
    return tuple(added)
