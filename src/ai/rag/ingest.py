"""`devora rag ingest`'s pipeline: read, chunk, embed in small batches, commit as it goes.

    files ─ reading ─ chunking ─ embedding (batches of `batch_size` chunks) ─ writing
                                         └─ every `commit_interval_s`: commit the
                                            documents whose chunks all have vectors

Stages report to an `IngestProgress` (bars on a terminal, lines in a log). Documents
already in the index with the same text (SHA-256) and chunking are skipped, so a rerun
after an interruption does only the rest; documents whose text changed replace their
old chunks at the commit that includes them. Commits are atomic (`ai.rag.index_files`).

A `StopRequest` (SIGINT/SIGTERM) is checked between files, documents and batches. While a
batch is being encoded in a worker thread the pipeline waits for either; on a stop it
gives the batch `grace_s` to finish (its vectors are kept), then abandons it, commits the
finished documents and returns with `stopped` (and `abandoned`, so the caller need not
wait for that thread before exiting). Vectors of an abandoned batch that were cached
still spare the rerun their work.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ai.core.clock import Clock, SystemClock
from ai.core.embedder import TextEmbedder
from ai.errors import ConfigurationError, StoreError
from ai.rag.chunk_limits import InputLimit, input_limit_of
from ai.rag.chunking import Chunk, ChunkingConfig, chunk_documents
from ai.rag.index_files import ChunkRow, DocumentEntry, IndexDirectory, IndexSnapshot
from ai.rag.ingest_progress import IngestProgress, Stage
from ai.rag.ingest_stop import StopRequest
from ai.rag.retriever import chunk_id, chunk_metadata, document_hash

Document = Mapping[str, Any]
ReadDocument = Callable[[Path], Document | None]
Vector = npt.NDArray[np.float32]

_CHUNK_GROUP = 32  # documents chunked per call: progress granularity vs per-call overhead


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """Chunking, batch size (the longest a stop waits for: one batch's encoding), how often
    finished documents are committed, and how long a stop lets a running batch finish.

    `chunk_size` and `chunk_overlap` count the embedding model's own tokens when its
    limit is known (`ai.rag.chunk_limits`); None takes the most it reads and an eighth
    of that (at most 64) as overlap. Without a known limit: 512 and 64 cl100k tokens.
    A chunk size of 0 is refused, not read as "the default".
    """

    chunk_size: int | None = None
    chunk_overlap: int | None = None
    batch_size: int = 16
    commit_interval_s: float = 10.0
    grace_s: float = 1.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {self.batch_size}.")
        if self.commit_interval_s < 0 or self.grace_s < 0:
            raise ConfigurationError("commit_interval_s and grace_s must be >= 0.")
        self.chunking(markdown=True)  # validates chunk_size and chunk_overlap

    def chunking(self, *, markdown: bool, limit: InputLimit | None = None) -> ChunkingConfig:
        """The chunking configuration for prose (`markdown`) or code, in `limit`'s tokens."""
        if limit is None:
            size = 512 if self.chunk_size is None else self.chunk_size
            overlap = self.chunk_overlap if self.chunk_overlap is not None else min(64, size // 8)
            return ChunkingConfig(chunk_size=size, chunk_overlap=overlap, markdown=markdown)
        fitted = ChunkingConfig.fitting(limit, markdown=markdown)
        size = fitted.chunk_size if self.chunk_size is None else self.chunk_size
        overlap = self.chunk_overlap if self.chunk_overlap is not None else min(64, size // 8)
        return dataclasses.replace(fitted, chunk_size=size, chunk_overlap=overlap)

    def chunking_key(self, *, markdown: bool, limit: InputLimit | None = None) -> str:
        """What the manifest records, so a change of chunking re-ingests a document."""
        config = self.chunking(markdown=markdown, limit=limit)
        unit = "tokens" if limit is None else f"tokens[{limit.model}]"
        return f"{unit}:{config.chunk_size}/{config.chunk_overlap}{'/md' if markdown else ''}"


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one run did. `added` documents (`chunks` chunks) were committed; `remaining`
    were left for a rerun when `stopped`; `abandoned` says an encode still runs in a
    worker thread; `generation` is the index generation now current (None: nothing yet)."""

    added: int
    unchanged: int
    skipped: int
    chunks: int
    remaining: int
    stopped: bool
    abandoned: bool
    generation: int | None


@dataclass(slots=True)
class _Pending:
    """A document being ingested: its chunks and the vectors found for them so far."""

    doc_id: str
    entry: DocumentEntry
    ids: list[str]
    texts: list[str]
    metadata: list[dict[str, Any]]
    vectors: list[Vector | None] = field(default_factory=list)
    missing: int = 0

    def rows(self) -> list[ChunkRow]:
        return [
            ChunkRow(id, text, md, vector)
            for id, text, md, vector in zip(
                self.ids, self.texts, self.metadata, self.vectors, strict=True
            )
            if vector is not None
        ]


@dataclass(slots=True)
class _Tally:
    unchanged: int = 0
    skipped: int = 0
    added: int = 0
    chunks: int = 0
    abandoned: bool = False


class FileIngest:
    """One ingest run into an `IndexDirectory` (hold `ingest_lock` around `run`)."""

    def __init__(
        self,
        index: IndexDirectory,
        embeddings: TextEmbedder,
        *,
        model_id: str | None,
        progress: IngestProgress,
        stop: StopRequest | None = None,
        options: IngestOptions | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.index = index
        self.embeddings = embeddings
        self.model_id = model_id
        self.progress = progress
        self.stop = stop or StopRequest()
        self.options = options or IngestOptions()
        self.limit = input_limit_of(embeddings)
        if self.limit is not None:
            size = self.options.chunking(markdown=True, limit=self.limit).chunk_size
            self.limit.check_size(size, same_tokens=True)
        self.clock = clock or SystemClock()
        self._snapshot = IndexSnapshot(0)
        self._ready: list[_Pending] = []
        self._tally = _Tally()
        self._last_commit: float | None = None
        self._commit_seconds = 0.0

    async def run(
        self, files: Sequence[Path], read: ReadDocument, markdown: Callable[[Document], bool]
    ) -> IngestResult:
        """Ingest `files` (each turned into a document by `read`, None to skip it);
        `markdown(document)` says whether it is chunked with Markdown rules."""
        manifest = self.index.manifest()
        if manifest is not None and manifest.model not in (None, self.model_id):
            raise StoreError(
                f"{self.index.root} holds {manifest.model} vectors, not {self.model_id}: "
                "use another --store-dir."
            )
        self.index.prune(keep=manifest.generation if manifest else 0)
        self._snapshot = self.index.load_snapshot()
        documents = self._read(files, read, markdown)
        pending = self._chunk(documents)
        try:
            if not self.stop.requested:
                await self._embed(pending)
        finally:
            await self._commit()  # what finished is kept, even when embedding failed
            self.progress.finish(Stage.WRITING)
        tally = self._tally
        return IngestResult(
            added=tally.added,
            unchanged=tally.unchanged,
            skipped=tally.skipped,
            chunks=tally.chunks,
            remaining=len(files) - tally.skipped - tally.unchanged - tally.added,
            stopped=self.stop.requested,
            abandoned=tally.abandoned,
            generation=self._snapshot.generation or None,
        )

    def _read(
        self, files: Sequence[Path], read: ReadDocument, markdown: Callable[[Document], bool]
    ) -> list[tuple[Document, str, bool]]:
        """Documents to ingest, each with its hash and Markdown flag; counts the others."""
        found: list[tuple[Document, str, bool]] = []
        seen: set[str] = set()
        self.progress.start(Stage.READING, len(files))
        for path in files:
            if self.stop.requested:
                break
            document = read(path)
            self.progress.advance(Stage.READING)
            if document is None or str(document["id"]) in seen:  # unreadable, or named twice
                self._tally.skipped += 1
                continue
            seen.add(str(document["id"]))
            sha, prose = document_hash(str(document["text"])), markdown(document)
            key = self.options.chunking_key(markdown=prose, limit=self.limit)
            if self._snapshot.is_done(str(document["id"]), sha, key):
                self._tally.unchanged += 1
            else:
                found.append((document, sha, prose))
        self.progress.finish(Stage.READING)
        return found

    def _chunk(self, documents: Sequence[tuple[Document, str, bool]]) -> list[_Pending]:
        """Each document cut into chunks (ids, texts, metadata), `_CHUNK_GROUP` at a time."""
        pending: list[_Pending] = []
        self.progress.start(Stage.CHUNKING, len(documents))
        for start in range(0, len(documents), _CHUNK_GROUP):
            if self.stop.requested:
                break
            group = documents[start : start + _CHUNK_GROUP]
            for prose, members in itertools.groupby(group, key=lambda item: item[2]):
                pending.extend(self._chunk_group([(doc, sha) for doc, sha, _ in members], prose))
            self.progress.advance(Stage.CHUNKING, len(group))
        self.progress.finish(Stage.CHUNKING)
        return pending

    def _chunk_group(self, group: Sequence[tuple[Document, str]], prose: bool) -> list[_Pending]:
        hashes = {str(document["id"]): sha for document, sha in group}
        chunks = chunk_documents(
            [document for document, _ in group],
            config=self.options.chunking(markdown=prose, limit=self.limit),
        )
        by_doc: dict[str, list[Chunk]] = {doc_id: [] for doc_id in hashes}
        for chunk in chunks:
            by_doc[chunk.source_id].append(chunk)
        key = self.options.chunking_key(markdown=prose, limit=self.limit)
        return [
            _Pending(
                doc_id,
                DocumentEntry(hashes[doc_id], len(cut), key),
                [chunk_id(doc_id, chunk.index) for chunk in cut],
                [chunk.text for chunk in cut],
                [chunk_metadata(chunk, hashes[doc_id]) for chunk in cut],
                [None] * len(cut),
                len(cut),
            )
            for doc_id, cut in by_doc.items()
        ]

    async def _embed(self, pending: Sequence[_Pending]) -> None:
        """Embed every chunk, `batch_size` at a time, committing finished documents."""
        slots = [(item, row) for item in pending for row in range(len(item.ids))]
        self.progress.start(Stage.EMBEDDING, len(slots))
        self.progress.start(Stage.WRITING, len(pending))
        try:
            self._collect([item for item in pending if not item.ids])
            for start in range(0, len(slots), self.options.batch_size):
                if self.stop.requested:
                    break
                batch = slots[start : start + self.options.batch_size]
                vectors = await self._embed_batch([item.texts[row] for item, row in batch])
                if vectors is None:
                    break
                finished = []
                for (item, row), vector in zip(batch, vectors, strict=True):
                    item.vectors[row] = vector
                    item.missing -= 1
                    if item.missing == 0:
                        finished.append(item)
                self.progress.advance(Stage.EMBEDDING, len(batch))
                self._collect(finished)
                if self._commit_due():
                    await self._commit()
        finally:
            self.progress.finish(Stage.EMBEDDING)

    async def _embed_batch(self, texts: list[str]) -> Vector | None:
        """The batch's vectors, or None when a stop came and the batch did not finish
        within the grace period (it is then abandoned, still running in its thread)."""
        work = asyncio.ensure_future(self.embeddings.embed(texts))
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                await asyncio.wait({work}, timeout=self.options.grace_s)
        finally:
            stopped.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopped
        if not work.done():
            work.cancel()
            self._tally.abandoned = True
            return None
        return np.asarray(work.result(), dtype=np.float32)

    def _collect(self, finished: Sequence[_Pending]) -> None:
        for item in finished:
            self._snapshot.replace(item.doc_id, item.entry, item.rows())
            self._ready.append(item)

    def _commit_due(self) -> bool:
        """After the first finished documents at once, then every `commit_interval_s`
        (stretched so that writing never takes more than a fifth of the time)."""
        if not self._ready:
            return False
        if self._last_commit is None:
            return True
        interval = max(self.options.commit_interval_s, 4 * self._commit_seconds)
        return self.clock.monotonic() - self._last_commit >= interval

    async def _commit(self) -> None:
        if not self._ready:
            return
        ready, self._ready = self._ready, []
        started = self.clock.monotonic()
        await asyncio.to_thread(self.index.commit, self._snapshot, self.model_id)
        self._last_commit = self.clock.monotonic()
        self._commit_seconds = self._last_commit - started
        self._tally.added += len(ready)
        self._tally.chunks += sum(len(item.ids) for item in ready)
        self.progress.advance(Stage.WRITING, len(ready))
