"""Provider registration: built-ins and plugins go through the same door.

A plugin package adds a provider by exposing, under the entry-point group
`devora_ai.providers`, a callable that takes a `ProviderRegistry` and registers specs.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points

from ai.errors import ConfigurationError
from ai.providers.base import ProviderSpec

ENTRY_POINT_GROUP = "devora_ai.providers"


class ProviderRegistry:
    """Provider specs by name (`openai`, `anthropic`, `openrouter`, ...)."""

    def __init__(self) -> None:
        self._specs: dict[str, ProviderSpec] = {}

    def register(self, spec: ProviderSpec) -> None:
        """Add or replace the provider `spec.name`."""
        self._specs[spec.name] = spec

    def get(self, name: str) -> ProviderSpec:
        """The spec for `name`, or a `ConfigurationError` listing the known ones."""
        try:
            return self._specs[str(name)]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise ConfigurationError(
                f"Unknown LLM provider {name!r}. Known providers: {known}. "
                f"Register a new one through the {ENTRY_POINT_GROUP!r} entry point."
            ) from None

    def __iter__(self) -> Iterator[ProviderSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return str(name) in self._specs


@cache
def default_registry() -> ProviderRegistry:
    """Built-in providers plus every installed plugin; built once per process."""
    from ai.providers.builtin import register_builtin_providers

    registry = ProviderRegistry()
    register_builtin_providers(registry)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()(registry)
    return registry
