"""The filter language itself: its syntax tree, the parser and the reference matcher.

`ai.rag.filters` documents the semantics and re-exports everything here; the SQL compiler
(`filters_sql`) and the numpy evaluator (`filters_numpy`) build on these definitions and
must agree with `matches`, the plain-Python statement of what a filter means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

import numpy as np

from ai.errors import FilterError

Scalar = str | int | float | bool

#: Deepest nesting of `$and` / `$or` accepted; deeper filters are refused, not recursed into.
MAX_DEPTH = 32

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


def parse_filter(raw: Mapping[str, Any] | Filter | None) -> Filter | None:
    """Validate a Pinecone-style filter dict; raise `FilterError` naming the bad part.

    `None` and `{}` mean "no filter" and give `None`; an already parsed `Filter` is
    returned as is, so callers may pass either form.
    """
    if raw is None:
        return None
    if isinstance(raw, Condition | And | Or):
        return raw
    if not isinstance(raw, Mapping):
        raise FilterError(f"filter: expected a dict (JSON object), got {_show(raw)}.")
    if not raw:
        return None
    return _parse_object(raw, "filter", 1)


def _parse_object(raw: object, path: str, depth: int) -> Filter:
    if depth > MAX_DEPTH:
        raise FilterError(f"{path}: filters may nest $and/$or at most {MAX_DEPTH} levels deep.")
    if not isinstance(raw, Mapping):
        raise FilterError(f"{path}: expected a dict (JSON object), got {_show(raw)}.")
    if not raw:
        raise FilterError(f"{path}: empty clause; give at least one field or $and/$or.")
    clauses: list[Filter] = []
    for key, value in raw.items():
        where = f"{path}[{key!r}]"
        if not isinstance(key, str):
            raise FilterError(f"{where}: field names must be strings, got {_show(key)}.")
        if key in LOGICAL_OPS:
            clauses.append(_parse_logical(key, value, where, depth))
        elif key.startswith("$"):
            if key in Op.__members__.values():
                raise FilterError(
                    f"{where}: {key} cannot stand at the top of a clause; put it under a "
                    f"field, e.g. {{'year': {{{key!r}: ...}}}}."
                )
            raise FilterError(f"{where}: unknown operator {key!r}; {_KNOWN}.")
        elif not key:
            raise FilterError(f"{where}: field names must not be empty.")
        else:
            clauses.extend(_parse_field(key, value, where))
    return clauses[0] if len(clauses) == 1 else And(tuple(clauses))


def _parse_logical(key: str, value: object, path: str, depth: int) -> Filter:
    if not isinstance(value, list | tuple) or not value:
        raise FilterError(f"{path}: {key} takes a non-empty list of clauses, got {_show(value)}.")
    clauses = tuple(_parse_object(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
    return And(clauses) if key == "$and" else Or(clauses)


def _parse_field(field: str, value: object, path: str) -> list[Condition]:
    if not isinstance(value, Mapping):
        return [Condition(field, Op.EQ, _equality_value(value, path, "$eq"))]
    if not value:
        raise FilterError(f"{path}: empty operator dict; give e.g. {{'$eq': ...}}.")
    conditions = []
    for op_name, operand in value.items():
        where = f"{path}[{op_name!r}]"
        if op_name in LOGICAL_OPS:
            raise FilterError(f"{where}: {op_name} combines clauses; it cannot sit under a field.")
        if op_name not in Op.__members__.values():
            raise FilterError(f"{where}: unknown operator {op_name!r}; {_KNOWN}.")
        op = Op(op_name)
        conditions.append(Condition(field, op, _operand(op, operand, where)))
    return conditions


def _operand(op: Op, value: object, path: str) -> Scalar | tuple[Scalar, ...]:
    if op in (Op.EQ, Op.NE):
        return _equality_value(value, path, op.value)
    if op in RANGE_OPS:
        number = _number_value(value)
        if number is None:
            raise FilterError(f"{path}: expected a number, got {_show(value)}.")
        return number
    if op is Op.EXISTS:
        if not isinstance(value, bool | np.bool_):
            raise FilterError(f"{path}: expected true or false, got {_show(value)}.")
        return bool(value)
    if not isinstance(value, list | tuple):
        raise FilterError(
            f"{path}: {op.value} takes a list of strings or numbers, got {_show(value)}."
        )
    items: list[Scalar] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            items.append(item)
            continue
        number = _number_value(item)
        if number is None:
            raise FilterError(f"{path}[{i}]: expected a string or number, got {_show(item)}.")
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
    raise FilterError(f"{path}: {op} takes a string, number or boolean, got {_show(value)}{hint}.")


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


_KNOWN = "use one of " + ", ".join([*(op.value for op in Op), "$and", "$or"])


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    targets = condition.value if isinstance(condition.value, tuple) else (condition.value,)
    hit = _equals_any(value, targets)
    return hit if op in (Op.EQ, Op.IN) else not hit


def _equals_any(value: object, targets: Iterable[Scalar]) -> bool:
    keys = {scalar_key(target) for target in targets}
    if is_list(value):
        return any(scalar_key(item) in keys for item in value)
    return scalar_key(value) in keys
