"""Budgets written in a file, for the `devora costs` commands and for configuration.

A YAML or JSON file holding a list of budgets, or a mapping with a `budgets` list;
each budget has `Budget`'s fields:

    budgets:
      - {name: daily_limit, limit: 10.0, period: daily, scope: global}
      - {name: alice, limit: 50, period: monthly, scope: user, scope_value: alice,
         action: refuse}

Without a path, `$DEVORA_BUDGETS` names the file, else `.devora/budgets.yaml`,
`.devora/budgets.yml` or `.devora/budgets.json` is used if it exists.

Public names: `load_budgets`, `find_budgets_file`, `BUDGETS_ENV`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ai.errors import ConfigurationError
from ml_ops.cost_tracker.budget import Budget

__all__ = ["BUDGETS_ENV", "find_budgets_file", "load_budgets"]

BUDGETS_ENV = "DEVORA_BUDGETS"
DEFAULT_FILES = (".devora/budgets.yaml", ".devora/budgets.yml", ".devora/budgets.json")


def find_budgets_file(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Path | None:
    """`path`, else `$DEVORA_BUDGETS`, else the first default file that exists."""
    if path is not None:
        return Path(path)
    named = (os.environ if environ is None else environ).get(BUDGETS_ENV, "").strip()
    if named:
        return Path(named)
    return next((Path(name) for name in DEFAULT_FILES if Path(name).is_file()), None)


def load_budgets(path: str | Path) -> list[Budget]:
    """The budgets in the file at `path` (module doc); any mistake is a
    `ConfigurationError` naming the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(
            f"budgets file {file}: cannot be read ({error.strerror})"
        ) from None
    data = _parse(file, text)
    if isinstance(data, Mapping):
        data = data.get("budgets")
    if not isinstance(data, list):
        raise ConfigurationError(
            f"budgets file {file}: expected a list of budgets or a 'budgets:' list"
        )
    budgets: list[Budget] = []
    for index, entry in enumerate(data, start=1):
        try:
            budgets.append(Budget.from_dict(entry))
        except ConfigurationError as error:
            raise ConfigurationError(f"budgets file {file}, budget {index}: {error}") from None
    names = [b.name for b in budgets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigurationError(f"budgets file {file}: names used twice: {duplicates}")
    return budgets


def _parse(file: Path, text: str) -> Any:
    if file.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"budgets file {file}: invalid JSON ({error})") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"budgets file {file}: invalid YAML ({error})") from None
