"""Every public package's `__all__` is exactly what it exports (httpx's
tests/test_exported_members.py is the model): nothing public missing from it, nothing in
it that does not resolve, and no duplicates (ruff's RUF022 keeps the lists sorted)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import ai
import ml_ops

DATA_PACKAGES = {"ai.prompts.builtin"}  # YAML files only


def public_packages() -> list[str]:
    names = ["ai", "ml_ops"]
    for root in (ai, ml_ops):
        for info in pkgutil.walk_packages(root.__path__, prefix=root.__name__ + "."):
            if info.ispkg and not any(p.startswith("_") for p in info.name.split(".")):
                names.append(info.name)
    return sorted(set(names) - DATA_PACKAGES)


def test_every_public_package_is_covered() -> None:
    found = public_packages()
    for expected in ["ai.core", "ai.calls", "ai.cache", "ai.rag", "ml_ops.monitoring"]:
        assert expected in found


@pytest.mark.parametrize("name", public_packages())
def test_all_lists_exactly_the_public_members(name: str) -> None:
    if name == "ai.testing":
        pytest.importorskip("starlette")
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    for member in exported:
        assert getattr(package, member, None) is not None, f"{name}.{member} does not resolve"
    defined = vars(package)
    public = {
        member
        for member, value in defined.items()
        if not member.startswith("_")
        and not isinstance(value, types.ModuleType)
        and member != "annotations"  # `from __future__ import annotations`
    }
    # Names in __all__ that are not defined yet load on first access (PEP 562 __getattr__).
    lazy = {member for member in exported if member not in defined}
    assert public == set(exported) - lazy, f"{name}: public names differ from __all__"
    assert sorted(dir(package)) == sorted(set(dir(package)) | lazy)
