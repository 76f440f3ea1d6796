"""How `devora prompts` prints what it read: for a person, for a pipe, or as JSON.

Three forms, chosen by `Output`:

- stdout is a terminal: Rich tables and rules; prompt text is soft-wrapped by the
  terminal, never re-broken by Rich, so what is copied is what is sent.
- stdout is not a terminal (a pipe, a file): plain text, never wrapped, no markup.
  Listings are tab-separated, one row per line, no header, in the columns of the table.
  A rendered text template is its text exactly, with nothing added; a chat template is
  each message as a `--- role ---` line, then its content and a newline.
- `--json`: one JSON document on stdout and nothing else there; notes go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ai.prompts.rendered import PromptEstimate, RenderedPrompt
from ai.prompts.template_manager import TemplateSummary
from ai.prompts.versions import PRODUCTION, TemplateDiff, TemplateHistory, TemplateVersion


@dataclass(frozen=True, slots=True)
class Output:
    """Where and in which form one command prints (see the module docstring)."""

    as_json: bool
    terminal: bool

    @classmethod
    def for_stdout(cls, as_json: bool) -> Output:
        """The form for this process's stdout: a terminal or not, JSON when asked."""
        return cls(as_json=as_json, terminal=sys.stdout.isatty())

    def console(self) -> Console:
        """A Rich console on stdout (terminal form only)."""
        return Console()

    def json(self, payload: Any) -> None:
        """`payload` as one indented JSON document on stdout."""
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")

    def raw(self, text: str) -> None:
        """`text` on stdout exactly as given."""
        sys.stdout.write(text)

    def rows(self, rows: Iterable[Sequence[str]]) -> None:
        """Tab-separated lines; tabs and line breaks inside a field become spaces."""
        for row in rows:
            sys.stdout.write("\t".join(_cell(field) for field in row) + "\n")

    def done(self, sentence: str, payload: Mapping[str, Any]) -> None:
        """What a command did: `payload` as JSON, else `sentence` as one plain line."""
        if self.as_json:
            self.json(payload)
        else:
            sys.stdout.write(sentence + "\n")


def _cell(field: str) -> str:
    return field.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def note(text: str) -> None:
    """A line for the person, on stderr (so stdout keeps only the data)."""
    sys.stderr.write(text + "\n")


def print_summaries(out: Output, found: Sequence[TemplateSummary]) -> None:
    """`devora prompts list`."""
    if out.as_json:
        out.json({"templates": [_summary_dict(item) for item in found]})
        return
    rows = []
    for item in found:
        production = item.labels.get(PRODUCTION)
        rows.append(
            [
                item.name,
                item.category,
                str(item.latest_version),
                "-" if production is None else str(production),
                item.description,
            ]
        )
    if not out.terminal:
        out.rows(rows)
        return
    table = Table("name", "category", "versions", "production", "description")
    for item, row in zip(found, rows, strict=True):
        origin = " (built-in)" if item.builtin and item.latest_version == 1 else ""
        table.add_row(escape(row[0] + origin), *(escape(cell) for cell in row[1:]))
    out.console().print(table)


def _summary_dict(item: TemplateSummary) -> dict[str, Any]:
    return {
        "name": item.name,
        "category": item.category,
        "description": item.description,
        "tags": list(item.tags),
        "variables": list(item.variables),
        "latest_version": item.latest_version,
        "labels": dict(item.labels),
        "builtin": item.builtin,
    }


def print_history(out: Output, history: TemplateHistory) -> None:
    """`devora prompts versions`."""
    by_version: dict[int, list[str]] = {}
    for label_name, number in history.labels.items():
        by_version.setdefault(number, []).append(label_name)
    if out.as_json:
        out.json(
            {
                "name": history.name,
                "labels": dict(history.labels),
                "versions": [
                    {
                        **_version_dict(item),
                        "labels": sorted(by_version.get(item.version, [])),
                        "latest": item is history.latest,
                    }
                    for item in history.versions
                ],
            }
        )
        return
    rows = []
    for item in history.versions:
        labels = sorted(by_version.get(item.version, []))
        if item is history.latest:
            labels.append("latest")
        created = item.created_at.strftime("%Y-%m-%d %H:%M:%S")
        if not out.terminal:
            created = item.created_at.isoformat()
        rows.append(
            [
                str(item.version),
                ", ".join(labels),
                item.author,
                created,
                item.content_hash.removeprefix("sha256:")[:12],
                item.note,
            ]
        )
    if not out.terminal:
        out.rows(rows)
        return
    table = Table("version", "labels", "author", "created (UTC)", "hash", "note")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    out.console().print(table)


