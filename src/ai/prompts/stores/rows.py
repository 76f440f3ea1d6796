"""Rows <-> histories for the database stores (SQLite and PostgreSQL share one layout).

A version row is (name, version, author, created_at, note, content_hash, content JSON
text); a label row is (label, version).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ai.errors import TemplateError
from ai.prompts.versions import TemplateHistory, TemplateVersion


def history_from_rows(
    name: str, versions: Iterable[Any], labels: Iterable[Any]
) -> TemplateHistory | None:
    """A history from `prompt_versions` and `prompt_labels` rows, every hash verified.

    Version rows are (version, author, created_at, note, content_hash, content JSON text),
    label rows (label, version); None when there are no versions.
    """
    stored = [_version_dict(name, row) for row in versions]
    if not stored:
        return None
    data = {
        "name": name,
        "labels": {str(row[0]): int(row[1]) for row in labels},
        "versions": stored,
    }
    return TemplateHistory.from_dict(data)


def _version_dict(name: str, row: Any) -> dict[str, Any]:
    version, author, created_at, note, digest, content = tuple(row)
    try:
        template = json.loads(content)
    except (TypeError, ValueError) as exc:
        raise TemplateError(
            f"template {name!r} version {version}: the stored content is not JSON ({exc})"
        ) from None
    return {
        "version": version,
        "author": author,
        "created_at": created_at,
        "note": note,
        "content_hash": digest,
        "template": template,
    }


def version_row(version: TemplateVersion) -> tuple[Any, ...]:
    """(name, version, author, created_at, note, content_hash, content JSON text)."""
    content = json.dumps(version.template.to_dict(), ensure_ascii=False, separators=(",", ":"))
    return (
        version.name,
        version.version,
        version.author,
        version.created_at,
        version.note,
        version.content_hash,
        content,
    )


def label_changes(
    old: TemplateHistory | None, new: TemplateHistory
) -> tuple[list[str], dict[str, int]]:
    """(labels to delete, labels to insert or move) to turn `old`'s labels into `new`'s."""
    before: Mapping[str, int] = {} if old is None else old.labels
    removed = [label for label in before if label not in new.labels]
    moved = {label: n for label, n in new.labels.items() if before.get(label) != n}
    return removed, moved
