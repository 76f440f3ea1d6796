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
- `$in` / `$nin` lists of more than `CONTAINMENT_MAX_VALUES` (32) values compare by type
  instead: strings as text, numbers as float8 (float64 equality, as `matches`), booleans
  as boolean, each kind one array parameter looked up with `IN (SELECT unnest($n))`, which
  PostgreSQL runs as a hash table built once per query. Containment would test every
  value against every row (a 100,000-value `$in` took 11 s over 200 rows); this costs
  rows + values, at the price of no index for those lists.
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
#: `$in`/`$nin` lists longer than this are compared by type through a hash lookup.
CONTAINMENT_MAX_VALUES = 32
#: The array parameter type, and the SQL that reads a jsonb scalar `x` as that type.
_ARRAY_TYPES = {"boolean": "bool[]", "number": "float8[]", "string": "text[]"}
_AS_SQL = {"boolean": "({x})::boolean", "number": "({x})::float8", "string": "({x} #>> '{{}}')"}


def compile_sql(
    filter: Filter,
    *,
    column: str,
    params: list[Any],
    containment_max_values: int = CONTAINMENT_MAX_VALUES,
) -> str:
    """A parameterised SQL boolean expression over the jsonb `column`.

    Values are appended to `params` and referenced as `$n` (asyncpg placeholders); field
    names are passed as parameters too, never spliced into the SQL text. A list is one
    array parameter whatever its length. `$in`/`$nin` lists of more than
    `containment_max_values` values are compared by type through a hash lookup (see the
    module docstring); shorter ones, and every `$eq`/`$ne`, use index-friendly containment.
    Compiling takes time linear in the size of the filter.
    """
    if not isinstance(column, str) or not _IDENTIFIER.fullmatch(column):
        raise ConfigurationError(
            f"compile_sql: column must match ^[a-z_][a-z0-9_]*$, got {column!r}."
        )
    compiler = _Compiler(f'"{column}"', params, containment_max_values)
    compiler.emit(filter)
    return "".join(compiler.out)


class _Compiler:
    def __init__(self, column: str, params: list[Any], containment_max_values: int) -> None:
        self.column = column
        self.params = params
        self.containment_max_values = containment_max_values
        self.out: list[str] = []
        self._field_refs: dict[str, str] = {}

    def emit(self, filter: Filter) -> None:
        """Append the SQL of `filter` to `out` (joined once at the end: linear time)."""
        if isinstance(filter, Condition):
            self.out.append(self.condition(filter))
            return
        joiner = " AND " if isinstance(filter, And) else " OR "
        self.out.append("(")
        for index, clause in enumerate(filter.clauses):
            if index:
                self.out.append(joiner)
            self.emit(clause)
        self.out.append(")")

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
        if len(targets) > self.containment_max_values:
            return self.typed_equals_any(self.value(field), targets)
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

    def typed_equals_any(self, value: str, targets: tuple[Scalar, ...]) -> str:
        """Long lists: one typed array per kind of value, each looked up in a hash table
        that PostgreSQL builds once per query (an uncorrelated `IN (SELECT unnest(...))`
        becomes a hashed SubPlan), so the cost is rows + values, not rows x values."""
        by_kind: dict[str, list[Scalar]] = {}
        for target in targets:
            kind = "boolean" if isinstance(target, bool) else "string"
            if not isinstance(target, bool | str):
                kind, target = "number", float(target)
            by_kind.setdefault(kind, []).append(target)
        tests = {
            kind: self.param(list(dict.fromkeys(values)), _ARRAY_TYPES[kind])
            for kind, values in sorted(by_kind.items())
        }

        def branches(x: str) -> str:
            return "".join(
                f"WHEN '{kind}' THEN {_AS_SQL[kind].format(x=x)} IN (SELECT unnest({ref})) "
                for kind, ref in tests.items()
            )

        if not tests:
            return "false"
        # Only placeholders and the validated column reach this text.
        return (
            f"(CASE jsonb_typeof({value}) {branches(value)}"  # noqa: S608
            f"WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({value}) AS e(x) "
            f"WHERE CASE jsonb_typeof(e.x) {branches('e.x')}ELSE false END) "
            "ELSE false END)"
        )

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
