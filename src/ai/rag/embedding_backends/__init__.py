"""Embedding backends and their registry: one module per backend, one line to add one.

Built-ins register like plugins would. A plugin package exposes, under the entry-point
group `devora_ai.embedding_providers`, a callable that takes an `EmbeddingProviderRegistry`
and registers factories. Names not registered here are looked up among the LLM providers
(`ai.providers`) and served over the OpenAI wire format when they speak it.
"""

from ai.rag.embedding_backends.base import (
    BackendContext,
    BackendFactory,
    EmbeddingBackend,
    EmbeddingOptions,
    Matrix,
)
from ai.rag.embedding_backends.registry import (
    ENTRY_POINT_GROUP,
    EmbeddingProviderRegistry,
    default_embedding_providers,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendContext",
    "BackendFactory",
    "EmbeddingBackend",
    "EmbeddingOptions",
    "EmbeddingProviderRegistry",
    "Matrix",
    "default_embedding_providers",
]
