"""How big a metadata filter may be, so that one request cannot keep a store busy for minutes.

Filters often come from outside (a search form, an API). Unbounded, a `$in` of a million
values took seconds to parse and compile and a minute in PostgreSQL, and a few thousand
nested `$and`s would overflow the stack. `FilterLimits` bounds the three things that make
a filter expensive; `parse_filter` stops at the first excess, before reading further, with
a `FilterError` that names the limit and how to raise it.

The limits apply where a filter enters: `parse_filter(raw, limits=...)`, and the
`VectorStore` front, which passes `VectorStoreConfig.filter_limits` (default
`DEFAULT_FILTER_LIMITS`). A tree that is already parsed is checked again by walking it
(`ai.rag.filters_lang.check_parsed`), since a hand-built tree skips the parser.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Final

from ai.errors import ConfigurationError, FilterError


@dataclass(frozen=True, slots=True)
class FilterLimits:
    """Bounds on one filter: values in all its `$in`/`$nin` lists together
    (`max_list_items`), nesting of `$and`/`$or` (`max_depth`, counted in objects: `{"a": 1}`
    is one level, `{"$and": [{"a": 1}]}` two) and field conditions (`max_conditions`: one
    per operator on a field, so `{"year": {"$gte": 1, "$lt": 9}}` is two)."""

    max_list_items: int = 10_000
    max_depth: int = 32
    max_conditions: int = 256

    def __post_init__(self) -> None:
        for name in ("max_list_items", "max_depth", "max_conditions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"FilterLimits.{name} must be a positive integer, got {preview(value)}."
                )


#: What `parse_filter` and `VectorStore` apply unless told otherwise.
DEFAULT_FILTER_LIMITS: Final = FilterLimits()


def raise_hint(name: str) -> str:
    """How to raise limit `name`, for the end of a `FilterError` message."""
    return (
        f"(FilterLimits.{name}); to allow more, pass VectorStoreConfig(filter_limits="
        f"FilterLimits({name}=...)) or parse_filter(..., limits=FilterLimits({name}=...))."
    )


class FilterBudget:
    """What one filter has used of its limits so far; raises on the first excess."""

    __slots__ = ("conditions", "items", "limits")

    def __init__(self, limits: FilterLimits) -> None:
        self.limits = limits
        self.conditions = 0
        self.items = 0

    def add_condition(self, path: str) -> None:
        """Count one field condition (at `path`, for the message)."""
        self.conditions += 1
        if self.conditions > self.limits.max_conditions:
            raise FilterError(
                f"{path}: too many conditions: a filter may hold at most "
                f"{self.limits.max_conditions} {raise_hint('max_conditions')}"
            )

    def add_items(self, count: int, path: str) -> None:
        """Count the `count` values of one `$in`/`$nin` list, before reading them."""
        self.items += count
        if self.items > self.limits.max_list_items:
            raise FilterError(
                f"{path}: too many values: the $in and $nin lists of a filter may hold "
                f"{self.limits.max_list_items} values in all, and this list brings them to "
                f"{self.items} {raise_hint('max_list_items')} For long id lists, filter on "
                "a coarser field or query in batches."
            )

    def check_depth(self, depth: int, path: str) -> None:
        """Refuse an object nested deeper than `max_depth` (1 is the top-level object)."""
        if depth > self.limits.max_depth:
            raise FilterError(
                f"{path}: filters may nest $and/$or at most {self.limits.max_depth} levels "
                f"deep {raise_hint('max_depth')}"
            )


class _Preview(reprlib.Repr):
    """`reprlib` bounds size and nesting; ints too long for `repr` get a description."""

    def repr_int(self, x: int, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # more digits than sys.get_int_max_str_digits() allows
            return f"<an integer of {x.bit_length()} bits>"


_PREVIEW = _Preview()
_PREVIEW.maxlevel = 3
_PREVIEW.maxstring = _PREVIEW.maxother = 60


def preview(value: object, limit: int = 60) -> str:
    """A short repr for error messages that cannot fail or grow with the value: a 10 MB
    string, a 5,000-digit integer or a list nested 100,000 deep all give a few words."""
    try:
        text = _PREVIEW.repr(value)
    except (ValueError, RecursionError, MemoryError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
