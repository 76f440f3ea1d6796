"""`devora prompts ...`: browse, render, version and label templates from a shell.

Every command works on the embedded default (`.devora/prompts`, or $DEVORA_PROMPTS_STORE)
or on `--store` (a directory, `sqlite:///file.db`, `postgresql://...`). Errors print one
line and exit 1; they never show a traceback or a connection password.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ai.errors import DevoraError, TemplateError, TemplateNotFoundError
from ai.prompts.documents import read_document
from ai.prompts.rendered import PromptEstimate, RenderedPrompt
from ai.prompts.template import PromptTemplate
from ai.prompts.template_manager import TemplateManager
from ai.prompts.versions import PRODUCTION, TemplateVersion

prompts_app = typer.Typer(help="Prompt templates: list, show, render, version and label them.")

STORE_OPTION = typer.Option(
    None,
    "--store",
    help="Directory, sqlite:///file.db or postgresql://... (default: $DEVORA_PROMPTS_STORE "
    "or .devora/prompts).",
)
VERSION_OPTION = typer.Option(None, "--version", "-V", help="A version number.")
LABEL_OPTION = typer.Option(None, "--label", "-l", help="A label (default: production).")

T = TypeVar("T")


def _run(work: Callable[[TemplateManager], Awaitable[T]], store: str | None) -> T:
    """Run `work` on a manager; a DevoraError becomes one red line and exit code 1."""

    async def main() -> T:
        async with TemplateManager(store) as manager:
            return await work(manager)

    try:
        return asyncio.run(main())
    except DevoraError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


@prompts_app.command("list")
def list_command(
    category: str | None = typer.Option(None, help="Only this category."),
    tag: str | None = typer.Option(None, help="Only templates with this tag."),
    search: str | None = typer.Option(None, help="Words that must all appear."),
    store: str | None = STORE_OPTION,
) -> None:
    """List templates (built-in and stored) with their live versions."""

    async def work(manager: TemplateManager) -> None:
        if search:
            found = await manager.search(search, category=category, tag=tag)
        else:
            found = await manager.list_templates(category=category, tag=tag)
        table = Table("name", "category", "versions", "production", "description")
        for item in found:
            origin = " (built-in)" if item.builtin and item.latest_version == 1 else ""
            production = item.labels.get(PRODUCTION)
            table.add_row(
                item.name + origin,
                item.category,
                str(item.latest_version),
                "-" if production is None else str(production),
                item.description,
            )
        Console().print(table)

    _run(work, store)


@prompts_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Template name."),
    version: int | None = VERSION_OPTION,
    label: str | None = LABEL_OPTION,
    store: str | None = STORE_OPTION,
) -> None:
    """Show one version of a template: metadata, variables and its raw text."""

    async def work(manager: TemplateManager) -> None:
        chosen = await manager.get(name, version=version, label=label)
        _print_version(Console(), chosen, await manager.labels(name))

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
    as_json: bool = typer.Option(False, "--json", help="Print the messages as JSON."),
    store: str | None = STORE_OPTION,
) -> None:
    """Render a template with variables and print the messages (and a cost estimate)."""

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
        _print_rendered(Console(), rendered, costs, as_json=as_json)

    _run(work, store)


@prompts_app.command("versions")
def versions_command(
    name: str = typer.Argument(..., help="Template name."),
    store: str | None = STORE_OPTION,
) -> None:
    """List every version of a template with its labels."""

    async def work(manager: TemplateManager) -> None:
        history = await manager.history(name)
        by_version: dict[int, list[str]] = {}
        for label_name, number in history.labels.items():
            by_version.setdefault(number, []).append(label_name)
        table = Table("version", "labels", "author", "created (UTC)", "hash", "note")
        for item in history.versions:
            labels = sorted(by_version.get(item.version, []))
            if item is history.latest:
                labels.append("latest")
            table.add_row(
                str(item.version),
                ", ".join(labels),
                item.author,
                item.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                item.content_hash.removeprefix("sha256:")[:12],
                item.note,
            )
        Console().print(table)

    _run(work, store)


@prompts_app.command("label")
def label_command(
    name: str = typer.Argument(..., help="Template name."),
    label: str = typer.Argument(..., help="Label to set, e.g. production or staging."),
    version: int | None = typer.Argument(None, help="Version to point it at."),
    remove: bool = typer.Option(False, help="Remove the label instead."),
    store: str | None = STORE_OPTION,
) -> None:
    """Point a label at a version (a rollback is moving `production` back)."""

    async def work(manager: TemplateManager) -> None:
        if remove:
            await manager.remove_label(name, label)
            Console().print(f"Removed label {escape(label)!r} from {escape(name)}.")
            return
        if version is None:
            raise TemplateError("give the version to label, or --remove")
        await manager.set_label(name, label, version)
        Console().print(f"{escape(name)}: {escape(label)} -> version {version}")

    _run(work, store)


@prompts_app.command("diff")
def diff_command(
    name: str = typer.Argument(..., help="Template name."),
    from_version: int = typer.Argument(..., help="Older version."),
    to_version: int = typer.Argument(..., help="Newer version."),
    store: str | None = STORE_OPTION,
) -> None:
    """Show what changed between two versions."""

    async def work(manager: TemplateManager) -> None:
        diff = await manager.diff(name, from_version, to_version)
        console = Console()
        if not diff.changed:
            console.print("No differences.")
            return
        console.print(f"Changed: {', '.join(diff.changed_fields)}")
        console.print(escape(diff.unified), highlight=False)

    _run(work, store)


@prompts_app.command("save")
def save_command(
    path: Path = typer.Argument(..., help="A YAML or JSON file holding one template."),
    note: str = typer.Option("", help="What changed and why."),
    author: str | None = typer.Option(None, help="Who made the change (default: you)."),
    label: list[str] = typer.Option([], "--label", "-l", help="Labels to move to it."),
    store: str | None = STORE_OPTION,
) -> None:
    """Save a template file as the next version of its name."""

    async def work(manager: TemplateManager) -> None:
        template = PromptTemplate.from_dict(_mapping(read_document(path), str(path)))
        try:
            newest: int | None = (await manager.history(template.name)).latest.version
        except TemplateNotFoundError:
            newest = None
        saved = await manager.save(template, author=author, note=note, labels=label)
        verb = "Unchanged" if newest == saved.version else "Saved"
        Console().print(f"{verb}: {saved.name} version {saved.version}")

    _run(work, store)


@prompts_app.command("export")
def export_command(
    directory: Path = typer.Argument(..., help="Where to write one file per template."),
    format: str = typer.Option("yaml", help="yaml or json."),
    builtins: bool = typer.Option(False, help="Include built-ins never changed here."),
    store: str | None = STORE_OPTION,
) -> None:
    """Export every stored template's full history."""

    async def work(manager: TemplateManager) -> None:
        paths = await manager.export(directory, format=format, include_builtins=builtins)
        Console().print(f"Exported {len(paths)} template(s) to {directory}")

    _run(work, store)


