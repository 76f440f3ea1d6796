"""The on-disk index of `devora rag`: vectors, keyword corpus and manifest, committed atomically.

    <store-dir>/
        index.json            the commit point: generation, file names, documents done
        vectors.<gen>.npz     the memory store's file (`ai.rag.stores.memory_file` format)
        keywords.<gen>.json   the BM25 corpus, as `ContextRetriever.save_keywords` writes it
        embeddings.sqlite     the embedding cache (outside commits: it only saves work)
        ingest.lock           held by the one ingest that may write here

A commit writes generation g+1's vector and keyword files (each to a temporary file,
fsynced, then renamed), and only then replaces `index.json` the same way: that rename is
the single moment the new generation becomes visible, so a crash or kill at any point
leaves the previous generation whole. The previous generation's files are kept one more
commit, so a query that read the old `index.json` can still open them; older files and
temporaries of interrupted writes are removed.

`index.json` lists each document that is done (its path, SHA-256 of its text, chunk count
and chunking settings): an ingest skips exactly those, so an interrupted run resumes.
A store written before this layout (`vectors.npz` and `keywords.json`, no `index.json`)
is read as generation 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ai.errors import StoreError
from ai.rag.stores.memory_file import (
    NamespaceData,
    StoreData,
    encode_manifest,
    read_store,
    write_store,
)

FORMAT = "devora-rag-index"
VERSION = 1
MANIFEST_NAME = "index.json"
LOCK_NAME = "ingest.lock"
LEGACY_VECTORS = "vectors.npz"
LEGACY_KEYWORDS = "keywords.json"
_GENERATION_FILE = re.compile(r"^(vectors|keywords)\.(\d+)\.(npz|json)$")

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class DocumentEntry:
    """A document that is fully in the index: its text's SHA-256, chunk count and the
    chunking it was cut with (None for stores from before the manifest: not known)."""

    sha256: str
    chunks: int
    chunking: str | None


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """One stored chunk: id, text, metadata and unit vector."""

    id: str
    text: str
    metadata: Mapping[str, Any]
    vector: Vector


@dataclass(frozen=True, slots=True)
class IndexManifest:
    """What `index.json` says: the generation, its files, and the documents done."""

    generation: int
    model: str | None
    vectors: str
    keywords: str
    documents: Mapping[str, DocumentEntry]
    committed_at: str | None = None

    @property
    def chunk_count(self) -> int:
        """Chunks over all documents."""
        return sum(entry.chunks for entry in self.documents.values())


class IndexSnapshot:
    """The working copy an ingest builds on: committed documents and their chunk rows.

    `replace` swaps one document's rows whole; `commit` in `IndexDirectory` writes all.
    """

    def __init__(
        self,
        generation: int,
        documents: Mapping[str, DocumentEntry] | None = None,
        rows: Mapping[str, Sequence[ChunkRow]] | None = None,
    ) -> None:
        self.generation = generation
        self.documents: dict[str, DocumentEntry] = dict(documents or {})
        self._rows: dict[str, list[ChunkRow]] = {k: list(v) for k, v in (rows or {}).items()}

    def is_done(self, doc_id: str, sha256: str, chunking: str) -> bool:
        """Whether `doc_id` is in the index with this text and chunking already."""
        entry = self.documents.get(doc_id)
        return (
            entry is not None
            and entry.sha256 == sha256
            and entry.chunking in (None, chunking)  # a pre-manifest store: trust the hash
        )

    def replace(self, doc_id: str, entry: DocumentEntry, rows: Sequence[ChunkRow]) -> None:
        """Make `rows` the document's chunks (its old ones, if any, are dropped)."""
        self.documents[doc_id] = entry
        self._rows[doc_id] = list(rows)

    def rows(self) -> list[ChunkRow]:
        """Every chunk row, document by document."""
        return [row for doc_id in self.documents for row in self._rows.get(doc_id, ())]


