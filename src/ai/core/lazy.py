"""Names a package exports but loads on first access, so importing the package never
imports an optional driver (redis, asyncpg) until the name is used (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, exported: Sequence[str], lazy: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`(__getattr__, __dir__)` for `package`: each name in `lazy` comes from its module
    when first read; `dir()` lists everything in `exported`."""
    missing = set(lazy) - set(exported)
    if missing:
        raise ValueError(f"{package}: lazy names {sorted(missing)} are not in __all__")

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(exported)

    return __getattr__, __dir__
