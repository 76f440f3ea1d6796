"""`preview`: a short repr for error messages, whatever the value.

Error messages quote the bad value, but a value can be 10 MB of text, an integer too long
for `repr` (Python refuses more than 4,300 digits with a `ValueError`) or a list nested
100,000 deep (`RecursionError`). Quoting such a value must neither fail nor copy it whole.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable


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
    """At most `limit` characters of `value`'s repr; never raises."""
    try:
        text = _PREVIEW.repr(value)
    except (ValueError, RecursionError, MemoryError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def preview_keys(keys: Iterable[object]) -> str:
    """`['a', 'b']` for a message: keys of any types, sorted by how they show."""
    return "[" + ", ".join(sorted(preview(key) for key in keys)) + "]"
