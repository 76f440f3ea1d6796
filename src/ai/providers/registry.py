"""Provider registration: built-ins and plugins go through the same door.

A plugin package adds a provider by exposing, under the entry-point group
`devora_ai.providers`, a callable that takes a `ProviderRegistry` and registers specs.
In its ``pyproject.toml``::

    [project.entry-points."devora_ai.providers"]
    acme = "acme_llm.devora:register"

where ``register(registry)`` calls ``registry.register(ProviderSpec(...))``. The spec may
use our wire formats (`registry.get("openai").wire`) or a `WireFormat` of its own. After
``pip install``, ``LLMConfig(provider="acme-cloud")`` works; nothing here changes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points

from ai.errors import ConfigurationError
from ai.providers.base import ProviderSpec

ENTRY_POINT_GROUP = "devora_ai.providers"


class ProviderPluginWarning(UserWarning):
    """An installed provider plugin failed to load; its providers are missing."""


class ProviderRegistry:
    """Provider specs by name (`openai`, `anthropic`, `openrouter`, `groq`, ...).

    Names are matched as given, then lower-cased: `"Groq"` finds `groq`.
    """

    def __init__(self) -> None:
        self._specs: dict[str, ProviderSpec] = {}

    def register(self, spec: ProviderSpec) -> None:
        """Add or replace the provider `spec.name`."""
        self._specs[spec.name] = spec

    def get(self, name: str) -> ProviderSpec:
        """The spec for `name`, or a `ConfigurationError` listing the known ones."""
        spec = self._find(name)
        if spec is None:
            known = ", ".join(sorted(self._specs))
            raise ConfigurationError(
                f"Unknown LLM provider {name!r}. Known providers: {known}. "
                f"Register a new one through the {ENTRY_POINT_GROUP!r} entry point."
            )
        return spec

    def __iter__(self) -> Iterator[ProviderSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return self._find(str(name)) is not None

    def _find(self, name: str) -> ProviderSpec | None:
        name = str(name)
        spec = self._specs.get(name)
        return spec if spec is not None else self._specs.get(name.strip().lower())


def load_plugins(registry: ProviderRegistry, group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Let every installed plugin of `group` register into `registry`; their names.

    A plugin that fails to import or register is skipped with a `ProviderPluginWarning`
    naming it, so one broken package cannot take the built-in providers down with it.
    """
    loaded: list[str] = []
    for entry in entry_points(group=group):
        try:
            entry.load()(registry)
        except Exception as exc:
            warnings.warn(
                f"Provider plugin {entry.name!r} ({entry.value}) failed to load and is "
                f"skipped: {type(exc).__name__}: {exc}",
                ProviderPluginWarning,
                stacklevel=2,
            )
        else:
            loaded.append(entry.name)
    return loaded


@cache
def default_registry() -> ProviderRegistry:
    """Built-in providers plus every installed plugin; built once per process."""
    from ai.providers.builtin import register_builtin_providers

    registry = ProviderRegistry()
    register_builtin_providers(registry)
    load_plugins(registry)
    return registry
