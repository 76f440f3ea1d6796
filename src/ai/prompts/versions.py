"""Immutable template versions, a template's history with its labels, and diffs.

A version is identified by (name, number) and pinned by a content hash, so a version that
was edited in place behind the store's back is detected on load rather than served.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ai.errors import TemplateError, TemplateNotFoundError
from ai.prompts.documents import format_document
from ai.prompts.rendered import RenderedPrompt
from ai.prompts.template import NAME_PATTERN, PromptTemplate

PRODUCTION = "production"
"""The label `TemplateManager.get(name)` serves; a template's first version gets it."""
LATEST = "latest"
"""A label every history answers to: always the newest version; it cannot be moved."""


def content_hash(template: PromptTemplate) -> str:
    """`sha256:<hex>` of the template's canonical JSON form."""
    canonical = json.dumps(
        template.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_label(label: str) -> str:
    """A label is a slug like a template name; `latest` is reserved."""
    if not isinstance(label, str) or not NAME_PATTERN.fullmatch(label):
        raise TemplateError(
            f"label {label!r} must be a lowercase slug (letters, digits, '_', '.', '-')"
        )
    if label == LATEST:
        raise TemplateError("'latest' always means the newest version; it cannot be set")
    return label


@dataclass(frozen=True, slots=True)
class VersionDraft:
    """What a caller asks a store to append; the store assigns the number."""

    template: PromptTemplate
    author: str
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    """One immutable version of a template."""

    name: str
    version: int
    template: PromptTemplate
    author: str
    created_at: datetime
    note: str
    content_hash: str

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise TemplateError(
                f"template {self.name!r} version {self.version}: created_at "
                f"{self.created_at.isoformat()} has no time zone; use datetime.now(UTC)"
            )

    def render(
        self,
        variables: Mapping[str, Any] | None = None,
        /,
        *,
        allow_unknown: bool | None = None,
        **values: Any,
    ) -> RenderedPrompt:
        """Render this version; the result carries the version number for records."""
        rendered = self.template.render(variables, allow_unknown=allow_unknown, **values)
        return rendered.with_version(self.version)

    def to_dict(self) -> dict[str, Any]:
        """The stored form of a version (history files, exports)."""
        return {
            "version": self.version,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "note": self.note,
            "content_hash": self.content_hash,
            "template": self.template.to_dict(),
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> TemplateVersion:
        """Read a stored version and check that its content still matches its hash."""
        try:
            template = PromptTemplate.from_dict(data["template"])
            stored_hash = str(data["content_hash"])
            version = cls(
                name=name,
                version=int(data["version"]),
                template=template,
                author=str(data.get("author", "")),
                created_at=_timestamp(data["created_at"]),
                note=str(data.get("note", "")),
                content_hash=content_hash(template),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TemplateError(
                f"template {name!r}: a stored version is malformed ({exc!r})"
            ) from None
        return version.verified(stored_hash)

    def verified(self, stored_hash: str) -> TemplateVersion:
        """Self, if `stored_hash` matches the content; versions are immutable."""
        if stored_hash != self.content_hash:
            raise TemplateError(
                f"template {self.name!r} version {self.version} was edited in place: its content "
                f"no longer matches its hash {stored_hash}. Versions are immutable; restore it "
                "and save the change as a new version."
            )
        if self.template.name != self.name:
            raise TemplateError(
                f"template {self.name!r} version {self.version} holds a template named "
                f"{self.template.name!r}"
            )
        return self


@dataclass(frozen=True, slots=True)
class TemplateHistory:
    """Every version of one template, oldest first, and its labels."""

    name: str
    versions: tuple[TemplateVersion, ...]
    labels: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        numbers = [version.version for version in self.versions]
        if not numbers or numbers != sorted(set(numbers)) or numbers[0] < 1:
            raise TemplateError(
                f"template {self.name!r}: version numbers must be unique and ascending"
            )
        for label, number in self.labels.items():
            if number not in numbers:
                raise TemplateError(
                    f"template {self.name!r}: label {label!r} points at missing version {number}"
                )

    @property
    def latest(self) -> TemplateVersion:
        """The newest version."""
        return self.versions[-1]

    def version(self, number: int) -> TemplateVersion:
        """Version `number`; `TemplateNotFoundError` lists the ones that exist."""
        for version in self.versions:
            if version.version == number:
                return version
        raise TemplateNotFoundError(
            f"template {self.name!r} has no version {number}; it has "
            f"{[v.version for v in self.versions]}"
        )

    def labelled(self, label: str) -> TemplateVersion:
        """The version `label` points at (`latest` is always the newest)."""
        if label == LATEST:
            return self.latest
        if label not in self.labels:
            raise TemplateNotFoundError(
                f"template {self.name!r} has no label {label!r}; labels: {dict(self.labels)}. "
                f"Set one with TemplateManager.set_label({self.name!r}, {label!r}, version)."
            )
        return self.version(self.labels[label])

    def find_hash(self, digest: str) -> TemplateVersion | None:
        """The version with this content, if any."""
        return next((v for v in self.versions if v.content_hash == digest), None)

    def to_dict(self) -> dict[str, Any]:
        """The stored form of a whole history (a template file with versions)."""
        return {
            "name": self.name,
            "labels": dict(self.labels),
            "versions": [version.to_dict() for version in self.versions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TemplateHistory:
        """Read a stored history, verifying every version's hash."""
        name = data.get("name")
        if not isinstance(name, str):
            raise TemplateError(f"a template history needs a `name`, got {name!r}")
        versions = data.get("versions")
        labels = data.get("labels") or {}
        if not isinstance(versions, list) or not isinstance(labels, Mapping):
            raise TemplateError(
                f"template {name!r}: `versions` must be a list and `labels` a mapping"
            )
        return cls(
            name=name,
            versions=tuple(TemplateVersion.from_dict(name, v) for v in versions),
            labels={str(k): int(v) for k, v in labels.items()},
        )


def initial_history(
    template: PromptTemplate, *, author: str, created_at: datetime, note: str
) -> TemplateHistory:
    """A one-version history labelled `production`: how single-template files are read."""
    version = TemplateVersion(
        name=template.name,
        version=1,
        template=template,
        author=author,
        created_at=created_at,
        note=note,
        content_hash=content_hash(template),
    )
    return TemplateHistory(template.name, (version,), {PRODUCTION: 1})


@dataclass(frozen=True, slots=True)
class TemplateDiff:
    """What changed between two versions: the top-level fields, and a unified text diff."""

    name: str
    from_version: int
    to_version: int
    changed_fields: tuple[str, ...]
    unified: str

    @property
    def changed(self) -> bool:
        """False when the two versions have the same content."""
        return bool(self.changed_fields)


def diff_versions(old: TemplateVersion, new: TemplateVersion) -> TemplateDiff:
    """Diff two versions as their YAML files would differ."""
    before, after = old.template.to_dict(), new.template.to_dict()
    keys = dict.fromkeys([*after, *before])  # the canonical field order
    changed = tuple(key for key in keys if before.get(key) != after.get(key))
    lines = difflib.unified_diff(
        format_document(before, suffix=".yaml").splitlines(keepends=True),
        format_document(after, suffix=".yaml").splitlines(keepends=True),
        fromfile=f"{old.name}@v{old.version}",
        tofile=f"{new.name}@v{new.version}",
    )
    return TemplateDiff(old.name, old.version, new.version, changed, "".join(lines))


def _timestamp(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"created_at {value!r} has no time zone")
    return moment
