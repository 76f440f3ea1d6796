"""`ContextRetriever`: documents in, numbered sources that fit a prompt out.

`add_documents` chunks, deduplicates and embeds documents into a vector store (and a
BM25 index over the same chunks); `retrieve` searches by vector, keywords or both
(reciprocal rank fusion), optionally diversified by MMR; `retrieve_and_format` renders
the best sources within a token budget, ready to paste into a prompt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from ai.accounting.tokens import count_tokens
from ai.core.embedder import TextEmbedder
from ai.errors import ConfigurationError
from ai.rag.chunking import Chunk, ChunkingConfig, chunk_documents
from ai.rag.filters import Filter, parse_filter
from ai.rag.keyword_index import KeywordHit, KeywordIndex
from ai.rag.ranking import maximal_marginal_relevance, reciprocal_rank_fusion
from ai.rag.types import Match
from ai.rag.vector_store import VectorStore

Document = Mapping[str, Any]


class SearchMode(StrEnum):
    """How `retrieve` ranks chunks."""

    VECTOR = "vector"
    KEYWORD = "bm25"
    HYBRID = "hybrid"


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    """One retrieved chunk: its text, where it came from, and its score in that mode."""

    id: str
    text: str
    score: float
    source_id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What `add_documents` did: documents added, skipped as unchanged, chunks written."""

    documents_added: int
    documents_unchanged: int
    chunks_written: int


