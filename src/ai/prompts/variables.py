"""Declared template variables: a type, a default, and the rules a value must meet.

Values are checked and turned into text before they reach a template, so a wrong type is
a `TemplateError` naming the variable, not a surprising `str()` of a dict in a prompt.
"""

from __future__ import annotations

import enum
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ai.errors import TemplateError
from ai.prompts.interpolation import IDENTIFIER
from ai.prompts.preview import preview, preview_keys


class VariableType(enum.StrEnum):
    """What a variable holds, and so how it is checked and written into the prompt."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"  # of text items, written one per line as "- item"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Sentinel: a variable with no default (distinct from a default of ``None``)."""

_SCALAR = (str, int, float)


@dataclass(frozen=True, slots=True)
class TemplateVariable:
    """One variable a template declares.

    A variable is required unless it has a default; an optional variable without a default
    renders as empty text. `choices` limits text values to a closed set; `max_length` caps
    the rendered text (a guard against a runaway input eating the context window).
    """

    name: str
    type: VariableType = VariableType.TEXT
    description: str = ""
    required: bool = True
    default: Any = MISSING
    choices: tuple[str, ...] = ()
    max_length: int | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        try:
            if not isinstance(self.type, str):  # Enum's own message would repr any value
                raise ValueError(self.type)
            object.__setattr__(self, "type", VariableType(self.type))
        except ValueError:
            known = ", ".join(t.value for t in VariableType)
            raise TemplateError(
                f"variable {self.name!r}: unknown type {preview(self.type)}; use one of {known}"
            ) from None
        if not isinstance(self.description, str):
            raise TemplateError(f"variable {self.name!r}: description must be text")
        object.__setattr__(self, "choices", _choices(self.name, self.choices))
        if self.default is not MISSING and self.required:
            object.__setattr__(self, "required", False)  # a default makes it optional
        if self.max_length is not None and (
            isinstance(self.max_length, bool)
            or not isinstance(self.max_length, int)
            or self.max_length < 1
        ):
            raise TemplateError(
                f"variable {self.name!r}: max_length must be an integer >= 1, "
                f"got {preview(self.max_length)}"
            )
        if self.default is not MISSING:
            self.to_text(self.default)  # a bad default fails at definition, not at render

    def to_text(self, value: Any) -> str:
        """Check `value` against the declaration and return the text to insert."""
        text = _CONVERTERS[self.type](self.name, value)
        if self.choices and text not in self.choices:
            allowed = ", ".join(repr(choice) for choice in self.choices)
            raise TemplateError(
                f"variable {self.name!r} must be one of {allowed}, got {preview(text)}"
            )
        if self.max_length is not None and len(text) > self.max_length:
            raise TemplateError(
                f"variable {self.name!r} is {len(text)} characters, over its max_length of "
                f"{self.max_length}; shorten it or raise the limit in the template"
            )
        return text

    def default_text(self) -> str:
        """Text for an optional variable the caller did not give."""
        return "" if self.default is MISSING else self.to_text(self.default)

    def parse(self, raw: str) -> Any:
        """A value of this variable's type from command-line text (`devora prompts render`)."""
        try:
            if self.type is VariableType.INTEGER:
                return int(raw)
            if self.type is VariableType.NUMBER:
                return float(raw)
        except ValueError:
            raise TemplateError(
                f"variable {self.name!r} expects {self.type.value}, got {preview(raw)}"
            ) from None
        if self.type is VariableType.BOOLEAN:
            lowered = raw.strip().lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            raise TemplateError(f"variable {self.name!r} expects true or false, got {preview(raw)}")
        if self.type is VariableType.LIST:
            return _parse_list(self.name, raw)
        return raw

    def to_dict(self) -> dict[str, Any]:
        """The declaration as stored in template files (defaults left out)."""
        data: dict[str, Any] = {"type": self.type.value}
        if self.description:
            data["description"] = self.description
        if self.default is not MISSING:
            data["default"] = (
                list(self.default) if isinstance(self.default, tuple) else self.default
            )
        elif not self.required:
            data["required"] = False
        if self.choices:
            data["choices"] = list(self.choices)
        if self.max_length is not None:
            data["max_length"] = self.max_length
        return data

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any] | str | None) -> TemplateVariable:
        """Read a declaration; a bare string is shorthand for the description of a text."""
        _check_name(name)
        if data is None:
            return cls(name)
        if isinstance(data, str):
            return cls(name, description=data)
        if not isinstance(data, Mapping):
            raise TemplateError(f"variable {name!r}: expected a mapping, got {preview(data)}")
        if data.get("required") is True and "default" in data:
            raise TemplateError(
                f"variable {name!r} is marked required but has a default; drop one of the two"
            )
        unknown = set(data) - _VARIABLE_KEYS
        if unknown:
            raise TemplateError(
                f"variable {name!r}: unknown key(s) {preview_keys(unknown)}; "
                f"allowed: {sorted(_VARIABLE_KEYS)}"
            )
        return cls(
            name=name,
            type=data.get("type", VariableType.TEXT),
            description=_as_text(name, "description", data.get("description", "")),
            required=bool(data.get("required", "default" not in data)),
            default=data.get("default", MISSING),
            choices=_choices(name, data.get("choices", ()), convert=True),
            max_length=data.get("max_length"),
        )


