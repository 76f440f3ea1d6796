"""Vectorised filter evaluation for the in-memory vector store.

`MetadataColumns` keeps the metadata of a store's rows as per-field columns, so a filter
over 100k rows is a handful of numpy comparisons instead of a Python loop:

- `codes` (int32): every scalar (string, number, boolean) is interned once into a typed
  code, so `$eq`, `$ne`, `$in` and `$nin` compare integers. Numbers are interned by their
  float64 value (1 and 1.0 share a code), booleans apart from numbers (True != 1).
  `MISSING` marks rows without the field (or with None), `OTHER` rows whose value equals
  no scalar (a list, a dict, NaN).
- `numbers` (float64, NaN where the value is not a number) for `$gt`, `$gte`, `$lt`, `$lte`.
- list-valued rows: the element codes per row and an inverted index code -> rows, so
  membership costs time in proportion to the rows that match.

Semantics are those of `ai.rag.filters.matches`; a property test holds them equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ai.rag.filters_lang import (
    RANGE_OPS,
    And,
    Condition,
    Filter,
    Op,
    Or,
    ScalarKey,
    is_list,
    number_of,
    scalar_key,
)

BoolArray = npt.NDArray[np.bool_]

MISSING = -1
OTHER = -2


class _Column:
    """One metadata field over every row."""

    __slots__ = ("codes", "lists", "members", "numbers")

    def __init__(self, capacity: int) -> None:
        self.codes = np.full(capacity, MISSING, dtype=np.int32)
        self.numbers = np.full(capacity, np.nan, dtype=np.float64)
        self.lists: dict[int, frozenset[int]] = {}
        self.members: dict[int, set[int]] = {}

    def grow(self, capacity: int) -> None:
        size = self.codes.shape[0]
        codes = np.full(capacity, MISSING, dtype=np.int32)
        codes[:size] = self.codes
        numbers = np.full(capacity, np.nan, dtype=np.float64)
        numbers[:size] = self.numbers
        self.codes, self.numbers = codes, numbers

    def clear(self, row: int) -> None:
        self.codes[row] = MISSING
        self.numbers[row] = np.nan
        for code in self.lists.pop(row, ()):
            rows = self.members[code]
            rows.discard(row)
            if not rows:
                del self.members[code]

    def set_list(self, row: int, codes: frozenset[int]) -> None:
        self.codes[row] = OTHER
        if codes:
            self.lists[row] = codes
            for code in codes:
                self.members.setdefault(code, set()).add(row)


class MetadataColumns:
    """Columnar copy of the metadata of an in-memory store, for vectorised filtering.

    Rows follow the store's matrix rows: `append`, `replace`, and `swap_remove` (the last
    row moves into the removed one) keep them aligned. `get(row)` returns a copy of the
    row's metadata: the columns never see later changes to the caller's objects.

    Interned scalar codes are never reclaimed: a store that churns through many distinct
    values keeps one small dict entry per value it has ever seen.
    """

    def __init__(self, rows: Iterable[Mapping[str, Any]] = ()) -> None:
        self._records: list[dict[Any, Any]] = []
        self._columns: dict[Any, _Column] = {}
        self._codes: dict[ScalarKey, int] = {}
        self._capacity = 0
        for metadata in rows:
            self.append(metadata)

    def __len__(self) -> int:
        return len(self._records)

    def get(self, row: int) -> dict[str, Any]:
        """A copy of the metadata stored for `row` (lists copied too), safe to hand out."""
        stored = self._records[row]
        return _copy(stored) if stored else {}

    def get_many(self, rows: list[int]) -> list[dict[str, Any]]:
        """`get` for each of `rows` (one call for a query's results)."""
        records = self._records
        return [_copy(stored) if stored else {} for stored in map(records.__getitem__, rows)]

    def append(self, metadata: Mapping[str, Any]) -> None:
        """Add a row at the end."""
        row = len(self._records)
        if row == self._capacity:
            self._grow(max(16, 2 * self._capacity))
        stored = _copy(metadata)
        self._records.append(stored)
        self._write(row, stored)

    def replace(self, row: int, metadata: Mapping[str, Any]) -> None:
        """Give `row` new metadata."""
        self._check(row)
        self._erase(row)
        stored = _copy(metadata)
        self._records[row] = stored
        self._write(row, stored)

    def swap_remove(self, row: int) -> None:
        """Remove `row`; the last row moves into its place (as in the vector matrix)."""
        self._check(row)
        last = len(self._records) - 1
        self._erase(row)
        if row != last:
            moved = self._records[last]
            self._erase(last)
            self._records[row] = moved
            self._write(row, moved)
        self._records.pop()

    def mask(self, filter: Filter) -> BoolArray:
        """A fresh numpy bool array, one entry per row: which rows pass `filter`."""
        if isinstance(filter, Condition):
            return self._condition(filter)
        combine = np.logical_and if isinstance(filter, And) else np.logical_or
        clauses = iter(filter.clauses)
        result = self.mask(next(clauses))
        for clause in clauses:
            if isinstance(filter, And) and not result.any():
                break
            if isinstance(filter, Or) and result.all():
                break
            combine(result, self.mask(clause), out=result)
        return result

    # --- internals ------------------------------------------------------------------------

    def _condition(self, condition: Condition) -> BoolArray:
        n = len(self._records)
        column = self._columns.get(condition.field)
        if column is None:
            return np.full(n, condition.op is Op.EXISTS and condition.value is False)
        codes = column.codes[:n]
        op = condition.op
        if op is Op.EXISTS:
            present: BoolArray = codes != MISSING
            return present if condition.value else ~present
        if op in RANGE_OPS:
            return _compare(op, column.numbers[:n], number_of(condition.value))
        targets = condition.value if isinstance(condition.value, tuple) else (condition.value,)
        wanted = sorted({code for t in targets if (code := self._code_of(t)) is not None})
        if not wanted:
            hit = np.zeros(n, dtype=np.bool_)
        elif len(wanted) == 1:
            hit = codes == wanted[0]
        else:
            hit = np.isin(codes, wanted)
        for code in wanted:
            rows = column.members.get(code)
            if rows:
                hit[np.fromiter(rows, dtype=np.intp, count=len(rows))] = True
        if op in (Op.EQ, Op.IN):
            return hit
        has_field: BoolArray = codes != MISSING
        return has_field & ~hit

    def _code_of(self, value: object) -> int | None:
        key = scalar_key(value)
        return None if key is None else self._codes.get(key)

    def _intern(self, key: ScalarKey) -> int:
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = len(self._codes)
        return code

    def _write(self, row: int, record: Mapping[Any, Any]) -> None:
        for field, value in record.items():
            if value is None:
                continue
            column = self._columns.get(field)
            if column is None:
                column = self._columns[field] = _Column(self._capacity)
            if is_list(value):
                keys = (scalar_key(item) for item in value)
                column.set_list(row, frozenset(self._intern(k) for k in keys if k is not None))
                continue
            key = scalar_key(value)
            if key is None:
                column.codes[row] = OTHER
                continue
            column.codes[row] = self._intern(key)
            if key[0] == "n":
                column.numbers[row] = key[1]

    def _erase(self, row: int) -> None:
        for field in self._records[row]:
            column = self._columns.get(field)
            if column is not None:
                column.clear(row)

    def _grow(self, capacity: int) -> None:
        for column in self._columns.values():
            column.grow(capacity)
        self._capacity = capacity

    def _check(self, row: int) -> None:
        if not 0 <= row < len(self._records):
            raise IndexError(f"row {row} out of range for {len(self._records)} rows")


_COMPARE = {Op.GT: np.greater, Op.GTE: np.greater_equal, Op.LT: np.less, Op.LTE: np.less_equal}


def _compare(op: Op, numbers: npt.NDArray[np.float64], bound: float | None) -> BoolArray:
    result = np.zeros(numbers.shape[0], dtype=np.bool_)
    if bound is not None:
        _COMPARE[op](numbers, bound, out=result)
    return result


def _copy(metadata: Mapping[str, Any]) -> dict[Any, Any]:
    """A private copy, lists included, so later changes by the caller cannot desync rows."""
    return {key: list(value) if is_list(value) else value for key, value in metadata.items()}