class ContextRetriever:
    """Retrieval over one vector store with an embedding service.

    `chunking` sets how documents are split (defaults: 512 tokens, 64 overlap, Markdown
    aware). Every chunk's metadata carries the document's own metadata plus `source_id`,
    `chunk_index`, `chunk_start`, `chunk_end`, `headings` and `doc_hash`.
    """

    def __init__(
        self,
        embeddings: TextEmbedder,
        vector_store: VectorStore,
        *,
        chunking: ChunkingConfig | None = None,
        namespace: str | None = None,
        batch_size: int = 128,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}.")
        self.embeddings = embeddings
        self.vector_store = vector_store
        self.chunking = chunking or ChunkingConfig()
        self.namespace = namespace
        self.batch_size = batch_size
        self.keywords = KeywordIndex()
        self._hashes: dict[str, str] = {}

    async def add_documents(
        self,
        documents: Sequence[Document],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Chunk, embed and store documents (`{"id", "text", "metadata"?}`).

        A document whose id and text are unchanged is skipped; a changed one replaces all
        of its old chunks. `progress(n)` is called as documents are done.
        """
        fresh: list[tuple[Document, str]] = []
        seen: set[str] = set()
        for index, document in enumerate(documents):
            doc_id, text = _document_fields(document, index)
            if doc_id in seen:
                raise ConfigurationError(f"document id {doc_id!r} appears twice in one call.")
            seen.add(doc_id)
            doc_hash = document_hash(text)
            if await self._unchanged(doc_id, doc_hash):
                if progress:
                    progress(1)
                continue
            fresh.append((document, doc_hash))
        written = 0
        for start in range(0, len(fresh), self.batch_size):
            batch = fresh[start : start + self.batch_size]
            written += await self._ingest(batch)
            if progress:
                progress(len(batch))
        return IngestReport(len(fresh), len(documents) - len(fresh), written)

    async def _unchanged(self, doc_id: str, doc_hash: str) -> bool:
        if self._hashes.get(doc_id) == doc_hash:
            return True
        stored = await self.vector_store.fetch([chunk_id(doc_id, 0)], namespace=self.namespace)
        first = stored.get(chunk_id(doc_id, 0))
        if first is not None and first.metadata.get("doc_hash") == doc_hash:
            self._hashes[doc_id] = doc_hash
            return True
        return False

    async def _ingest(self, batch: Sequence[tuple[Document, str]]) -> int:
        hashes: dict[str, str] = {}
        documents: list[Document] = []
        for document, doc_hash in batch:
            doc_id, text = _document_fields(document, 0)
            await self._forget(doc_id)
            hashes[doc_id] = doc_hash
            metadata = dict(document.get("metadata") or {})
            documents.append({"id": doc_id, "text": text, "metadata": metadata})
        chunks: list[tuple[Chunk, Mapping[str, Any]]] = [
            (chunk, chunk_metadata(chunk, hashes[chunk.source_id]))
            for chunk in chunk_documents(documents, config=self.chunking)
        ]
        self._hashes.update(hashes)
        if not chunks:
            return 0
        vectors = np.asarray(
            await self.embeddings.embed([c.text for c, _ in chunks]), dtype=np.float32
        )
        records = [
            {
                "id": chunk_id(chunk.source_id, chunk.index),
                "values": vector,
                "metadata": metadata,
                "text": chunk.text,
            }
            for (chunk, metadata), vector in zip(chunks, vectors, strict=True)
        ]
        await self.vector_store.upsert(records, namespace=self.namespace)
        for record in records:
            self.keywords.add(record["id"], record["text"], record["metadata"])
        return len(records)

    async def _forget(self, doc_id: str) -> None:
        """Drop a document's old chunks before writing its new ones."""
        self._hashes.pop(doc_id, None)
        self.keywords.remove(self.keywords.ids_of_source(doc_id))
        await self.vector_store.delete_by_filter({"source_id": doc_id}, namespace=self.namespace)

    async def retrieve(
        self,
        query: str,
        top_k: int = 5,
        filter: Mapping[str, Any] | None = None,
        min_score: float | None = None,
        *,
        mode: SearchMode | str = SearchMode.VECTOR,
        mmr: bool = False,
        mmr_lambda: float = 0.5,
        fetch_k: int | None = None,
    ) -> list[RetrievedChunk]:
        """The `top_k` chunks for `query`, best first.

        `mode`: "vector" (cosine), "bm25" (keywords) or "hybrid" (both, fused by
        reciprocal rank). `mmr` re-ranks `fetch_k` vector candidates for diversity.
        `min_score` drops results scoring below it (in the mode's own score).
        """
        mode = SearchMode(mode)
        if top_k < 1:
            raise ConfigurationError(f"top_k must be >= 1, got {top_k}.")
        parsed = parse_filter(filter, limits=self.vector_store.config.resolved_filter_limits())
        pool = fetch_k or max(4 * top_k, 20)
        if mode is SearchMode.KEYWORD:
            results = [_from_keyword(hit) for hit in self.keywords.search(query, top_k, parsed)]
        else:
            wide = mmr or mode is SearchMode.HYBRID
            vector_hits = await self._vector_search(
                query, pool if wide else top_k, filter, mmr_lambda if mmr else None, top_k
            )
            if mode is SearchMode.VECTOR:
                results = vector_hits
            else:
                results = self._fuse(query, vector_hits, pool, parsed)
        results = results[:top_k]
        if min_score is not None:
            results = [r for r in results if r.score >= min_score]
        return results

    async def _vector_search(
        self,
        query: str,
        k: int,
        filter: Mapping[str, Any] | None,
        mmr_lambda: float | None,
        top_k: int,
    ) -> list[RetrievedChunk]:
        """`k` nearest chunks; with `mmr_lambda`, the `top_k` of them picked by MMR."""
        [query_vector] = np.asarray(await self.embeddings.embed([query]), dtype=np.float32)
        matches = await self.vector_store.query(
            query_vector,
            top_k=k,
            filter=filter,
            namespace=self.namespace,
            include_values=mmr_lambda is not None,
        )
        if mmr_lambda is not None and matches:
            candidates = np.stack([np.asarray(m.values, dtype=np.float32) for m in matches])
            norm = float(np.linalg.norm(query_vector)) or 1.0
            order = maximal_marginal_relevance(query_vector / norm, candidates, top_k, mmr_lambda)
            matches = [matches[i] for i in order]
        return [_from_match(m) for m in matches]

    def _fuse(
        self, query: str, vector_hits: list[RetrievedChunk], pool: int, parsed: Filter | None
    ) -> list[RetrievedChunk]:
        keyword_hits = [_from_keyword(hit) for hit in self.keywords.search(query, pool, parsed)]
        by_id = {hit.id: hit for hit in keyword_hits} | {hit.id: hit for hit in vector_hits}
        fused = reciprocal_rank_fusion([[h.id for h in vector_hits], [h.id for h in keyword_hits]])
        return [dataclasses.replace(by_id[id], score=score) for id, score in fused]

    async def retrieve_and_format(
        self,
        query: str,
        max_tokens: int = 2000,
        top_k: int = 5,
        *,
        model: str = "gpt-4o-mini",
        **options: Any,
    ) -> str:
        """Numbered sources (`[1] (source: id) text`) for `query` within `max_tokens`.

        Sources are added best first; one that would overflow the budget is cut at a
        word boundary if at least a quarter of it fits, otherwise left out.
        """
        results = await self.retrieve(query, top_k, **options)
        blocks: list[str] = []
        used = 0
        for result in results:
            header = _source_header(len(blocks) + 1, result)
            block = f"{header}\n{result.text.strip()}"
            cost = count_tokens(block + "\n\n", model).tokens
            if used + cost > max_tokens:
                trimmed = _trim_to_tokens(block, max_tokens - used, model)
                if trimmed is not None and len(trimmed) >= len(block) // 4:
                    blocks.append(trimmed)
                break
            blocks.append(block)
            used += cost
        return "\n\n".join(blocks)

    def save_keywords(self, path: str | Path) -> None:
        """Persist the BM25 corpus (chunk texts and metadata) next to a saved store."""
        data = [
            {"id": id, "text": text, "metadata": dict(md)} for id, text, md in self.keywords.items()
        ]
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(target)

    def load_keywords(self, path: str | Path) -> int:
        """Load a corpus written by `save_keywords`; returns the number of chunks."""
        target = Path(path)
        if not target.exists():
            return 0
        for item in json.loads(target.read_text(encoding="utf-8")):
            self.keywords.add(item["id"], item["text"], item["metadata"])
        return len(self.keywords)


def _document_fields(document: Document, index: int) -> tuple[str, str]:
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"document {index} must be a dict with 'id' and 'text'.")
    doc_id, text = document.get("id"), document.get("text")
    if not isinstance(doc_id, str | int) or str(doc_id) == "":
        raise ConfigurationError(f"document {index} needs a non-empty 'id'.")
    if not isinstance(text, str):
        raise ConfigurationError(f"document {doc_id!r} needs a string 'text'.")
    return str(doc_id), text


