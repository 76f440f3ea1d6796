"""`TemplateManager`: find, version, label, render and A/B-route prompt templates.

Templates come from two layers: the store (a directory of YAML files by default, or
SQLite / PostgreSQL) and, beneath it, the built-in library shipped in the package. A
built-in appears as version 1 labelled `production` until the store saves a version of the
same name; at that moment the built-in is copied in as version 1, so numbering stays
continuous and a rollback to the shipped text is one label move.
"""

from __future__ import annotations

import difflib
import getpass
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai.core.clock import Clock, SystemClock
from ai.core.lifecycle import AsyncClosing
from ai.errors import TemplateError, TemplateNotFoundError
from ai.prompts.experiments import Exposure, PromptExperiments, WeightedSplit
from ai.prompts.library import builtin_history, builtin_templates
from ai.prompts.rendered import RenderedPrompt
from ai.prompts.stores import open_template_store
from ai.prompts.stores.base import TemplateStore
from ai.prompts.template import PromptTemplate
from ai.prompts.transfer import ImportReport, export_histories, import_histories
from ai.prompts.versions import (
    LATEST,
    PRODUCTION,
    TemplateDiff,
    TemplateHistory,
    TemplateVersion,
    VersionDraft,
    diff_versions,
)

STORE_ENV = "DEVORA_PROMPTS_STORE"
DEFAULT_STORE = Path(".devora/prompts")
_VERSION_VARIANT = re.compile(r"v?([0-9]+)")


@dataclass(frozen=True, slots=True)
class TemplateSummary:
    """One line of `list_templates`: what a template is and which versions are live."""

    name: str
    category: str
    description: str
    tags: tuple[str, ...]
    variables: tuple[str, ...]
    latest_version: int
    labels: Mapping[str, int]
    builtin: bool


