"""Vector-store backends; each imports its driver only when it is used, so they are
imported by module (`ai.rag.stores.memory`, `.pgvector`, `.pinecone`), not from here."""

__all__: list[str] = []