_VARIABLE_KEYS = frozenset({"type", "description", "required", "default", "choices", "max_length"})


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise TemplateError(
            f"variable name {preview(name)} must be an identifier (letters, digits, _)"
        )


def _text(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, _SCALAR):
        raise TemplateError(f"variable {name!r} expects text, got {_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise TemplateError(f"variable {name!r} got a non-finite number {value!r}")
    if isinstance(value, int):
        return _decimal(name, value)
    return value if isinstance(value, str) else str(value)


def _integer(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateError(f"variable {name!r} expects an integer, got {_kind(value)}")
    return _decimal(name, value)


def _number(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateError(f"variable {name!r} expects a number, got {_kind(value)}")
    if isinstance(value, int):  # always finite, even beyond float's range
        return _decimal(name, value)
    if not math.isfinite(value):
        raise TemplateError(f"variable {name!r} got a non-finite number {value!r}")
    return repr(value)


def _decimal(name: str, value: int) -> str:
    """`str(value)`, or a `TemplateError` where Python refuses to write that many digits."""
    try:
        return str(int(value))
    except ValueError:  # over sys.get_int_max_str_digits() (4,300 by default)
        raise TemplateError(
            f"variable {name!r}: an integer of {value.bit_length()} bits has more digits "
            f"than Python writes out ({sys.get_int_max_str_digits()}, see "
            "sys.set_int_max_str_digits); pass it as text if it is meant to be that long"
        ) from None


def _as_text(name: str, what: str, value: Any) -> str:
    """A declaration's text field from a file: scalars become text, anything else fails."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return _decimal(name, value) if isinstance(value, int) else str(value)
    raise TemplateError(f"variable {name!r}: {what} must be text, got {_kind(value)}")


def _choices(name: str, choices: Any, *, convert: bool = False) -> tuple[str, ...]:
    """`choices` as a tuple of text (from files, scalars are converted: `[1, 2]`)."""
    if type(choices) is tuple and all(type(c) is str for c in choices):
        return choices  # the common case, without the (slow) ABC checks below
    if isinstance(choices, str | bytes | Mapping) or not isinstance(choices, Iterable):
        raise TemplateError(
            f"variable {name!r}: choices must be a list of text, got {_kind(choices)}"
        )
    cleaned = tuple(_as_text(name, "each choice", c) if convert else c for c in choices)
    for choice in cleaned:
        if not isinstance(choice, str):
            raise TemplateError(f"variable {name!r}: choice {preview(choice)} is not text")
    return cleaned


def _boolean(name: str, value: Any) -> str:
    if not isinstance(value, bool):
        raise TemplateError(f"variable {name!r} expects true or false, got {_kind(value)}")
    return "true" if value else "false"


def _list(name: str, value: Any) -> str:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TemplateError(f"variable {name!r} expects a list of text, got {_kind(value)}")
    return "\n".join(f"- {_text(f'{name}[{i}]', item)}" for i, item in enumerate(value))


def _parse_list(name: str, raw: str) -> list[str]:
    """A JSON array, or one item per non-empty line (a leading "- " is dropped)."""
    stripped = raw.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"variable {name!r}: not a JSON list: {exc}") from None
        if isinstance(items, list):
            return [str(item) for item in items]
    lines = (line.strip() for line in raw.splitlines())
    return [line.removeprefix("- ") for line in lines if line]


def _kind(value: Any) -> str:
    return "nothing (None)" if value is None else type(value).__name__


_CONVERTERS = {
    VariableType.TEXT: _text,
    VariableType.INTEGER: _integer,
    VariableType.NUMBER: _number,
    VariableType.BOOLEAN: _boolean,
    VariableType.LIST: _list,
}