class TemplateManager(AsyncClosing):
    """The prompt library of one application.

    `store` is a `TemplateStore`, or a location for `open_template_store` (a directory,
    `sqlite:///file.db`, `postgresql://...`, `memory:`); by default ``$DEVORA_PROMPTS_STORE``
    or `.devora/prompts`. `experiments` routes templates that name an experiment
    (default: an empty `WeightedSplit`, so nothing is routed until defined).
    """

    def __init__(
        self,
        store: TemplateStore | str | Path | None = None,
        *,
        builtins: bool = True,
        experiments: PromptExperiments | None = None,
        author: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if store is None:
            store = os.environ.get(STORE_ENV) or DEFAULT_STORE
        self.store = store if isinstance(store, TemplateStore) else open_template_store(store)
        self.experiments: PromptExperiments = experiments or WeightedSplit()
        self._builtins = dict(builtin_templates()) if builtins else {}
        self._author = author or _default_author()
        self._clock = clock or SystemClock()

    async def aclose(self) -> None:
        """Close the store's connections."""
        await self.store.aclose()

    # --- reading -------------------------------------------------------------------------

    async def history(self, name: str) -> TemplateHistory:
        """Every version and label of `name` (store first, then the built-in library)."""
        history = await self.store.load(name)
        if history is not None:
            return history
        template = self._builtins.get(name)
        if template is not None:
            return builtin_history(template)
        known = [*await self.store.names(), *self._builtins]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise TemplateNotFoundError(f"no template named {name!r}{hint}")

    async def get(
        self, name: str, *, version: int | None = None, label: str | None = None
    ) -> TemplateVersion:
        """The `production` version of `name`, or the given `version` or `label`."""
        return _pick(await self.history(name), version, label)

    async def versions(self, name: str) -> list[TemplateVersion]:
        """All versions of `name`, oldest first."""
        return list((await self.history(name)).versions)

    async def labels(self, name: str) -> dict[str, int]:
        """Label -> version number for `name` (`latest` is implicit)."""
        return dict((await self.history(name)).labels)

    async def diff(self, name: str, from_version: int, to_version: int) -> TemplateDiff:
        """What changed between two versions of `name`."""
        history = await self.history(name)
        return diff_versions(history.version(from_version), history.version(to_version))

    async def list_templates(
        self, *, category: str | None = None, tag: str | None = None
    ) -> list[TemplateSummary]:
        """Every template, optionally of one category or with one tag, sorted by name."""
        names = sorted({*await self.store.names(), *self._builtins})
        summaries = [_summary(await self.history(name), self._builtins) for name in names]
        return [
            summary
            for summary in summaries
            if (category is None or summary.category == category)
            and (tag is None or tag.lower() in summary.tags)
        ]

    async def search(
        self, query: str, *, category: str | None = None, tag: str | None = None
    ) -> list[TemplateSummary]:
        """Templates whose name, category, description or tags contain every query word."""
        words = query.lower().split()
        found = []
        for summary in await self.list_templates(category=category, tag=tag):
            haystack = " ".join(
                [summary.name, summary.category, summary.description, *summary.tags]
            ).lower()
            if all(word in haystack for word in words):
                found.append(summary)
        return found

    async def categories(self) -> dict[str, int]:
        """Category -> number of templates."""
        counts: dict[str, int] = {}
        for summary in await self.list_templates():
            counts[summary.category] = counts.get(summary.category, 0) + 1
        return dict(sorted(counts.items()))

    # --- rendering -----------------------------------------------------------------------

    async def render(
        self,
        name: str,
        variables: Mapping[str, Any] | None = None,
        /,
        *,
        version: int | None = None,
        label: str | None = None,
        subject: str | None = None,
        allow_unknown: bool | None = None,
        **values: Any,
    ) -> RenderedPrompt:
        """Render `name`; the result says which version (and A/B variant) it used.

        With no version or label, a template that names an experiment asks `experiments`
        for a variant (sticky per `subject`, e.g. a user id) and the exposure is recorded.
        A variable named like an option (`version`, `label`, `subject`, `allow_unknown`)
        goes in the `variables` mapping; given as a keyword while the template has such a
        variable and the mapping leaves it out, it is a `TemplateError`, not a silent
        mix-up.
        """
        history = await self.history(name)
        options = {"version": version, "label": label, "subject": subject}
        if version is not None or label is not None:
            chosen = _pick(history, version, label)
            chosen.template.refuse_shadowed(variables, options)
            return chosen.render(variables, allow_unknown=allow_unknown, **values)
        production = history.labelled(PRODUCTION)
        production.template.refuse_shadowed(variables, options)
        experiment = production.template.experiment
        variant = self.experiments.assign(experiment, subject=subject) if experiment else None
        if experiment is None or variant is None:
            return production.render(variables, allow_unknown=allow_unknown, **values)
        chosen = _variant_version(history, experiment, variant)
        chosen.template.refuse_shadowed(variables, options)
        rendered = chosen.template.render(variables, allow_unknown=allow_unknown, **values)
        exposure = Exposure(experiment, variant, name, chosen.version, subject, self._clock.now())
        self.experiments.record(exposure)
        return rendered.with_version(chosen.version, experiment=experiment, variant=variant)

    # --- writing -------------------------------------------------------------------------

    async def save(
        self,
        template: PromptTemplate,
        *,
        author: str | None = None,
        note: str = "",
        labels: Sequence[str] = (),
    ) -> TemplateVersion:
        """Store `template` as the next version of its name and move `labels` to it.

        A new name's first version is labelled `production`; later versions go live only
        when a label moves to them. Saving content equal to the newest version creates no
        version and returns the newest.
        """
        await self._materialise_builtin(template.name)
        draft = VersionDraft(
            template=template,
            author=author or self._author,
            note=note,
            created_at=self._clock.now(),
        )
        version, _ = await self.store.append(template.name, draft, labels=labels)
        return version

    async def set_label(self, name: str, label: str, version: int) -> None:
        """Point `label` (`production`, `staging`, any slug) at `version` of `name`."""
        await self._materialise_builtin(name)
        await self.store.set_label(name, label, version)

    async def remove_label(self, name: str, label: str) -> None:
        """Remove `label` from `name`."""
        await self._materialise_builtin(name)
        await self.store.remove_label(name, label)

    async def rollback(
        self, name: str, version: int, *, label: str = PRODUCTION
    ) -> TemplateVersion:
        """Serve `version` again under `label` (default `production`); nothing is deleted."""
        await self.set_label(name, label, version)
        return await self.get(name, label=label)

    # --- import and export ---------------------------------------------------------------

    async def export(
        self,
        directory: str | Path,
        *,
        names: Sequence[str] | None = None,
        format: str = "yaml",
        include_builtins: bool = False,
    ) -> list[Path]:
        """Write each template's whole history to `directory` (one file per template)."""
        chosen = names or sorted(
            {*await self.store.names(), *(self._builtins if include_builtins else ())}
        )
        histories = [await self.history(name) for name in chosen]
        return await export_histories(histories, Path(directory), format=format)

    async def import_from(
        self, source: TemplateStore | str | Path, *, names: Sequence[str] | None = None
    ) -> ImportReport:
        """Copy templates from another store or directory into this one.

        A name new to this store keeps its numbers, labels, authors and dates; for a name
        it has, versions whose content it lacks are appended as new versions.
        """
        opened = source if isinstance(source, TemplateStore) else open_template_store(source)
        try:
            for name in names or await opened.names():
                await self._materialise_builtin(name)
            return await import_histories(opened, self.store, names=names, clock=self._clock)
        finally:
            if opened is not source:
                await opened.aclose()

    async def _materialise_builtin(self, name: str) -> None:
        """Copy a built-in into the store as version 1 before its first change there."""
        template = self._builtins.get(name)
        if template is None or await self.store.load(name) is not None:
            return
        try:
            await self.store.put_history(builtin_history(template))
        except TemplateError:
            if await self.store.load(name) is None:  # not a concurrent copy: a real failure
                raise


def _pick(history: TemplateHistory, version: int | None, label: str | None) -> TemplateVersion:
    """The version asked for by number or label (default `production`)."""
    if version is not None and label is not None:
        raise TemplateError("give a version or a label, not both")
    if version is not None:
        return history.version(version)
    return history.labelled(label or PRODUCTION)


def _variant_version(history: TemplateHistory, experiment: str, variant: str) -> TemplateVersion:
    """The version a variant names: a label of the template, `latest`, or `v3` / `3`."""
    if variant in history.labels or variant == LATEST:
        return history.labelled(variant)
    number = _VERSION_VARIANT.fullmatch(variant)
    if number:
        return history.version(int(number.group(1)))
    raise TemplateNotFoundError(
        f"experiment {experiment!r} chose variant {variant!r}, which is neither a label nor a "
        f"version of template {history.name!r}; label a version {variant!r} "
        f"(`devora prompts label {history.name} {variant} N`)"
    )


def _summary(history: TemplateHistory, builtins: Mapping[str, PromptTemplate]) -> TemplateSummary:
    current = history.labelled(PRODUCTION) if PRODUCTION in history.labels else history.latest
    template = current.template
    return TemplateSummary(
        name=history.name,
        category=template.category,
        description=template.description,
        tags=template.tags,
        variables=template.variable_names,
        latest_version=history.latest.version,
        labels=dict(history.labels),
        builtin=history.name in builtins,
    )


def _default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown"
