"""Old import paths of modules that moved into subpackages, kept for one release.

`import ai.tokens` still works and returns `ai.accounting.tokens` itself (the same module
object, so classes and state are shared), with a `DeprecationWarning` naming the new path.
One finder serves every moved module; remove an entry when its grace period ends.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

MOVED_MODULES: dict[str, str] = {
    "ai.clock": "ai.core.clock",
    "ai.lifecycle": "ai.core.lifecycle",
    "ai.usage": "ai.core.usage",
    "ai.records": "ai.core.records",
    "ai.embedder": "ai.core.embedder",
    "ai.tokens": "ai.accounting.tokens",
    "ai.token_encoders": "ai.accounting.token_encoders",
    "ai.pricing": "ai.accounting.pricing",
    "ai.postgres_pool": "ai.db.postgres",
    "ai.attempts": "ai.calls.attempts",
    "ai.resilience": "ai.calls.resilience",
    "ai.retry": "ai.calls.retry",
    "ai.circuit": "ai.calls.circuit",
    "ai.stats": "ai.calls.stats",
    "ai.streaming": "ai.calls.streaming",
    "ai.transport": "ai.calls.transport",
    "ai.config": "ai.calls.config",
    "ai.metrics": "ai.calls.metrics",
    "ai.demo": "ai.cli.demo",
}


class _MovedModuleLoader(importlib.abc.Loader):
    """Hands out the module at its new path in place of a fresh one."""

    def __init__(self, new_name: str) -> None:
        self._new_name = new_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self._new_name}; the old path goes away in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self._new_name)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was executed under its new name."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds old module paths listed in `MOVED_MODULES`."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new_name = MOVED_MODULES.get(fullname)
        if new_name is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedModuleLoader(new_name))


def install() -> None:
    """Register the finder once per process (called by `import ai`)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
