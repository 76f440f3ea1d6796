# ruff: noqa: E501  (the spec snippet is kept exactly as written)
"""The spec's Quick Start 2, run as written against the OpenAI embeddings fake.

Only `base_url` is added to `EmbeddingService`; the local-model variant is in
tests/ai/rag/test_retriever.py.
"""

from __future__ import annotations

import ast
from typing import Any

from ai.testing import FakeProviderServer

QUICK_START_2 = """
from ai.rag import EmbeddingService, VectorStore, ContextRetriever, VectorStoreConfig, VectorStoreType

# Setup
embeddings = EmbeddingService(api_key="openai_key")
vector_store = VectorStore(VectorStoreConfig(store_type=VectorStoreType.MEMORY))
retriever = ContextRetriever(embeddings, vector_store)

# Add knowledge
documents = [
    {"id": "1", "text": "Python is a programming language"},
    {"id": "2", "text": "JavaScript runs in browsers"},
]
await retriever.add_documents(documents)

# Query
context = await retriever.retrieve_and_format("Tell me about Python")
# Use context in LLM prompt
"""


async def test_quick_start_2_runs_as_written_against_the_embeddings_fake() -> None:
    with FakeProviderServer(api_key="openai_key") as fake:
        source = QUICK_START_2.replace(
            'EmbeddingService(api_key="openai_key")',
            f'EmbeddingService(api_key="openai_key", base_url={fake.openai_base_url!r})',
        )
        namespace: dict[str, Any] = {}
        code = compile(source, "<quickstart-2>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)  # noqa: S307 - the spec's own snippet
        if result is not None:
            await result
        embedding_calls = fake.request_count(api="embeddings")
    context = namespace["context"]
    assert context.startswith("[1] (source: 1)")
    assert "Python is a programming language" in context
    assert embedding_calls >= 2  # the documents, then the query
