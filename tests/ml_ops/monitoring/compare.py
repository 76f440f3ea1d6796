"""Comparing two stats dicts (or snapshots) field by field, floats within rounding."""

from __future__ import annotations

import math
from typing import Any


def assert_same(first: Any, second: Any, path: str = "stats") -> None:
    """Equal, floats within 1e-9 (sums of costs depend on the order of addition)."""
    if isinstance(first, dict):
        assert isinstance(second, dict) and set(first) == set(second), path
        for key in first:
            assert_same(first[key], second[key], f"{path}.{key}")
    elif isinstance(first, list):
        assert isinstance(second, list) and len(first) == len(second), path
        for index, (a, b) in enumerate(zip(first, second, strict=True)):
            assert_same(a, b, f"{path}[{index}]")
    elif isinstance(first, float) and isinstance(second, float):
        assert math.isclose(first, second, rel_tol=1e-9, abs_tol=1e-12), (path, first, second)
    else:
        assert first == second, (path, first, second)
