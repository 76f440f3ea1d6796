"""Retrieval-augmented generation: embeddings, vector stores, chunking and retrieval.

    from ai.rag import (EmbeddingService, VectorStore, ContextRetriever,
                        VectorStoreConfig, VectorStoreType)

    embeddings = EmbeddingService(api_key="openai_key")          # or EmbeddingService.local()
    vector_store = VectorStore(VectorStoreConfig(store_type=VectorStoreType.MEMORY))
    retriever = ContextRetriever(embeddings, vector_store)
    await retriever.add_documents([{"id": "1", "text": "Python is a programming language"}])
    context = await retriever.retrieve_and_format("Tell me about Python")

Backends import their drivers (asyncpg, usearch, torch) only when used.
"""

from ai.errors import FilterError, StoreError
from ai.rag.chunking import Chunk, Chunker, ChunkingConfig, ChunkUnit, chunk_documents, chunk_text
from ai.rag.embeddings import EmbeddingService
from ai.rag.evaluation import ndcg_at_k, recall_at_k
from ai.rag.filters import parse_filter
from ai.rag.retriever import ContextRetriever, IngestReport, RetrievedChunk, SearchMode
from ai.rag.types import DistanceMetric, Match, StoreStats, VectorRecord
from ai.rag.vector_store import VectorStore, VectorStoreConfig, VectorStoreType

__all__ = [
    "Chunk",
    "ChunkUnit",
    "Chunker",
    "ChunkingConfig",
    "ContextRetriever",
    "DistanceMetric",
    "EmbeddingService",
    "FilterError",
    "IngestReport",
    "Match",
    "RetrievedChunk",
    "SearchMode",
    "StoreError",
    "StoreStats",
    "VectorRecord",
    "VectorStore",
    "VectorStoreConfig",
    "VectorStoreType",
    "chunk_documents",
    "chunk_text",
    "ndcg_at_k",
    "parse_filter",
    "recall_at_k",
]
