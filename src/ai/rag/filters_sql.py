"""Compile a parsed filter to a parameterised PostgreSQL expression over a jsonb column.

Nothing from the filter reaches the SQL text: field names and values travel as asyncpg
parameters (`$n`), always with an explicit cast from a base type (`$3::text::jsonb`,
`$4::float8`), so a custom jsonb codec on the connection cannot change their meaning. The
column name comes from our code and is checked against `^[a-z_][a-z0-9_]*$`.

Mapping of the semantics of `ai.rag.filters.matches` (v is `column -> field`):

- equality and membership on strings, booleans and numbers below 2**53 use jsonb
  containment, `column @> ANY($n::text::jsonb[])` with `{"f": x}` and `{"f": [x]}`
  (the second covers list-valued fields); a GIN index on the column serves it. jsonb
  compares numbers exactly, which equals float64 equality for any value a JSON encoder
  writes from a double or from an integer below 2**53.
- numbers of 2**53 or more in magnitude compare as float8, element by element for lists.
- `$ne` / `$nin` are "present and not equal", wrapped in `coalesce(..., false)`.
- `$gt` ... compare `v::float8` inside `CASE jsonb_typeof(v) WHEN 'number'` (CASE fixes the
  evaluation order, so strings never reach the cast).
- present means the key exists and is not JSON null.

The expression is NULL (which WHERE treats as false) only where the row's whole jsonb
column is NULL and the condition needs the field; the language has no negation above a
condition, so that never turns into a wrong true.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ai.errors import ConfigurationError
from ai.rag.filters_lang import RANGE_OPS, And, Condition, Filter, Op, Scalar, number_of

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_EXACT_LIMIT = 2**53
_RANGE_SQL = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}


def compile_sql(filter: Filter, *, column: str, params: list[Any]) -> str:
    """A parameterised SQL boolean expression over the jsonb `column`.

    Values are appended to `params` and referenced as `$n` (asyncpg placeholders); field
    names are passed as parameters too, never spliced into the SQL text.
    """
    if not isinstance(column, str) or not _IDENTIFIER.fullmatch(column):
        raise ConfigurationError(
            f"compile_sql: column must match ^[a-z_][a-z0-9_]*$, got {column!r}."
        )
    return _Compiler(f'"{column}"', params).compile(filter)


class _Compiler:
    def __init__(self, column: str, params: list[Any]) -> None:
        self.column = column
        self.params = params
        self._field_refs: dict[str, str] = {}

    def compile(self, filter: Filter) -> str:
        if isinstance(filter, Condition):
            return self.condition(filter)
        joiner = " AND " if isinstance(filter, And) else " OR "
        return "(" + joiner.join(self.compile(clause) for clause in filter.clauses) + ")"

    def param(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{cast}"

    def field(self, name: str) -> str:
        """The placeholder of a field name, shared by every use in this expression."""
        ref = self._field_refs.get(name)
        if ref is None:
            ref = self._field_refs[name] = self.param(name, "text")
        return ref

    def value(self, name: str) -> str:
        """The jsonb value of a field (SQL NULL when the key is absent)."""
        return f"({self.column} -> {self.field(name)})"

    def condition(self, condition: Condition) -> str:
        op = condition.op
        if op is Op.EXISTS:
            value = self.value(condition.field)
            if condition.value:
                return (
                    f"({self.column} ? {self.field(condition.field)} AND {value} <> 'null'::jsonb)"
                )
            return f"(coalesce(jsonb_typeof({value}), 'null') = 'null')"
        if op in RANGE_OPS:
            number = number_of(condition.value)
            if number is None:
                return "false"
            value = self.value(condition.field)
            bound = self.param(number, "float8")
            return (
                f"(CASE WHEN jsonb_typeof({value}) = 'number' "
                f"THEN {value}::float8 {_RANGE_SQL[op]} {bound} ELSE false END)"
            )
        targets = condition.value if isinstance(condition.value, tuple) else (condition.value,)
        hit = self.equals_any(condition.field, targets)
        if op in (Op.EQ, Op.IN):
            return hit
        value = self.value(condition.field)
        return f"coalesce({value} <> 'null'::jsonb AND NOT {hit}, false)"

    def equals_any(self, field: str, targets: tuple[Scalar, ...]) -> str:
        """Some target equals the field's value or, for a list, one of its elements."""
        documents: list[str] = []
        wide: list[float] = []
        for target in targets:
            if _is_wide_number(target):
                wide.append(float(target))
                continue
            documents.append(json.dumps({field: target}))
            documents.append(json.dumps({field: [target]}))
        parts = []
        if documents:
            parts.append(f"{self.column} @> ANY({self.param(documents, 'text[]')}::jsonb[])")
        if wide:
            numbers = self.param(wide, "float8[]")
            parts.append(self.float_equals_any(self.value(field), numbers))
        if not parts:
            return "false"
        return "(" + " OR ".join(parts) + ")"

    @staticmethod
    def float_equals_any(value: str, numbers: str) -> str:
        """float8 equality for numbers jsonb cannot compare exactly as float64."""
        element = f"CASE WHEN jsonb_typeof(e.x) = 'number' THEN e.x::float8 = ANY({numbers}) END"
        # Only placeholders and the validated column reach this text.
        return (
            f"(CASE jsonb_typeof({value}) "  # noqa: S608
            f"WHEN 'number' THEN {value}::float8 = ANY({numbers}) "
            f"WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({value}) "
            f"AS e(x) WHERE {element}) "
            "ELSE false END)"
        )


def _is_wide_number(value: Scalar) -> bool:
    """A number jsonb containment would compare more exactly than float64 does."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and abs(value) >= _EXACT_LIMIT
    )
