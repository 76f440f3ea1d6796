"""The embedding provider registry: built-in backends and plugins go through the same door."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from ai.rag.embedding_backends.base import BackendFactory
from ai.rag.embedding_backends.local import build_local_backend
from ai.rag.embedding_backends.openai_api import build_openai_backend

ENTRY_POINT_GROUP = "devora_ai.embedding_providers"


class EmbeddingProviderRegistry:
    """Backend factories by provider name; OpenAI-format LLM providers are the fallback."""

    def __init__(self) -> None:
        self._factories: dict[str, BackendFactory] = {}

    def register(self, name: str, factory: BackendFactory) -> None:
        """Add or replace the factory for provider `name`."""
        self._factories[name] = factory

    def get(self, name: str) -> BackendFactory:
        """The factory for `name`; unknown names go to the OpenAI-format factory, which
        checks them against the LLM provider registry."""
        return self._factories.get(str(name), build_openai_backend)

    def __contains__(self, name: object) -> bool:
        return str(name) in self._factories


@cache
def default_embedding_providers() -> EmbeddingProviderRegistry:
    """Built-in backends plus every installed plugin; built once per process."""
    registry = EmbeddingProviderRegistry()
    registry.register("openai", build_openai_backend)
    registry.register("local", build_local_backend)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()(registry)
    return registry
