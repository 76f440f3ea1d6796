"""`devora prompts ...`: browse, render, version and label templates from a shell.

Every command works on the embedded default (`.devora/prompts`, or $DEVORA_PROMPTS_STORE)
or on `--store` (a directory, `sqlite:///file.db`, `postgresql://...`). Errors print one
line on stderr and exit 1; they never show a traceback or a connection password. What
each command prints on a terminal, in a pipe and with `--json` is described in
`ai.prompts.cli_output`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer

from ai.core.command_line import fail
from ai.errors import DevoraError, TemplateError, TemplateNotFoundError
from ai.prompts.cli_output import (
    Output,
    print_diff,
    print_history,
    print_rendered,
    print_summaries,
    print_version,
)
from ai.prompts.documents import read_document
from ai.prompts.stores import DirectoryTemplateStore, SQLiteTemplateStore, open_template_store
from ai.prompts.template import PromptTemplate
from ai.prompts.template_manager import TemplateManager
from ai.prompts.versions import TemplateVersion

prompts_app = typer.Typer(
    help="Prompt templates: list, show, render, version and label them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

STORE_OPTION = typer.Option(
    None,
    "--store",
    help="Directory, sqlite:///file.db or postgresql://... (default: $DEVORA_PROMPTS_STORE "
    "or .devora/prompts).",
)
VERSION_OPTION = typer.Option(None, "--version", "-V", help="A version number.")
LABEL_OPTION = typer.Option(None, "--label", "-l", help="A label (default: production).")
JSON_OPTION = typer.Option(
    False, "--json", help="Print one JSON document on stdout (notes go to stderr)."
)

T = TypeVar("T")


def _run(work: Callable[[TemplateManager], Awaitable[T]], store: str | None) -> T:
    """Run `work` on a manager; a DevoraError becomes one red line and exit code 1."""

    async def main() -> T:
        async with TemplateManager(store) as manager:
            return await work(manager)

    try:
        return asyncio.run(main())
    except DevoraError as exc:
        fail(str(exc))


@prompts_app.command("list")
def list_command(
    category: str | None = typer.Option(None, help="Only this category."),
    tag: str | None = typer.Option(None, help="Only templates with this tag."),
    search: str | None = typer.Option(None, help="Words that must all appear."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List templates (built-in and stored) with their live versions.

    In a pipe: one template a line, tab-separated: name, category, latest version,
    production version (- if none), description.
    """

    async def work(manager: TemplateManager) -> None:
        if search:
            found = await manager.search(search, category=category, tag=tag)
        else:
            found = await manager.list_templates(category=category, tag=tag)
        print_summaries(Output.for_stdout(as_json), found)

    _run(work, store)


@prompts_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Template name."),
    version: int | None = VERSION_OPTION,
    label: str | None = LABEL_OPTION,
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one version of a template: metadata, variables and its raw text."""

    async def work(manager: TemplateManager) -> None:
        chosen = await manager.get(name, version=version, label=label)
        print_version(Output.for_stdout(as_json), chosen, await manager.labels(name))

    _run(work, store)


@prompts_app.command("render")
def render_command(
    name: str = typer.Argument(..., help="Template name."),
    var: list[str] = typer.Option(
        [], "--var", "-v", help="name=value; name=@path reads the value from a file."
    ),
    vars_file: Path | None = typer.Option(None, help="A YAML or JSON file of variables."),
    example: bool = typer.Option(False, help="Use the template's example values."),
    version: int | None = VERSION_OPTION,
    label: str | None = LABEL_OPTION,
    subject: str | None = typer.Option(None, help="A/B subject (e.g. a user id)."),
    estimate: str | None = typer.Option(
        None, help="Also count tokens and cost for this model ('hint' = the template's)."
    ),
    as_json: bool = JSON_OPTION,
    store: str | None = STORE_OPTION,
) -> None:
    """Render a template with variables and print the messages (and a cost estimate).

    In a pipe: a text template's rendered text exactly, nothing added; a chat template's
    messages each as a `--- role ---` line, the content and a newline. The estimate then
    goes to stderr.
    """

    async def work(manager: TemplateManager) -> None:
        template = (await _chosen(manager, name, version, label)).template
        values = dict(template.example) if example else {}
        if vars_file is not None:
            values.update(_mapping(read_document(vars_file), str(vars_file)))
        values.update(_parse_vars(template, var))
        rendered = await manager.render(name, values, version=version, label=label, subject=subject)
        costs = None
        if estimate:
            costs = rendered.estimate(None if estimate == "hint" else estimate)
        print_rendered(Output.for_stdout(as_json), rendered, costs)

    _run(work, store)


@prompts_app.command("versions")
def versions_command(
    name: str = typer.Argument(..., help="Template name."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List every version of a template with its labels.

    In a pipe: one version a line, tab-separated: version, labels, author, created
    (ISO 8601, UTC), short hash, note.
    """

    async def work(manager: TemplateManager) -> None:
        print_history(Output.for_stdout(as_json), await manager.history(name))

    _run(work, store)


