"""`PromptTemplate`: what a prompt says, which variables it takes, and how to call a model.

A template is a value: frozen, validated when built (every placeholder declared, every
declared variable used, defaults and the example valid), and the same whether it came from
Python, a YAML file or a database row. `to_dict` is its one canonical form, used for files,
database rows and the content hash of a version.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ai.errors import TemplateError
from ai.prompts.interpolation import TextTemplate
from ai.prompts.preview import preview, preview_keys
from ai.prompts.rendered import ModelHints, RenderedPrompt
from ai.prompts.variables import TemplateVariable

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
"""Template names and categories: lowercase slugs, safe as file names on every system."""


class Role(enum.StrEnum):
    """Chat roles a template message may have."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class Category(enum.StrEnum):
    """The built-in library's categories; a template may use any other slug too."""

    ARCHITECTURE = "architecture"
    CODE_GENERATION = "code_generation"
    CODE_REVIEW = "code_review"
    TESTING = "testing"
    DOCUMENTATION = "documentation"
    DEBUGGING = "debugging"
    REFACTORING = "refactoring"
    SECURITY_REVIEW = "security_review"
    SUMMARIZATION = "summarization"
    RAG = "rag"
    GENERAL = "general"


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One chat message of a template; `content` may hold `{variable}` placeholders."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        try:
            if not isinstance(self.role, str):  # Enum's own message would repr any value
                raise ValueError(self.role)
            object.__setattr__(self, "role", Role(self.role))
        except ValueError:
            raise TemplateError(
                f"message role {preview(self.role)} is not one of system, user, assistant"
            ) from None
        if not isinstance(self.content, str) or not self.content.strip():
            raise TemplateError(f"a {self.role.value} message needs non-empty text content")


