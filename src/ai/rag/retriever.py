"""`ContextRetriever`: documents in, numbered sources that fit a prompt out.

`add_documents` chunks, deduplicates and embeds documents into a vector store (and a
BM25 index over the same chunks); `retrieve` searches by vector, keywords or both
(fused, `ai.rag.fusion`), optionally reranked and diversified by MMR (`ai.rag.search`);
`retrieve_and_format` renders the best sources within a token budget, ready to paste
into a prompt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from ai.accounting.tokens import count_tokens
from ai.core.embedder import TextEmbedder
from ai.errors import ConfigurationError
from ai.rag.chunk_limits import input_limit_of
from ai.rag.chunking import Chunk, ChunkingConfig, chunk_documents
from ai.rag.document_locks import DocumentLocks
from ai.rag.filters import Filter, parse_filter
from ai.rag.fusion import DEFAULT_FUSION, Fusion
from ai.rag.keyword_index import BM25Config, KeywordHit, KeywordIndex
from ai.rag.lone_surrogates import replace_lone_surrogates
from ai.rag.reranking import Reranker
from ai.rag.search import (
    DEFAULT_FETCH_K,
    DEFAULT_MMR_LAMBDA,
    RetrievedChunk,
    complete,
    diversify,
    from_keyword,
    from_match,
    fuse,
    rerank,
    score_floor,
)
from ai.rag.types import Vector, VectorRecord
from ai.rag.vector_store import VectorStore

Document = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Incoming:
    """A document as `add_documents` checked it: id, text, metadata and text hash."""

    id: str
    text: str
    metadata: dict[str, Any]
    hash: str


class SearchMode(StrEnum):
    """How `retrieve` ranks chunks."""

    VECTOR = "vector"
    KEYWORD = "bm25"
    HYBRID = "hybrid"


DEFAULT_MODE = SearchMode.HYBRID
"""`retrieve`'s mode unless the call or `ContextRetriever(mode=...)` says otherwise."""


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What `add_documents` did: documents added, skipped as unchanged, chunks written."""

    documents_added: int
    documents_unchanged: int
    chunks_written: int


class ContextRetriever:
    """Retrieval over one vector store with an embedding service.

    `chunking` sets how documents are split: by default as large as the embedding
    model reads (`input_limit`, counted in its own tokens: 254 word-pieces and 31 of
    overlap for all-MiniLM-L6-v2, 8191 tokens for OpenAI's models; 512 cl100k tokens
    when the model's limit is unknown), Markdown aware; a larger size warns
    (`ChunkSizeWarning`). Every chunk's metadata carries the document's own metadata
    plus `source_id`, `chunk_index`, `chunk_start`, `chunk_end`, `headings` and
    `doc_hash`.

    Search settings (each call may override `mode`, `fetch_k` and `mmr_lambda`):

    - `bm25`: how keyword search reads text (`BM25Config`: English stemming and stop
      words by default; ``BM25Config(stemming=False)`` turns stemming off);
    - `fusion`: how hybrid search merges its two lists (`ai.rag.fusion`);
    - `reranker`: re-scores the candidate pool before the cut (`ai.rag.reranking`);
    - `mode`: the default search mode; `fetch_k`: candidates per list for fusion,
      reranking and MMR; `mmr_lambda`: MMR's relevance weight.

    In hybrid search a chunk found by one list only is scored by the other too
    (`ai.rag.search.complete`); `rescore_missing = False` turns that off (the chunk
    then counts as that list's worst), as in most hybrid search implementations.

    A query the embedding model cannot read (its own tokenizer spells more than half of
    it out letter by letter or marks it unknown: a script the model never learnt, such
    as Arabic for all-MiniLM-L6-v2) is answered in hybrid mode from the keyword list
    alone, fused as usual with an empty vector list, whenever keyword search found
    anything; its vector would rank chunks at random. Models without a tokenizer file
    (OpenAI's) are always trusted. `keyword_only_when_unread = False` fuses both lists
    for every query.
    """

    def __init__(
        self,
        embeddings: TextEmbedder,
        vector_store: VectorStore,
        *,
        chunking: ChunkingConfig | None = None,
        namespace: str | None = None,
        batch_size: int = 128,
        bm25: BM25Config | None = None,
        fusion: Fusion | None = None,
        reranker: Reranker | None = None,
        mode: SearchMode | str = DEFAULT_MODE,
        fetch_k: int = DEFAULT_FETCH_K,
        mmr_lambda: float = DEFAULT_MMR_LAMBDA,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}.")
        self.embeddings = embeddings
        self.vector_store = vector_store
        self.input_limit = input_limit_of(embeddings)
        self.chunking = chunking or (
            ChunkingConfig.fitting(self.input_limit) if self.input_limit else ChunkingConfig()
        )
        self.namespace = namespace
        self.batch_size = batch_size
        self.keywords = KeywordIndex(bm25)
        self.fusion: Fusion = fusion or DEFAULT_FUSION
        self.reranker = reranker
        self.mode = SearchMode(mode)
        self.fetch_k = _checked_fetch_k(fetch_k)
        self.mmr_lambda = _checked_lambda(mmr_lambda)
        self.rescore_missing = True
        self.keyword_only_when_unread = True
        self._locks = DocumentLocks()

    @property
    def chunking(self) -> ChunkingConfig:
        """How documents are split; a size over what the embedding model reads warns."""
        return self._chunking

    @chunking.setter
    def chunking(self, config: ChunkingConfig) -> None:
        if self.input_limit is not None:
            self.input_limit.check_size(
                config.chunk_size, same_tokens=config.counts_like(self.input_limit)
            )
        self._chunking = config

    async def add_documents(
        self,
        documents: Sequence[Document],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Chunk, embed and store documents (`{"id", "text", "metadata"?}`).

        The store decides what is unchanged: a document whose first chunk there carries the
        SHA-256 of its text is skipped (one `fetch` per batch), so another process's
        writes and deletions count. A changed one replaces all of its old chunks. Calls
        for the same id in one process take turns. Lone surrogates in a text become
        U+FFFD. `progress(n)` is called as documents are done.
        """
        incoming: list[_Incoming] = []
        seen: set[str] = set()
        for index, document in enumerate(documents):
            doc_id, text = _document_fields(document, index)
            if doc_id in seen:
                raise ConfigurationError(f"document id {doc_id!r} appears twice in one call.")
            seen.add(doc_id)
            metadata = dict(document.get("metadata") or {})
            incoming.append(_Incoming(doc_id, text, metadata, document_hash(text)))
        added = written = 0
        for start in range(0, len(incoming), self.batch_size):
            batch = incoming[start : start + self.batch_size]
            async with self._locks.hold(doc.id for doc in batch):
                fresh = await self._changed(batch)
                written += await self._ingest(fresh)
            added += len(fresh)
            if progress:
                progress(len(batch))
        return IngestReport(added, len(incoming) - added, written)

    async def _changed(self, batch: Sequence[_Incoming]) -> list[_Incoming]:
        """The documents whose text is not what the store holds (first chunk missing or
        with another `doc_hash`), read in one `fetch` of their first chunks."""
        firsts = [chunk_id(doc.id, 0) for doc in batch]
        stored = await self.vector_store.fetch(firsts, namespace=self.namespace)
        return [
            doc
            for doc, first in zip(batch, firsts, strict=True)
            if (record := stored.get(first)) is None or record.metadata.get("doc_hash") != doc.hash
        ]

    async def _ingest(self, fresh: Sequence[_Incoming]) -> int:
        """Write the documents' chunks, then delete their chunks of other versions."""
        if not fresh:
            return 0
        hashes = {doc.id: doc.hash for doc in fresh}
        chunks: list[tuple[Chunk, Mapping[str, Any]]] = [
            (chunk, chunk_metadata(chunk, hashes[chunk.source_id]))
            for chunk in chunk_documents(
                [{"id": doc.id, "text": doc.text, "metadata": doc.metadata} for doc in fresh],
                config=self.chunking,
            )
        ]
        limit = self.input_limit
        if chunks and limit is not None and not self.chunking.counts_like(limit):
            limit.check_chunks([chunk.text for chunk, _ in chunks])
        records: list[dict[str, Any]] = []
        if chunks:
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
        for doc in fresh:
            await self._drop_other_versions(doc)
            self.keywords.remove(self.keywords.ids_of_source(doc.id))
        for record in records:
            self.keywords.add(record["id"], record["text"], record["metadata"])
        return len(records)

    async def _drop_other_versions(self, doc: _Incoming) -> None:
        """Delete the document's chunks of any other text, after its new ones are written:
        readers never find it missing, and of two processes writing it at once, the
        version whose first chunk survives is the one left whole."""
        other = [{"doc_hash": {"$ne": doc.hash}}, {"doc_hash": {"$exists": False}}]
        try:
            await self.vector_store.delete_by_filter(
                {"source_id": doc.id, "$or": other}, namespace=self.namespace
            )
        except Exception:
            # The first chunk already says "unchanged": drop it so the next add redoes it.
            with contextlib.suppress(Exception):
                await self.vector_store.delete([chunk_id(doc.id, 0)], namespace=self.namespace)
            raise

    async def retrieve(
        self,
        query: str,
        top_k: int = 5,
        filter: Mapping[str, Any] | None = None,
        min_score: float | None = None,
        *,
        mode: SearchMode | str | None = None,
        mmr: bool = False,
        mmr_lambda: float | None = None,
        fetch_k: int | None = None,
    ) -> list[RetrievedChunk]:
        """The `top_k` chunks for `query`, best first.

        `mode`: "vector" (cosine), "bm25" (keywords) or "hybrid" (both lists, `fetch_k`
        deep, merged by the retriever's `fusion`); the retriever's `mode` by default.
        The candidate pool is the best `fetch_k` (or `top_k`, if larger) of that: a
        `reranker` re-scores it, then `mmr` picks `top_k` of it by maximal marginal
        relevance. The first n results are the same whatever `top_k` is, as long as
        `top_k <= fetch_k`.
        `min_score` drops results scoring below it, in the score shown: the mode's own
        (cosine, BM25, fused), or the reranker's.
        """
        mode = SearchMode(self.mode if mode is None else mode)
        if isinstance(query, str):
            query = replace_lone_surrogates(query)
        if top_k < 1:
            raise ConfigurationError(f"top_k must be >= 1, got {top_k}.")
        lambda_mult = _checked_lambda(self.mmr_lambda if mmr_lambda is None else mmr_lambda)
        pool = max(_checked_fetch_k(self.fetch_k if fetch_k is None else fetch_k), top_k)
        wide = mode is SearchMode.HYBRID or mmr or self.reranker is not None
        results = await self._candidates(query, mode, pool if wide else top_k, pool, filter)
        if self.reranker is not None:
            results = await rerank(self.reranker, query, results)
        if mmr:
            results = await diversify(
                self.vector_store, self.namespace, results, top_k, lambda_mult
            )
        results = results[:top_k]
        if min_score is not None:
            results = [r for r in results if r.score >= min_score]
        return results

    async def _candidates(
        self,
        query: str,
        mode: SearchMode,
        depth: int,
        pool: int,
        filter: Mapping[str, Any] | None,
    ) -> list[RetrievedChunk]:
        """The mode's lists, `depth` deep; in hybrid mode fused and cut to `pool`."""
        parsed = parse_filter(filter, limits=self.vector_store.config.resolved_filter_limits())
        vector_hits: list[RetrievedChunk] = []
        keyword_hits: list[RetrievedChunk] = []
        stored: dict[str, VectorRecord] = {}
        if mode is not SearchMode.VECTOR:
            keyword_hits, stored = await self._keyword_search(query, depth, parsed)
        floor = score_floor(self.vector_store.config.metric)
        if mode is SearchMode.HYBRID and keyword_hits and self._unread(query):
            return fuse(self.fusion, [], keyword_hits, floor)[:pool]
        if mode is not SearchMode.KEYWORD:
            query_vector, vector_hits = await self._vector_search(query, depth, filter)
        if mode is not SearchMode.HYBRID:
            return vector_hits or keyword_hits
        if self.rescore_missing:
            vector_hits, keyword_hits = await complete(
                self.vector_store,
                self.namespace,
                self.keywords,
                query,
                query_vector,
                vector_hits,
                keyword_hits,
                stored,
            )
        return fuse(self.fusion, vector_hits, keyword_hits, floor)[:pool]

    async def _keyword_search(
        self, query: str, k: int, filter: Filter | None
    ) -> tuple[list[RetrievedChunk], dict[str, VectorRecord]]:
        """BM25's `k` best among chunks the store still holds as indexed here, with their
        stored records (one `fetch`). The index lives in this process: a hit deleted from
        the store since, or replaced by another version of its document (another process,
        `delete_by_filter`), is forgotten and the search run again."""
        while True:
            hits = self.keywords.search(query, k, filter)
            if not hits:
                return [], {}
            ids = [hit.id for hit in hits]
            stored = await self.vector_store.fetch(ids, namespace=self.namespace)
            gone = [hit.id for hit in hits if not _still_stored(hit, stored.get(hit.id))]
            if not gone:
                return [from_keyword(hit) for hit in hits], stored
            self.keywords.remove(gone)

    def _unread(self, query: str) -> bool:
        """The embedding model cannot read `query` (`InputLimit.reads`: its tokenizer
        spells most of it out), so hybrid search leaves the vector list out."""
        return (
            self.keyword_only_when_unread
            and self.input_limit is not None
            and not self.input_limit.reads(query)
        )

    async def _vector_search(
        self, query: str, k: int, filter: Mapping[str, Any] | None
    ) -> tuple[Vector, list[RetrievedChunk]]:
        """The query's vector and the `k` nearest chunks."""
        [query_vector] = np.asarray(await self.embeddings.embed([query]), dtype=np.float32)
        matches = await self.vector_store.query(
            query_vector, top_k=k, filter=filter, namespace=self.namespace
        )
        return query_vector, [from_match(m) for m in matches]

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


def _checked_fetch_k(fetch_k: int) -> int:
    if isinstance(fetch_k, bool) or not isinstance(fetch_k, int) or fetch_k < 1:
        raise ConfigurationError(f"fetch_k must be an integer >= 1, got {fetch_k!r}.")
    return fetch_k


def _checked_lambda(mmr_lambda: float) -> float:
    if not 0 <= mmr_lambda <= 1:
        raise ConfigurationError(f"mmr_lambda must be within [0, 1], got {mmr_lambda}.")
    return float(mmr_lambda)


def _still_stored(hit: KeywordHit, record: VectorRecord | None) -> bool:
    """The store holds the chunk BM25 found, from the same version of its document."""
    return record is not None and record.metadata.get("doc_hash") == hit.metadata.get("doc_hash")


def _document_fields(document: Document, index: int) -> tuple[str, str]:
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"document {index} must be a dict with 'id' and 'text'.")
    doc_id, text = document.get("id"), document.get("text")
    if not isinstance(doc_id, str | int) or str(doc_id) == "":
        raise ConfigurationError(f"document {index} needs a non-empty 'id'.")
    if not isinstance(text, str):
        raise ConfigurationError(f"document {doc_id!r} needs a string 'text'.")
    return str(doc_id), replace_lone_surrogates(text)


def document_hash(text: str) -> str:
    """The SHA-256 of a document's text (hex): how unchanged documents are recognised."""
    return hashlib.sha256(replace_lone_surrogates(text).encode()).hexdigest()


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