class IndexDirectory:
    """A store directory: read the current generation, commit a new one, open it for queries."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def manifest(self) -> IndexManifest | None:
        """The committed manifest; a pre-manifest store's as generation 0; None if empty."""
        path = self.root / MANIFEST_NAME
        if path.is_file():
            return _parse_manifest(path)
        if (self.root / LEGACY_VECTORS).is_file():
            return IndexManifest(0, None, LEGACY_VECTORS, LEGACY_KEYWORDS, {})
        return None

    def exists(self) -> bool:
        """Whether anything has been committed here."""
        return self.manifest() is not None

    def files(self) -> tuple[Path, Path] | None:
        """The vector and keyword files of the current generation, for a query."""
        manifest = self.manifest()
        if manifest is None:
            return None
        return self.root / manifest.vectors, self.root / manifest.keywords

    def load_snapshot(self) -> IndexSnapshot:
        """The committed documents and their rows, to build the next generation on."""
        manifest = self.manifest()
        if manifest is None:
            return IndexSnapshot(0)
        vectors = self.root / manifest.vectors
        data = read_store(vectors)
        rows: dict[str, list[ChunkRow]] = {}
        for namespace in data.namespaces:
            for row, record_id in enumerate(namespace.ids):
                metadata = namespace.metadata[row]
                text = namespace.texts[row] or ""
                chunk = ChunkRow(record_id, text, metadata, namespace.vectors[row])
                rows.setdefault(str(metadata.get("source_id", "")), []).append(chunk)
        documents = dict(manifest.documents) or _entries_from_rows(rows)
        return IndexSnapshot(manifest.generation, documents, rows)

    def commit(self, snapshot: IndexSnapshot, model: str | None) -> IndexManifest:
        """Write `snapshot` as the next generation and make it current (see the module doc)."""
        generation = snapshot.generation + 1
        rows = snapshot.rows()
        manifest = IndexManifest(
            generation=generation,
            model=model,
            vectors=f"vectors.{generation}.npz",
            keywords=f"keywords.{generation}.json",
            documents=dict(snapshot.documents),
            committed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self.root.mkdir(parents=True, exist_ok=True)
        _write_vectors(self.root / manifest.vectors, rows)
        keywords = [{"id": r.id, "text": r.text, "metadata": dict(r.metadata)} for r in rows]
        write_atomically(self.root / manifest.keywords, _json_bytes(keywords))
        write_atomically(self.root / MANIFEST_NAME, _json_bytes(_manifest_json(manifest)))
        _sync_directory(self.root)
        snapshot.generation = generation
        self.prune(keep=generation)
        return manifest

    def prune(self, keep: int) -> None:
        """Remove generations other than `keep` and `keep - 1` (older ones, and newer ones
        a crash left uncommitted), legacy files once superseded, and temporaries of
        interrupted writes. Only the holder of the ingest lock may call it."""
        if not self.root.is_dir():
            return
        for path in self.root.iterdir():
            match = _GENERATION_FILE.match(path.name)
            stale = (
                (match is not None and int(match.group(2)) not in (keep, keep - 1))
                or (path.name in (LEGACY_VECTORS, LEGACY_KEYWORDS) and keep > 1)
                or (path.name.startswith(".") and path.name.endswith(".tmp"))
            )
            if stale:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, and rename it over `path`."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


@contextlib.contextmanager
def ingest_lock(root: Path) -> Iterator[None]:
    """Hold the store's ingest lock, or raise `StoreError` if another ingest holds it.

    An OS file lock: a killed ingest releases it with its process."""
    from filelock import FileLock, Timeout

    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise StoreError(f"another `devora rag ingest` is writing to {root}") from exc
    try:
        yield
    finally:
        lock.release()


def _write_vectors(path: Path, rows: Sequence[ChunkRow]) -> None:
    if rows:
        matrix = np.stack([row.vector for row in rows]).astype(np.float32, copy=False)
        namespace = NamespaceData(
            "",
            [row.id for row in rows],
            [row.text for row in rows],
            [dict(row.metadata) for row in rows],
            matrix,
        )
        data = StoreData(int(matrix.shape[1]), "cosine", [namespace])
    else:
        data = StoreData(None, "cosine", [])
    write_store(path, encode_manifest(data), [ns.vectors for ns in data.namespaces])


def _entries_from_rows(rows: Mapping[str, Sequence[ChunkRow]]) -> dict[str, DocumentEntry]:
    """Document entries of a pre-manifest store, from its chunks' `doc_hash` metadata."""
    entries = {}
    for doc_id, chunks in rows.items():
        sha = str(chunks[0].metadata.get("doc_hash", ""))
        if doc_id and sha:
            entries[doc_id] = DocumentEntry(sha, len(chunks), None)
    return entries


def _manifest_json(manifest: IndexManifest) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "generation": manifest.generation,
        "committed_at": manifest.committed_at,
        "model": manifest.model,
        "vectors": manifest.vectors,
        "keywords": manifest.keywords,
        "chunks": manifest.chunk_count,
        "documents": {
            doc_id: {"sha256": e.sha256, "chunks": e.chunks, "chunking": e.chunking}
            for doc_id, e in manifest.documents.items()
        },
    }


def _parse_manifest(path: Path) -> IndexManifest:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT or raw.get("version") != VERSION:
            raise StoreError(f"{path} is not a devora RAG index (version {VERSION}).")
        documents = {
            str(doc_id): DocumentEntry(str(e["sha256"]), int(e["chunks"]), e.get("chunking"))
            for doc_id, e in raw["documents"].items()
        }
        return IndexManifest(
            generation=int(raw["generation"]),
            model=raw.get("model"),
            vectors=str(raw["vectors"]),
            keywords=str(raw["keywords"]),
            documents=documents,
            committed_at=raw.get("committed_at"),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"cannot read the index manifest {path}: {exc}") from exc


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _sync_directory(root: Path) -> None:
    """Make the renames durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(root, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