@prompts_app.command("label")
def label_command(
    name: str = typer.Argument(..., help="Template name."),
    label: str = typer.Argument(..., help="Label to set, e.g. production or staging."),
    version: int | None = typer.Argument(None, help="Version to point it at."),
    remove: bool = typer.Option(False, help="Remove the label instead."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Point a label at a version (a rollback is moving `production` back)."""

    async def work(manager: TemplateManager) -> None:
        out = Output.for_stdout(as_json)
        if remove:
            await manager.remove_label(name, label)
            out.done(
                f"Removed label {label!r} from {name}.",
                {"name": name, "label": label, "version": None, "removed": True},
            )
            return
        if version is None:
            raise TemplateError("give the version to label, or --remove")
        await manager.set_label(name, label, version)
        out.done(
            f"{name}: {label} -> version {version}",
            {"name": name, "label": label, "version": version, "removed": False},
        )

    _run(work, store)


@prompts_app.command("diff")
def diff_command(
    name: str = typer.Argument(..., help="Template name."),
    from_version: int = typer.Argument(..., help="Older version."),
    to_version: int = typer.Argument(..., help="Newer version."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show what changed between two versions."""

    async def work(manager: TemplateManager) -> None:
        print_diff(Output.for_stdout(as_json), await manager.diff(name, from_version, to_version))

    _run(work, store)


@prompts_app.command("save")
def save_command(
    path: Path = typer.Argument(..., help="A YAML or JSON file holding one template."),
    note: str = typer.Option("", help="What changed and why."),
    author: str | None = typer.Option(None, help="Who made the change (default: you)."),
    label: list[str] = typer.Option([], "--label", "-l", help="Labels to move to it."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Save a template file as the next version of its name."""

    async def work(manager: TemplateManager) -> None:
        template = PromptTemplate.from_dict(_mapping(read_document(path), str(path)))
        try:
            newest: int | None = (await manager.history(template.name)).latest.version
        except TemplateNotFoundError:
            newest = None
        saved = await manager.save(template, author=author, note=note, labels=label)
        changed = newest != saved.version
        Output.for_stdout(as_json).done(
            f"{'Saved' if changed else 'Unchanged'}: {saved.name} version {saved.version}",
            {"name": saved.name, "version": saved.version, "changed": changed},
        )

    _run(work, store)


@prompts_app.command("export")
def export_command(
    directory: Path = typer.Argument(..., help="Where to write one file per template."),
    format: str = typer.Option("yaml", help="yaml or json."),
    builtins: bool = typer.Option(False, help="Include built-ins never changed here."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Export every stored template's full history."""

    async def work(manager: TemplateManager) -> None:
        paths = await manager.export(directory, format=format, include_builtins=builtins)
        Output.for_stdout(as_json).done(
            f"Exported {len(paths)} template(s) to {directory}",
            {"directory": str(directory), "paths": [str(path) for path in paths]},
        )

    _run(work, store)


@prompts_app.command("import")
def import_command(
    source: str = typer.Argument(..., help="A directory, sqlite:///file.db or postgresql://..."),
    store: str | None = STORE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Import templates from another directory or database into the store.

    A source that does not exist is an error; nothing is created, here or there.
    """
    try:
        check_import_source(source)
    except DevoraError as exc:
        fail(str(exc))

    async def work(manager: TemplateManager) -> None:
        report = await manager.import_from(source)
        appended = sum(len(numbers) for numbers in report.appended.values())
        Output.for_stdout(as_json).done(
            f"Imported: {len(report.created)} new template(s), {appended} new version(s) of "
            f"existing ones, {len(report.unchanged)} already current.",
            {
                "source": source,
                "created": list(report.created),
                "appended": {name: list(numbers) for name, numbers in report.appended.items()},
                "unchanged": list(report.unchanged),
            },
        )

    _run(work, store)


def check_import_source(source: str) -> None:
    """Refuse a directory or SQLite file that is not there: opening it to import from
    would create an empty one. A database URL is checked when it connects."""
    named = open_template_store(source)  # builds the store object; touches nothing
    if isinstance(named, DirectoryTemplateStore) and not named.directory.is_dir():
        kind, where = "directory", named.directory
    elif isinstance(named, SQLiteTemplateStore) and not named.path.is_file():
        kind, where = "SQLite file", named.path
    else:
        return
    raise TemplateError(
        f"cannot import from {source!r}: there is no {kind} {str(where)!r} (nothing was "
        "created); check the path, or use sqlite:///file.db or postgresql://..."
    )


async def _chosen(
    manager: TemplateManager, name: str, version: int | None, label: str | None
) -> TemplateVersion:
    return await manager.get(name, version=version, label=label)


def _parse_vars(template: PromptTemplate, pairs: Sequence[str]) -> dict[str, Any]:
    declared = {variable.name: variable for variable in template.variables}
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise TemplateError(f"--var {pair!r}: write name=value")
        if raw.startswith("@"):
            raw = _read_value_file(Path(raw[1:]))
        variable = declared.get(key)
        values[key] = variable.parse(raw) if variable else raw  # unknown: render reports it
    return values


def _read_value_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror or exc}") from None


def _mapping(data: Any, source: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise TemplateError(f"{source} must hold a mapping")
    return data