@prompts_app.command("import")
def import_command(
    source: str = typer.Argument(..., help="A directory, sqlite:///file.db or postgresql://..."),
    store: str | None = STORE_OPTION,
) -> None:
    """Import templates from another directory or database into the store."""

    async def work(manager: TemplateManager) -> None:
        report = await manager.import_from(source)
        appended = sum(len(numbers) for numbers in report.appended.values())
        Console().print(
            f"Imported: {len(report.created)} new template(s), {appended} new version(s) of "
            f"existing ones, {len(report.unchanged)} already current."
        )

    _run(work, store)


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


def _print_version(console: Console, item: TemplateVersion, labels: Mapping[str, int]) -> None:
    template = item.template
    here = sorted(label for label, number in labels.items() if number == item.version)
    console.print(
        f"[bold]{escape(item.name)}[/bold] version {item.version}"
        + (f" ({', '.join(here)})" if here else "")
    )
    console.print(f"category: {template.category}   tags: {', '.join(template.tags) or '-'}")
    if template.description:
        console.print(escape(template.description))
    hints = template.model_hints.to_dict()
    if hints:
        console.print("model hints: " + ", ".join(f"{k}={v}" for k, v in hints.items()))
    table = Table("variable", "type", "required", "default", "description")
    for variable in template.variables:
        default = "" if variable.required else escape(repr(variable.default_text()))
        table.add_row(
            variable.name,
            variable.type.value,
            "yes" if variable.required else "no",
            default,
            escape(variable.description),
        )
    console.print(table)
    if template.text is not None:
        console.print(escape(template.text), highlight=False)
    for message in template.messages:
        console.rule(message.role.value)
        console.print(escape(message.content), highlight=False)


def _print_rendered(
    console: Console,
    rendered: RenderedPrompt,
    estimate: PromptEstimate | None,
    *,
    as_json: bool,
) -> None:
    if as_json:
        payload: dict[str, Any] = {
            "name": rendered.name,
            "version": rendered.version,
            "variant": rendered.variant,
            "messages": rendered.as_messages(),
        }
        if estimate is not None:
            payload["estimate"] = {
                "model": estimate.model,
                "input_tokens": estimate.input_tokens,
                "output_tokens": estimate.output_tokens,
                "estimated": estimate.estimated,
                "total_cost_usd": estimate.total_cost,
            }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for message in rendered.as_messages():
        console.rule(message["role"])
        console.print(escape(message["content"]), highlight=False)
    if estimate is not None:
        cost = (
            "unknown (no price)" if estimate.total_cost is None else f"${estimate.total_cost:.6f}"
        )
        approx = " (approximate tokenizer)" if estimate.estimated else ""
        console.rule()
        console.print(
            f"{estimate.model}: {estimate.input_tokens} input tokens{approx}, up to "
            f"{estimate.output_tokens} output tokens, cost {cost}"
        )
