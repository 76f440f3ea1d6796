"""Reading and writing template documents as YAML or JSON, safely and readably.

YAML is read with the safe loader only (no tags that build objects), and multi-line text
is written as `|` blocks so a template file reads like the prompt it holds.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ai.errors import TemplateError

YAML_SUFFIXES = (".yaml", ".yml")
DOCUMENT_SUFFIXES = (*YAML_SUFFIXES, ".json")

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _BlockDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as literal blocks."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if "\n" in text:
        # PyYAML silently refuses the block style for text with trailing spaces on a line.
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_BlockDumper.add_representer(str, _represent_text)


def parse_document(text: str, *, source: str, suffix: str) -> Any:
    """Parse YAML or JSON text (by `suffix`); a syntax error names the source and line."""
    try:
        if suffix == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader
    except json.JSONDecodeError as exc:
        raise TemplateError(f"{source}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: invalid YAML: {exc}") from None


def read_document(path: Path) -> Any:
    """Read one template document from disk."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_document(text, source=str(path), suffix=path.suffix.lower())


def format_document(data: Any, *, suffix: str) -> str:
    """Serialise a document for a file with this suffix."""
    if suffix == ".json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    dumped: str = yaml.dump(
        data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100
    )
    return dumped


def write_document(path: Path, data: Any) -> None:
    """Write atomically (temp file + rename), so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = format_document(data, suffix=path.suffix.lower())
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