@dataclass(frozen=True)
class PromptTemplate:
    """A named prompt: chat `messages` or a single `text`, with declared variables.

    Leave `variables` empty to have every placeholder declared as required text. Set
    `experiment` to let an A/B router pick the version to render (see `TemplateManager`).
    `example` holds sample values: shown by the CLI and docs, and checked to render.
    """

    name: str
    messages: tuple[PromptMessage, ...] = ()
    text: str | None = None
    category: str = Category.GENERAL.value
    description: str = ""
    variables: tuple[TemplateVariable, ...] = ()
    model_hints: ModelHints = field(default_factory=ModelHints)
    tags: tuple[str, ...] = ()
    experiment: str | None = None
    allow_unknown_variables: bool = False
    example: Mapping[str, Any] = field(default_factory=dict, hash=False)
    _parsed: tuple[TextTemplate, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_slug(self.name, "template name")
        _check_slug(self.category, f"{self.name}: category")
        object.__setattr__(self, "category", str(self.category))
        object.__setattr__(self, "messages", _messages(self.name, self.messages))
        object.__setattr__(self, "tags", _tags(self.name, self.tags))
        object.__setattr__(self, "variables", _variables(self.name, self.variables))
        if not isinstance(self.model_hints, ModelHints):
            raise TemplateError(f"{self.name}: model_hints must be a ModelHints")
        if not isinstance(self.example, Mapping):
            raise TemplateError(f"{self.name}: `example` must be a mapping of variable values")
        object.__setattr__(self, "example", MappingProxyType(dict(self.example)))
        if (self.text is None) == (not self.messages):
            raise TemplateError(f"{self.name}: give either `messages` or `text`, not both or none")
        if self.text is not None and (not isinstance(self.text, str) or not self.text.strip()):
            raise TemplateError(f"{self.name}: `text` must be non-empty text")
        if self.experiment is not None:
            _check_slug(self.experiment, f"{self.name}: experiment")
        sources = [(self.text, f"{self.name} text")] if self.text is not None else []
        sources += [(m.content, f"{self.name} messages[{i}]") for i, m in enumerate(self.messages)]
        parsed = tuple(TextTemplate.parse(src, where=where) for src, where in sources if src)
        object.__setattr__(self, "_parsed", parsed)
        used = list(dict.fromkeys(name for text in parsed for name in text.variables))
        if not self.variables:
            object.__setattr__(self, "variables", tuple(TemplateVariable(n) for n in used))
        self._check_declarations(used)
        if self.example:
            self.render(self.example)

    @property
    def variable_names(self) -> tuple[str, ...]:
        """Declared variables, in declaration order."""
        return tuple(variable.name for variable in self.variables)

    @property
    def required_variables(self) -> tuple[str, ...]:
        """Variables a caller must give."""
        return tuple(variable.name for variable in self.variables if variable.required)

    def render(
        self,
        variables: Mapping[str, Any] | None = None,
        /,
        *,
        allow_unknown: bool | None = None,
        **values: Any,
    ) -> RenderedPrompt:
        """Fill the placeholders; `TemplateError` names any missing, unknown or bad value.

        A variable named `allow_unknown` cannot be passed as a keyword (Python binds it to
        the option): give it in the `variables` mapping.
        """
        self.refuse_shadowed(variables, {"allow_unknown": allow_unknown})
        given = _merge(variables, values)
        allowed = self.allow_unknown_variables if allow_unknown is None else allow_unknown
        declared = {variable.name: variable for variable in self.variables}
        unknown = [name for name in given if name not in declared]
        if unknown and not allowed:
            raise TemplateError(
                f"{self.name}: unknown variable(s) {_listing(unknown)}; it takes "
                f"{_listing(declared) or 'no variables'} (pass allow_unknown=True "
                "to ignore extras)"
            )
        missing = [v for v in self.variables if v.required and v.name not in given]
        if missing:
            described = "; ".join(
                f"{v.name!r} ({v.description})" if v.description else repr(v.name) for v in missing
            )
            raise TemplateError(f"{self.name}: missing required variable(s): {described}")
        texts = {
            name: variable.to_text(given[name]) if name in given else variable.default_text()
            for name, variable in declared.items()
        }
        return self._rendered(texts)

    def refuse_shadowed(
        self, variables: Mapping[str, Any] | None, options: Mapping[str, object]
    ) -> None:
        """Refuse a render option given by keyword (not None) that has the name of one
        of this template's variables, when `variables` does not give that variable: the
        caller may have meant the variable, and Python bound the keyword to the option, so
        the prompt would render without it, silently."""
        clashes = [
            name
            for name, value in options.items()
            if value is not None
            and name in self.variable_names
            and not (isinstance(variables, Mapping) and name in variables)
        ]
        if clashes:
            raise TemplateError(
                f"{self.name}: {_listing(clashes)} is both a variable of this template and an "
                f"option of render(); pass the variable in the values mapping, e.g. "
                f"render({{{clashes[0]!r}: ...}}), and the option as a keyword"
            )

    def to_dict(self) -> dict[str, Any]:
        """The canonical, JSON- and YAML-safe form (the file format and the hashed content)."""
        data: dict[str, Any] = {"name": self.name, "category": self.category}
        if self.description:
            data["description"] = self.description
        if self.tags:
            data["tags"] = list(self.tags)
        data["variables"] = {v.name: v.to_dict() for v in self.variables}
        if self.text is not None:
            data["text"] = self.text
        else:
            data["messages"] = [{"role": m.role.value, "content": m.content} for m in self.messages]
        hints = self.model_hints.to_dict()
        if hints:
            data["model_hints"] = hints
        if self.experiment is not None:
            data["experiment"] = self.experiment
        if self.allow_unknown_variables:
            data["allow_unknown_variables"] = True
        if self.example:
            data["example"] = dict(self.example)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptTemplate:
        """Build from the canonical form; an unknown key is an error, never ignored."""
        if not isinstance(data, Mapping):
            raise TemplateError(f"a template must be a mapping, got {type(data).__name__}")
        unknown = set(data) - _TEMPLATE_KEYS
        which = f"template {preview(data.get('name', '?'))}"
        if unknown:
            raise TemplateError(
                f"{which}: unknown key(s) {preview_keys(unknown)}; "
                f"allowed: {sorted(_TEMPLATE_KEYS)}"
            )
        variables = data.get("variables") or {}
        if not isinstance(variables, Mapping):
            raise TemplateError(f"{which}: `variables` must be a mapping")
        messages = data.get("messages") or ()
        if not isinstance(messages, list | tuple):
            raise TemplateError(f"{which}: `messages` must be a list")
        return cls(
            name=data.get("name", ""),
            messages=tuple(_message(m) for m in messages),
            text=data.get("text"),
            category=data.get("category", Category.GENERAL.value),
            description=_description(data.get("description", "")),
            variables=tuple(TemplateVariable.from_dict(k, v) for k, v in variables.items()),
            model_hints=ModelHints.from_dict(data.get("model_hints") or {}),
            tags=data.get("tags") or (),
            experiment=data.get("experiment"),
            allow_unknown_variables=bool(data.get("allow_unknown_variables", False)),
            example=data.get("example") or {},
        )

    def _rendered(self, texts: Mapping[str, str]) -> RenderedPrompt:
        if self.text is not None:
            text = self._parsed[0].render(texts) if self._parsed else ""
            return RenderedPrompt(
                name=self.name, text=text, model_hints=self.model_hints, category=self.category
            )
        contents = iter(self._parsed)
        messages = tuple(
            {"role": message.role.value, "content": next(contents).render(texts)}
            for message in self.messages
        )
        return RenderedPrompt(
            name=self.name, messages=messages, model_hints=self.model_hints, category=self.category
        )

    def _check_declarations(self, used: list[str]) -> None:
        """Every placeholder declared, every declaration used, none twice.

        Sets and a counter, not `list.count` / `in list`: those made building a template
        quadratic in its placeholders (8,000 of them took seconds).
        """
        counts = Counter(variable.name for variable in self.variables)
        duplicates = sorted(name for name, count in counts.items() if count > 1)
        if duplicates:
            raise TemplateError(f"{self.name}: variable(s) declared twice: {duplicates}")
        declared = list(counts)
        used_names = set(used)
        undeclared = [name for name in used if name not in counts]
        if undeclared:
            raise TemplateError(
                f"{self.name}: placeholder(s) {undeclared} are not declared in `variables`"
            )
        unused = [name for name in declared if name not in used_names]
        if unused:
            raise TemplateError(
                f"{self.name}: variable(s) {unused} are declared but never used in the text"
            )


_TEMPLATE_KEYS = frozenset(
    {
        "name",
        "category",
        "description",
        "tags",
        "variables",
        "messages",
        "text",
        "model_hints",
        "experiment",
        "allow_unknown_variables",
        "example",
    }
)


def _check_slug(value: object, what: str) -> None:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise TemplateError(
            f"{what} {preview(value)} must be a lowercase slug: letters, digits, '_', '.', '-', "
            "starting with a letter or digit, at most 128 characters"
        )


def _messages(name: str, messages: Any) -> tuple[PromptMessage, ...]:
    if isinstance(messages, str | Mapping) or not isinstance(messages, Iterable):
        raise TemplateError(f"{name}: `messages` must be a list of {{role, content}}")
    return tuple(_message(m) for m in messages)


def _message(message: PromptMessage | Mapping[str, Any]) -> PromptMessage:
    if isinstance(message, PromptMessage):
        return message
    if not isinstance(message, Mapping) or set(message) - {"role", "content"}:
        raise TemplateError(f"a message must be {{role, content}}, got {preview(message)}")
    return PromptMessage(role=message.get("role", ""), content=message.get("content", ""))


def _variables(name: str, variables: Any) -> tuple[TemplateVariable, ...]:
    if isinstance(variables, str | Mapping) or not isinstance(variables, Iterable):
        raise TemplateError(f"{name}: `variables` must be a list of TemplateVariable")
    found = tuple(variables)
    for variable in found:
        if not isinstance(variable, TemplateVariable):
            raise TemplateError(
                f"{name}: {preview(variable)} is not a TemplateVariable; declare "
                "TemplateVariable(name, ...) or use PromptTemplate.from_dict"
            )
    return found


def _description(value: Any) -> str:
    """A description from a file: text, or a scalar YAML read as something else (`1.0`)."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        try:
            return str(value)
        except ValueError:  # an integer with more digits than Python writes out
            pass
    raise TemplateError(f"`description` must be text, got {preview(value)}")


def _listing(names: Iterable[object], limit: int = 10) -> str:
    """Up to `limit` names for a message, and how many more there are."""
    names = list(names)
    shown = ", ".join(preview(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _tags(name: str, tags: Iterable[Any]) -> tuple[str, ...]:
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise TemplateError(f"{name}: `tags` must be a list of strings, not {preview(tags)}")
    cleaned = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or "\n" in tag:
            raise TemplateError(f"{name}: tag {preview(tag)} must be non-empty single-line text")
        cleaned.append(tag.strip().lower())
    return tuple(dict.fromkeys(cleaned))


def _merge(variables: Mapping[str, Any] | None, values: Mapping[str, Any]) -> dict[str, Any]:
    if variables is not None and not isinstance(variables, Mapping):
        raise TemplateError(f"variables must be a mapping, got {type(variables).__name__}")
    merged = dict(variables or {})
    clashes = sorted(set(merged) & set(values))
    if clashes:
        raise TemplateError(f"variable(s) {clashes} given both in the mapping and as keywords")
    merged.update(values)
    return merged
