"""The built-in template library: YAML files shipped inside the package.

Each file in `ai/prompts/builtin/` holds one template in `PromptTemplate.to_dict` form.
They load once per process and appear in every `TemplateManager` as version 1, labelled
`production`, until a store saves a version of the same name.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from types import MappingProxyType

from ai.errors import TemplateError
from ai.prompts.documents import DOCUMENT_SUFFIXES, parse_document
from ai.prompts.template import PromptTemplate
from ai.prompts.versions import TemplateHistory, initial_history

LIBRARY_PACKAGE = "ai.prompts.builtin"
BUILTIN_AUTHOR = "devora-ai"
BUILTIN_CREATED_AT = datetime(2026, 11, 25, tzinfo=UTC)
"""When this release's library was written: fixed, so a built-in's history is the same in
every process and an exported copy compares equal."""


@functools.cache
def builtin_templates() -> Mapping[str, PromptTemplate]:
    """Every built-in template by name (read-only)."""
    templates: dict[str, PromptTemplate] = {}
    for entry in sorted(resources.files(LIBRARY_PACKAGE).iterdir(), key=lambda e: e.name):
        suffix = "." + entry.name.rsplit(".", 1)[-1].lower() if "." in entry.name else ""
        if suffix not in DOCUMENT_SUFFIXES:
            continue
        source = f"built-in template file {entry.name}"
        data = parse_document(entry.read_text(encoding="utf-8"), source=source, suffix=suffix)
        try:
            template = PromptTemplate.from_dict(data)
        except TemplateError as exc:
            raise TemplateError(f"{source}: {exc}") from None
        if entry.name.rsplit(".", 1)[0] != template.name:
            raise TemplateError(f"{source}: the file name must be the template name")
        templates[template.name] = template
    return MappingProxyType(templates)


def builtin_history(template: PromptTemplate) -> TemplateHistory:
    """A built-in as a store would hold it: version 1, labelled `production`."""
    return initial_history(
        template,
        author=BUILTIN_AUTHOR,
        created_at=BUILTIN_CREATED_AT,
        note="built-in template shipped with devora-ai",
    )
