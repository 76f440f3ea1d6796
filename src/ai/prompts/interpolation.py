"""Strict `{variable}` interpolation: safe by construction, not by sandboxing.

The only syntax is `{name}` where `name` is an identifier, plus `{{` and `}}` for literal
braces. There is no attribute or item access, no format spec, no conversion, no filter and
no expression, so a template cannot reach into the values it is given, and a value is
never read as template text: rendering is one pass over pre-parsed parts, and whatever a
value contains (braces, other placeholders, role markers) lands in the output as typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ai.errors import TemplateError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """Where a variable's value goes."""

    name: str


@dataclass(frozen=True, slots=True)
class TextTemplate:
    """A parsed template string: literal text and placeholders, in order."""

    source: str
    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, source: str, *, where: str = "template") -> TextTemplate:
        """Parse `source`; any brace that is not `{identifier}`, `{{` or `}}` is an error.

        `where` names the text in error messages (``"code_review messages[1]"``).
        """
        if not isinstance(source, str):
            raise TemplateError(f"{where}: expected text, got {type(source).__name__}")
        parts: list[str | Placeholder] = []
        literal: list[str] = []
        position = 0
        for match in _TOKEN.finditer(source):
            literal.append(source[position : match.start()])
            position = match.end()
            token = match.group(0)
            if token in ("{{", "}}"):
                literal.append(token[0])
                continue
            name = match.group(1)
            if name is None or not IDENTIFIER.fullmatch(name):
                raise TemplateError(_bad_brace(source, match.start(), token, where))
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Placeholder(name))
        literal.append(source[position:])
        tail = "".join(literal)
        if tail:
            parts.append(tail)
        return cls(source, tuple(part for part in parts if part != ""))

    @property
    def variables(self) -> tuple[str, ...]:
        """Placeholder names in order of first appearance."""
        seen: dict[str, None] = {}
        for part in self.parts:
            if isinstance(part, Placeholder):
                seen.setdefault(part.name, None)
        return tuple(seen)

    def render(self, values: Mapping[str, str]) -> str:
        """Substitute `values` (already text); every placeholder must have one."""
        try:
            return "".join(
                values[part.name] if isinstance(part, Placeholder) else part for part in self.parts
            )
        except KeyError as exc:  # callers check first; this guards direct use
            raise TemplateError(f"no value for variable {exc.args[0]!r}") from None


def _bad_brace(source: str, offset: int, token: str, where: str) -> str:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    shown = token if len(token) <= 40 else token[:37] + "..."
    if token in ("{", "}"):
        advice = f"write {token * 2!r} for a literal brace"
    else:
        advice = (
            "only {name} with a plain identifier is allowed (no attribute or index access, "
            "format specs, conversions or expressions); write '{{' and '}}' for literal braces"
        )
    return f"{where}, line {line} column {column}: {shown!r} is not a placeholder: {advice}"