def document_hash(text: str) -> str:
    """The SHA-256 of a document's text (hex): how unchanged documents are recognised."""
    return hashlib.sha256(text.encode()).hexdigest()


def chunk_id(doc_id: str, index: int) -> str:
    """The store id of a document's `index`-th chunk: `"<doc id>#<index>"`."""
    return f"{doc_id}#{index}"


def chunk_metadata(chunk: Chunk, doc_hash: str) -> dict[str, Any]:
    """A chunk's stored metadata: the document's, plus where the chunk sits and `doc_hash`."""
    return {
        **dict(chunk.metadata),
        "source_id": chunk.source_id,
        "chunk_index": chunk.index,
        "chunk_start": chunk.start,
        "chunk_end": chunk.end,
        "doc_hash": doc_hash,
    }


def _from_keyword(hit: KeywordHit) -> RetrievedChunk:
    return RetrievedChunk(
        hit.id, hit.text, hit.score, str(hit.metadata.get("source_id", "")), hit.metadata
    )


def _from_match(match: Match) -> RetrievedChunk:
    return RetrievedChunk(
        match.id,
        match.text or "",
        match.score,
        str(match.metadata.get("source_id", "")),
        match.metadata,
    )


def _source_header(number: int, result: RetrievedChunk) -> str:
    headings = result.metadata.get("headings")
    where = (
        f" > {' > '.join(map(str, headings))}" if isinstance(headings, list) and headings else ""
    )
    return f"[{number}] (source: {result.source_id}{where})"


def _trim_to_tokens(text: str, budget: int, model: str) -> str | None:
    if budget <= 0:
        return None
    words = text.split(" ")
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(" ".join(words[:middle]) + " ...", model).tokens <= budget:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low]) + " ..." if low else None