def _version_dict(item: TemplateVersion) -> dict[str, Any]:
    return {
        "name": item.name,
        "version": item.version,
        "author": item.author,
        "created_at": item.created_at.isoformat(),
        "note": item.note,
        "content_hash": item.content_hash,
    }


def print_version(out: Output, item: TemplateVersion, labels: Mapping[str, int]) -> None:
    """`devora prompts show`: metadata, variables and the raw template text."""
    here = sorted(label for label, number in labels.items() if number == item.version)
    if out.as_json:
        out.json({**_version_dict(item), "labels": here, "template": item.template.to_dict()})
        return
    template = item.template
    header = [
        f"{item.name} version {item.version}" + (f" ({', '.join(here)})" if here else ""),
        f"category: {template.category}   tags: {', '.join(template.tags) or '-'}",
    ]
    if template.description:
        header.append(template.description)
    hints = template.model_hints.to_dict()
    if hints:
        header.append("model hints: " + ", ".join(f"{k}={v}" for k, v in hints.items()))
    variables = [
        [
            variable.name,
            variable.type.value,
            "yes" if variable.required else "no",
            "" if variable.required else repr(variable.default_text()),
            variable.description,
        ]
        for variable in template.variables
    ]
    messages = [(message.role.value, message.content) for message in template.messages]
    if not out.terminal:
        out.raw("\n".join(header) + "\n")
        if variables:
            out.raw("variables (name, type, required, default, description):\n")
            out.rows(["", *row] for row in variables)
        prompt = _plain_prompt(template.text, messages)
        out.raw(prompt if prompt.endswith("\n") else prompt + "\n")
        return
    console = out.console()
    console.print(f"[bold]{escape(header[0])}[/bold]")
    for line in header[1:]:
        console.print(escape(line), highlight=False)
    table = Table("variable", "type", "required", "default", "description")
    for row in variables:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    _print_prompt(console, template.text, messages)


def print_diff(out: Output, diff: TemplateDiff) -> None:
    """`devora prompts diff`: the changed fields, then a unified diff of the files."""
    if out.as_json:
        out.json(
            {
                "name": diff.name,
                "from_version": diff.from_version,
                "to_version": diff.to_version,
                "changed_fields": list(diff.changed_fields),
                "unified": diff.unified,
            }
        )
        return
    if not diff.changed:
        out.raw("No differences.\n")
        return
    out.raw(f"Changed: {', '.join(diff.changed_fields)}\n")
    unified = diff.unified
    if out.terminal:
        out.console().print(unified.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
    else:
        out.raw(unified if unified.endswith("\n") else unified + "\n")


def print_rendered(out: Output, rendered: RenderedPrompt, estimate: PromptEstimate | None) -> None:
    """`devora prompts render`: the prompt as sent (and the cost estimate, if asked)."""
    if out.as_json:
        payload: dict[str, Any] = {
            "name": rendered.name,
            "version": rendered.version,
            "experiment": rendered.experiment,
            "variant": rendered.variant,
            "text": rendered.text,
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
        out.json(payload)
        return
    messages = [(message["role"], message["content"]) for message in rendered.messages]
    if not out.terminal:
        out.raw(_plain_prompt(rendered.text, messages))
        if estimate is not None:
            note(_estimate_line(estimate))
        return
    console = out.console()
    if rendered.text is not None:
        console.rule("user")
    _print_prompt(console, rendered.text, messages)
    if estimate is not None:
        console.rule()
        console.print(escape(_estimate_line(estimate)))


def _estimate_line(estimate: PromptEstimate) -> str:
    cost = "unknown (no price)" if estimate.total_cost is None else f"${estimate.total_cost:.6f}"
    approx = " (approximate tokenizer)" if estimate.estimated else ""
    return (
        f"{estimate.model}: {estimate.input_tokens} input tokens{approx}, up to "
        f"{estimate.output_tokens} output tokens, cost {cost}"
    )


def _plain_prompt(text: str | None, messages: Sequence[tuple[str, str]]) -> str:
    """A text prompt exactly; chat messages each as `--- role ---`, content, newline."""
    if text is not None:
        return text
    return "".join(f"--- {role} ---\n{content}\n" for role, content in messages)


def _print_prompt(console: Console, text: str | None, messages: Sequence[tuple[str, str]]) -> None:
    """Prompt text on a terminal: wrapped by the terminal, not broken by Rich."""
    if text is not None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    for role, content in messages:
        console.rule(escape(role))
        console.print(content, markup=False, highlight=False, soft_wrap=True)
