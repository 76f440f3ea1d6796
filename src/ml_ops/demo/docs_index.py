"""The docs team's knowledge base: the project's own `docs/*.md`, indexed with `ai.rag`
on the local embedding model (all-MiniLM-L6-v2, offline, no key).

Only the opening of each page is indexed (`EXCERPT_CHARS`, cut at a paragraph): the whole
folder is 660 chunks, about 50 s of embedding on two cores, too long for a one-minute
tour; the openings say what each part does, which is what the questions ask. Embedding
calls go on the runtime's record bus, so they show in the dashboard as `embedding`
operations. Retrieval is hybrid (vectors and BM25), the library's default.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ai.core.records import RecordBus
from ai.errors import ConfigurationError
from ai.rag import (
    ContextRetriever,
    EmbeddingService,
    VectorStore,
    VectorStoreConfig,
    VectorStoreType,
)

EXCERPT_CHARS = 1400
_REPOSITORY_DOCS = Path(__file__).resolve().parents[3] / "docs"


def find_docs(configured: Path | None) -> Path | None:
    """The folder to index: the one given (a `ConfigurationError` if it holds no `*.md`),
    else `./docs`, else the repository's `docs/` (an editable install); None when there
    is none."""
    if configured is not None:
        if not configured.is_dir() or not any(configured.glob("*.md")):
            raise ConfigurationError(f"--docs {configured}: no *.md files there.")
        return configured
    for folder in (Path("docs"), _REPOSITORY_DOCS):
        if folder.is_dir() and any(folder.glob("*.md")):
            return folder
    return None


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The opening of `text`, up to `limit` characters, ended at a paragraph break."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n\n", 0, limit)
    return text[: cut if cut > limit // 3 else limit]


class DocsIndex:
    """Indexed openings of a folder's Markdown pages, and numbered context for questions."""

    def __init__(
        self,
        retriever: ContextRetriever,
        embeddings: EmbeddingService,
        folder: Path,
        documents: int,
        chunks: int,
    ) -> None:
        self.retriever = retriever
        self.embeddings = embeddings
        self.folder = folder
        self.documents = documents
        self.chunks = chunks

    @classmethod
    async def build(cls, folder: Path, *, bus: RecordBus) -> DocsIndex:
        """Read, chunk, embed and index the openings of `folder/*.md`."""
        embeddings = EmbeddingService.local(bus=bus)
        store = VectorStore(VectorStoreConfig(store_type=VectorStoreType.MEMORY, dimension=384))
        retriever = ContextRetriever(embeddings, store)
        paths = await asyncio.to_thread(lambda: sorted(folder.glob("*.md")))
        texts = await asyncio.gather(*(asyncio.to_thread(p.read_text, "utf-8") for p in paths))
        documents = [
            {"id": path.name, "text": excerpt(text), "metadata": {"page": path.stem}}
            for path, text in zip(paths, texts, strict=True)
            if text.strip()
        ]
        report = await retriever.add_documents(documents)
        return cls(retriever, embeddings, folder, report.documents_added, report.chunks_written)

    async def context(self, question: str) -> str:
        """The best sources for `question`, numbered, within about 600 tokens."""
        return await self.retriever.retrieve_and_format(question, max_tokens=600, top_k=3)

    async def aclose(self) -> None:
        await self.embeddings.aclose()


__all__ = ["DocsIndex", "excerpt", "find_docs"]
