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
from ai.rag.evaluation import mrr_at_k, ndcg_at_k, recall_at_k
from ai.rag.filters import parse_filter
from ai.rag.fusion import ConvexCombination, Normalization, ReciprocalRankFusion
from ai.rag.keyword_index import BM25Config
from ai.rag.rerank_http import HttpReranker
from ai.rag.reranking import CrossEncoderReranker, Reranker, RerankResult
from ai.rag.retriever import ContextRetriever, IngestReport, SearchMode
from ai.rag.search import RetrievedChunk
from ai.rag.types import DistanceMetric, Match, StoreStats, VectorRecord
from ai.rag.vector_store import VectorStore, VectorStoreConfig, VectorStoreType

__all__ = [
    "BM25Config",
    "Chunk",
    "ChunkUnit",
    "Chunker",
    "ChunkingConfig",
    "ContextRetriever",
    "ConvexCombination",
    "CrossEncoderReranker",
    "DistanceMetric",
    "EmbeddingService",
    "FilterError",
    "HttpReranker",
    "IngestReport",
    "Match",
    "Normalization",
    "ReciprocalRankFusion",
    "RerankResult",
    "Reranker",
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
    "mrr_at_k",
    "ndcg_at_k",
    "parse_filter",
    "recall_at_k",
]
