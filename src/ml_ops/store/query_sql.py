"""A `RecordQuery` as a SQL WHERE clause and ORDER BY, shared by the SQLite and
PostgreSQL stores; each supplies its placeholder style, its time values and its tag test.

Only fixed column names are written into the text; every value goes through `param`, which
records it and returns its placeholder (`?` or `$n`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ml_ops.store.base import RecordQuery

#: Records a value and returns its placeholder.
Param = Callable[[Any], str]


def record_where(
    query: RecordQuery,
    param: Param,
    *,
    time_value: Callable[[datetime], Any],
    tags_clause: Callable[[Mapping[str, str], Param], list[str]],
) -> str:
    """`WHERE ...` for every filter `query` sets (empty when it sets none)."""
    clauses: list[str] = []
    if query.since is not None:
        clauses.append(f'"timestamp" >= {param(time_value(query.since))}')
    if query.until is not None:
        clauses.append(f'"timestamp" < {param(time_value(query.until))}')
    equalities = (
        ("model", query.model),
        ("provider", query.provider),
        ("user_id", query.user),
        ("agent", query.agent),
        ("operation", None if query.operation is None else str(query.operation)),
    )
    clauses.extend(
        f"{column} = {param(value)}" for column, value in equalities if value is not None
    )
    if query.success is not None:
        clauses.append(f"success = {param(query.success)}")
    if query.tags:
        clauses.extend(tags_clause(query.tags, param))
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


def record_order(query: RecordQuery) -> str:
    """Time order; records of the same instant stay in insertion order either way (as
    `MemoryEventStore`'s stable sort keeps them)."""
    return f'ORDER BY "timestamp" {"DESC" if query.newest_first else "ASC"}, seq ASC'
