"""The filter language itself: its syntax tree, the parser and the reference matcher.

`ai.rag.filters` documents the semantics and re-exports everything here; the SQL compiler
(`filters_sql`) and the numpy evaluator (`filters_numpy`) build on these definitions and
must agree with `matches`, the plain-Python statement of what a filter means.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

import numpy as np

from ai.errors import ConfigurationError, FilterError
from ai.rag.filters_limits import (
    DEFAULT_FILTER_LIMITS,
    FilterBudget,
    FilterLimits,
    preview,
    raise_hint,
)

Scalar = str | int | float | bool

#: Deepest nesting of `$and` / `$or` accepted by default (`FilterLimits.max_depth`); deeper
#: filters are refused, not recursed into.
MAX_DEPTH = DEFAULT_FILTER_LIMITS.max_depth

#: A typed, comparable form of a scalar: ("s", text), ("n", float64 value) or ("b", flag).
ScalarKey = tuple[str, str | float | bool]


class Op(StrEnum):
    """Comparison operators of the filter language."""

    EQ = "$eq"
    NE = "$ne"
    GT = "$gt"
    GTE = "$gte"
    LT = "$lt"
    LTE = "$lte"
    IN = "$in"
    NIN = "$nin"
    EXISTS = "$exists"


#: Operators that compare numbers by order; they never match strings, booleans or lists.
RANGE_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})
LOGICAL_OPS = frozenset({"$and", "$or"})


@dataclass(frozen=True, slots=True)
class Condition:
    """`field op value`, e.g. `year $gte 2020`. `$in`/`$nin` hold a tuple of values."""

    field: str
    op: Op
    value: Scalar | tuple[Scalar, ...]
    _keys: frozenset[ScalarKey] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def target_keys(self) -> frozenset[ScalarKey]:
        """The typed keys of the value(s), built on first use and kept: `matches` tests
        each record against them, so a 10,000-value `$in` costs one set, not one per record."""
        keys = self._keys
        if keys is None:
            targets = self.value if isinstance(self.value, tuple) else (self.value,)
            keys = frozenset(key for t in targets if (key := scalar_key(t)) is not None)
            object.__setattr__(self, "_keys", keys)
        return keys


@dataclass(frozen=True, slots=True)
class And:
    """Every clause holds."""

    clauses: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one clause holds."""

    clauses: tuple[Filter, ...]


Filter = Condition | And | Or


# --- parsing ------------------------------------------------------------------------------


def parse_filter(
    raw: Mapping[str, Any] | Filter | None, limits: FilterLimits | None = None
) -> Filter | None:
    """Validate a Pinecone-style filter dict; raise `FilterError` naming the bad part.

    `None` and `{}` mean "no filter" and give `None`; an already parsed `Filter` is
    returned as is, once checked against `limits` too, so callers may pass either form.
    `limits` (default `DEFAULT_FILTER_LIMITS`) bounds list sizes, nesting and conditions;
    parsing stops at the first excess, so its cost is bounded by the limits, not the input.
    """
    limits = DEFAULT_FILTER_LIMITS if limits is None else limits
    if not isinstance(limits, FilterLimits):
        raise ConfigurationError(
            f"parse_filter: limits must be a FilterLimits, got {preview(limits)}."
        )
    if raw is None:
        return None
    if isinstance(raw, Condition | And | Or):
        check_parsed(raw, limits)
        return raw
    if not isinstance(raw, Mapping):
        raise FilterError(f"filter: expected a dict (JSON object), got {preview(raw)}.")
    if not raw:
        return None
    return _Parser(FilterBudget(limits)).clause(raw, "filter", 1)


