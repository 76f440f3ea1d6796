"""Quick Start 2 of the spec, offline: local embeddings, memory store, hybrid retrieval.

Run: python examples/rag_quickstart.py
"""

import asyncio

from ai.rag import (
    ContextRetriever,
    EmbeddingService,
    VectorStore,
    VectorStoreConfig,
    VectorStoreType,
)


async def main() -> None:
    embeddings = EmbeddingService.local()  # all-MiniLM-L6-v2, offline; no API key
    vector_store = VectorStore(VectorStoreConfig(store_type=VectorStoreType.MEMORY))
    retriever = ContextRetriever(embeddings, vector_store)

    documents = [
        {"id": "1", "text": "Python is a programming language", "metadata": {"topic": "code"}},
        {"id": "2", "text": "JavaScript runs in browsers", "metadata": {"topic": "code"}},
        {"id": "3", "text": "Error E1042 means the webhook signature did not match."},
        {"id": "4", "text": "Sourdough starters need daily feeding with flour and water."},
    ]
    report = await retriever.add_documents(documents)
    print(f"stored {report.chunks_written} chunks from {report.documents_added} documents")

    context = await retriever.retrieve_and_format("Tell me about Python", top_k=2)
    print("context for the prompt:\n" + context)

    for mode in ("vector", "bm25", "hybrid"):
        [best] = await retriever.retrieve("what does E1042 mean", top_k=1, mode=mode)
        print(f"{mode:>6}: best source {best.source_id} (score {best.score:.3f})")

    only_code = await retriever.retrieve("language", top_k=5, filter={"topic": "code"})
    print("filtered to topic=code:", sorted(r.source_id for r in only_code))


if __name__ == "__main__":
    asyncio.run(main())
