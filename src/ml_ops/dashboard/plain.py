"""What other packages return, as plain JSON values the dashboard can serve.

The dashboard reads objects it does not own (cost reports, budget states, experiment
summaries, forecasts). `to_plain` turns any of them into dicts, lists, strings, numbers,
booleans and None: an object's own `to_dict()` (or pydantic's `model_dump()`) wins, a
dataclass becomes a dict of its fields, datetimes become ISO 8601 text, enums their values,
and non-finite floats None (JSON has no NaN). An awaitable is a `TypeError`: the sources
are read synchronously.

Dataclass fields declared with `repr=False` are left out: that is how this code base marks
what must not be shown (API keys, headers), and a dashboard must not show it either.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping, Set
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

MAX_DEPTH = 12
"""Nesting below this depth is cut (a cycle, or a structure no page needs)."""


def to_plain(value: Any, _depth: int = 0) -> Any:
    """`value` as JSON-ready data (see the module docstring)."""
    if _depth > MAX_DEPTH:
        return None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return to_plain(value.value, _depth + 1)
    if inspect.isawaitable(value):
        _close(value)
        raise TypeError(
            "the dashboard reads this source synchronously, but it returned an awaitable"
        )
    converted = _converted(value)
    if converted is not _NOTHING:
        return to_plain(converted, _depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_plain(getattr(value, f.name), _depth + 1)
            for f in dataclasses.fields(value)
            if f.repr and not f.name.startswith("_")
        }
    if isinstance(value, Mapping):
        return {str(key): to_plain(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | Set):
        return [to_plain(item, _depth + 1) for item in value]
    return str(value)


_NOTHING = object()


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()  # a coroutine never awaited would warn at garbage collection


def _converted(value: Any) -> Any:
    for method in ("to_dict", "model_dump"):
        convert = getattr(value, method, None)
        if callable(convert):
            return convert()
    return _NOTHING


def pick(data: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    """The value of the first of `keys` present (and not None) in `data`."""
    for key in keys:
        value = data.get(key)
        if value is not None:
            return value
    return default


def number(value: Any) -> float | None:
    """`value` as a finite float, or None when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None