class _Parser:
    """One pass over the input, in time linear in its size; `budget` stops it early."""

    __slots__ = ("budget",)

    def __init__(self, budget: FilterBudget) -> None:
        self.budget = budget

    def clause(self, raw: object, path: str, depth: int) -> Filter:
        """One object: fields and `$and`/`$or`, ANDed together."""
        self.budget.check_depth(depth, path)
        if not isinstance(raw, Mapping):
            raise FilterError(f"{path}: expected a dict (JSON object), got {preview(raw)}.")
        if not raw:
            raise FilterError(f"{path}: empty clause; give at least one field or $and/$or.")
        clauses: list[Filter] = []
        for key, value in raw.items():
            where = f"{path}[{preview(key)}]"
            if not isinstance(key, str):
                raise FilterError(f"{where}: field names must be strings, got {preview(key)}.")
            if key in LOGICAL_OPS:
                clauses.append(self.logical(key, value, where, depth))
            elif key.startswith("$"):
                if key in _OPERATORS:
                    raise FilterError(
                        f"{where}: {key} cannot stand at the top of a clause; put it under a "
                        f"field, e.g. {{'year': {{{key!r}: ...}}}}."
                    )
                raise FilterError(f"{where}: unknown operator {preview(key)}; {_KNOWN}.")
            elif not key:
                raise FilterError(f"{where}: field names must not be empty.")
            else:
                clauses.extend(self.conditions(key, value, where))
        return clauses[0] if len(clauses) == 1 else And(tuple(clauses))

    def logical(self, key: str, value: object, path: str, depth: int) -> Filter:
        """The list under `$and` / `$or`."""
        if not isinstance(value, list | tuple) or not value:
            raise FilterError(
                f"{path}: {key} takes a non-empty list of clauses, got {preview(value)}."
            )
        clauses = tuple(
            self.clause(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)
        )
        return And(clauses) if key == "$and" else Or(clauses)

    def conditions(self, field: str, value: object, path: str) -> list[Condition]:
        """What one field is compared with: a value (`$eq`) or an operator dict."""
        if not isinstance(value, Mapping):
            self.budget.add_condition(path)
            return [Condition(field, Op.EQ, _equality_value(value, path, "$eq"))]
        if not value:
            raise FilterError(f"{path}: empty operator dict; give e.g. {{'$eq': ...}}.")
        found = []
        for op_name, operand in value.items():
            where = f"{path}[{preview(op_name)}]"
            if op_name in LOGICAL_OPS:
                raise FilterError(
                    f"{where}: {op_name} combines clauses; it cannot sit under a field."
                )
            if op_name not in _OPERATORS:
                raise FilterError(f"{where}: unknown operator {preview(op_name)}; {_KNOWN}.")
            self.budget.add_condition(where)
            op = Op(op_name)
            found.append(Condition(field, op, _operand(op, operand, where, self.budget)))
        return found


def check_parsed(filter: Filter, limits: FilterLimits) -> None:
    """Hold an already parsed (perhaps hand-built) tree to `limits`, without recursion.

    One object level of a filter can become two tree levels (an object with several keys
    is an `And` above its `$and`), so trees get twice `max_depth`.
    """
    budget = FilterBudget(limits)
    stack: list[tuple[object, int]] = [(filter, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > 2 * limits.max_depth:
            raise FilterError(
                f"filter: the parsed tree nests And/Or more than {2 * limits.max_depth} deep "
                f"{raise_hint('max_depth')}"
            )
        if isinstance(node, Condition):
            budget.add_condition(f"filter[{preview(node.field)}]")
            if isinstance(node.value, tuple):
                budget.add_items(len(node.value), f"filter[{preview(node.field)}]")
        elif isinstance(node, And | Or):
            if not node.clauses:
                raise FilterError(f"filter: {type(node).__name__}() needs at least one clause.")
            stack.extend((clause, depth + 1) for clause in node.clauses)
        else:
            raise FilterError(
                f"filter: expected Condition, And or Or in a parsed tree, got {preview(node)}."
            )


def _operand(op: Op, value: object, path: str, budget: FilterBudget) -> Scalar | tuple[Scalar, ...]:
    if op in (Op.EQ, Op.NE):
        return _equality_value(value, path, op.value)
    if op in RANGE_OPS:
        number = _number_value(value)
        if number is None:
            raise FilterError(f"{path}: expected a number, got {preview(value)}.")
        return number
    if op is Op.EXISTS:
        if not isinstance(value, bool | np.bool_):
            raise FilterError(f"{path}: expected true or false, got {preview(value)}.")
        return bool(value)
    if not isinstance(value, list | tuple):
        raise FilterError(
            f"{path}: {op.value} takes a list of strings or numbers, got {preview(value)}."
        )
    budget.add_items(len(value), path)
    items: list[Scalar] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            items.append(item)
            continue
        number = _number_value(item)
        if number is None:
            raise FilterError(f"{path}[{i}]: expected a string or number, got {preview(item)}.")
        items.append(number)
    return tuple(items)


def _equality_value(value: object, path: str, op: str) -> Scalar:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    number = _number_value(value)
    if number is not None:
        return number
    hint = "; to match any of several values use $in" if isinstance(value, list | tuple) else ""
    raise FilterError(
        f"{path}: {op} takes a string, number or boolean, got {preview(value)}{hint}."
    )


def _number_value(value: object) -> int | float | None:
    """A finite int/float (numpy scalars converted), or None; booleans are not numbers."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, np.integer | np.floating):
        value = value.item()
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return None
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


_OPERATORS = frozenset(op.value for op in Op)
_KNOWN = "use one of " + ", ".join([*(op.value for op in Op), "$and", "$or"])


# --- serialising --------------------------------------------------------------------------


def filter_to_dict(filter: Filter) -> dict[str, Any]:
    """The filter as a Pinecone JSON filter; `parse_filter` of the result gives it back."""
    if isinstance(filter, And | Or):
        key = "$and" if isinstance(filter, And) else "$or"
        return {key: [filter_to_dict(clause) for clause in filter.clauses]}
    value = list(filter.value) if isinstance(filter.value, tuple) else filter.value
    return {filter.field: {filter.op.value: value}}


def filter_fields(filter: Filter) -> set[str]:
    """Every metadata field the filter reads."""
    if isinstance(filter, Condition):
        return {filter.field}
    return set().union(*(filter_fields(clause) for clause in filter.clauses))


# --- reference semantics ------------------------------------------------------------------


def scalar_key(value: object) -> ScalarKey | None:
    """The typed form equality works on, or None for values that equal nothing.

    Numbers become float64 (as Pinecone stores them), so 1 == 1.0; booleans keep their own
    type, so True != 1; NaN, numbers beyond float64 and non-scalars (dicts, lists, None)
    get None.
    """
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, bool | np.bool_):
        return ("b", bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        try:
            number = float(value)
        except OverflowError:
            return None
        return None if math.isnan(number) else ("n", number)
    return None


def number_of(value: object) -> float | None:
    """The float64 a range operator compares, or None when the value is not a number."""
    key = scalar_key(value)
    if key is None or key[0] != "n" or not isinstance(key[1], float):
        return None
    return key[1]


def is_list(value: object) -> TypeGuard[list[Any] | tuple[Any, ...]]:
    """List-valued metadata (Pinecone: a list of strings) matches element by element."""
    return isinstance(value, list | tuple)


def matches(filter: Filter | None, metadata: Mapping[str, Any]) -> bool:
    """Reference semantics: does one record's metadata pass `filter`? (None passes all.)"""
    if filter is None:
        return True
    if isinstance(filter, And):
        return all(matches(clause, metadata) for clause in filter.clauses)
    if isinstance(filter, Or):
        return any(matches(clause, metadata) for clause in filter.clauses)
    return _condition_holds(filter, metadata.get(filter.field))


def _condition_holds(condition: Condition, value: object) -> bool:
    present = value is not None
    op = condition.op
    if op is Op.EXISTS:
        return present == condition.value
    if not present:
        return False
    if op in RANGE_OPS:
        number = None if is_list(value) else number_of(value)
        if number is None:
            return False
        bound = number_of(condition.value)
        if bound is None:
            return False
        if op is Op.GT:
            return number > bound
        if op is Op.GTE:
            return number >= bound
        if op is Op.LT:
            return number < bound
        return number <= bound
    hit = _equals_any(value, condition.target_keys())
    return hit if op in (Op.EQ, Op.IN) else not hit


def _equals_any(value: object, keys: frozenset[ScalarKey]) -> bool:
    if is_list(value):
        return any(scalar_key(item) in keys for item in value)
    return scalar_key(value) in keys
