"""`IndexDirectory`: atomic generations, crash safety, pruning, legacy stores, the lock."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ai.errors import StoreError
from ai.rag import index_files
from ai.rag.index_files import (
    ChunkRow,
    DocumentEntry,
    IndexDirectory,
    IndexSnapshot,
    ingest_lock,
)
from ai.rag.local_index import open_index_retriever
from ai.rag.retriever import ContextRetriever
from ai.rag.vector_store import VectorStore, VectorStoreConfig, VectorStoreType
from tests.ai.rag.ingest_fakes import fake_vector

MODEL = "fake:hash-8"


def add_document(snapshot: IndexSnapshot, doc_id: str, chunks: int) -> None:
    rows = [
        ChunkRow(
            f"{doc_id}#{i}",
            f"{doc_id} chunk {i}",
            {"source_id": doc_id, "chunk_index": i, "doc_hash": f"h-{doc_id}"},
            fake_vector(f"{doc_id} chunk {i}"),
        )
        for i in range(chunks)
    ]
    snapshot.replace(doc_id, DocumentEntry(f"h-{doc_id}", chunks, "tokens:512/64/md"), rows)


def generation_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(("vectors", "keywords")))


def test_each_commit_is_a_new_generation_and_the_one_before_is_kept(tmp_path: Path) -> None:
    index = IndexDirectory(tmp_path)
    snapshot = index.load_snapshot()
    for number, doc_id in enumerate(["a", "b", "c"], start=1):
        add_document(snapshot, doc_id, 2)
        manifest = index.commit(snapshot, MODEL)
        assert manifest.generation == number
    assert generation_files(tmp_path) == [
        "keywords.2.json",
        "keywords.3.json",
        "vectors.2.npz",
        "vectors.3.npz",
    ]
    reloaded = IndexDirectory(tmp_path).load_snapshot()
    assert reloaded.generation == 3 and set(reloaded.documents) == {"a", "b", "c"}
    assert [row.id for row in reloaded.rows()] == ["a#0", "a#1", "b#0", "b#1", "c#0", "c#1"]
    np.testing.assert_array_equal(reloaded.rows()[3].vector, fake_vector("b chunk 1"))
    on_disk = json.loads((tmp_path / "index.json").read_text())
    assert on_disk["chunks"] == 6 and on_disk["model"] == MODEL


def test_a_crash_before_the_manifest_is_replaced_leaves_the_previous_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = IndexDirectory(tmp_path)
    snapshot = index.load_snapshot()
    add_document(snapshot, "a", 1)
    index.commit(snapshot, MODEL)
    add_document(snapshot, "b", 3)
    write = index_files.write_atomically

    def crash_on_manifest(path: Path, data: bytes) -> None:
        if path.name == "index.json":
            (path.parent / f".{path.name}.deadbeef.tmp").write_bytes(data[:10])  # half written
            raise KeyboardInterrupt  # the process dies here
        write(path, data)

    monkeypatch.setattr(index_files, "write_atomically", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        index.commit(snapshot, MODEL)
    monkeypatch.undo()

    after = IndexDirectory(tmp_path)
    manifest = after.manifest()
    assert manifest is not None and manifest.generation == 1
    assert list(after.load_snapshot().documents) == ["a"]
    assert "vectors.2.npz" in generation_files(tmp_path)  # written, never committed

    resumed = after.load_snapshot()
    add_document(resumed, "b", 3)
    assert after.commit(resumed, MODEL).generation == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert after.manifest().chunk_count == 4  # type: ignore[union-attr]


def test_uncommitted_generations_and_temporaries_are_pruned(tmp_path: Path) -> None:
    index = IndexDirectory(tmp_path)
    snapshot = index.load_snapshot()
    add_document(snapshot, "a", 1)
    index.commit(snapshot, MODEL)
    for name in ("vectors.7.npz", "keywords.7.json", ".vectors.2.npz.0123.tmp", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    index.prune(keep=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "index.json",
        "keywords.1.json",
        "notes.txt",
        "vectors.1.npz",
    ]


async def test_a_store_from_before_the_manifest_is_read_as_generation_zero(
    tmp_path: Path,
) -> None:
    store = VectorStore(
        VectorStoreConfig(
            store_type=VectorStoreType.MEMORY, persist_path=str(tmp_path / "vectors.npz")
        )
    )

    class Embedder:
        async def embed(self, texts: list[str]) -> np.ndarray:
            return np.stack([fake_vector(text) for text in texts])

    retriever = ContextRetriever(Embedder(), store)
    await retriever.add_documents(
        [{"id": "old.md", "text": "Tides follow the Moon."}, {"id": "b.md", "text": "Bees."}]
    )
    retriever.save_keywords(tmp_path / "keywords.json")
    await store.aclose()

    index = IndexDirectory(tmp_path)
    snapshot = index.load_snapshot()
    assert snapshot.generation == 0 and set(snapshot.documents) == {"old.md", "b.md"}
    entry = snapshot.documents["old.md"]
    assert snapshot.is_done("old.md", entry.sha256, "tokens:512/64/md")  # hash is enough
    opened = open_index_retriever(tmp_path)
    assert [hit.source_id for hit in await opened.retrieve("tides", mode="bm25")] == ["old.md"]

    add_document(snapshot, "new.md", 1)
    index.commit(snapshot, MODEL)
    assert (tmp_path / "vectors.npz").exists()  # still the previous generation
    index.commit(snapshot, MODEL)
    assert not (tmp_path / "vectors.npz").exists()
    assert set(index.load_snapshot().documents) == {"old.md", "b.md", "new.md"}


def test_a_second_ingest_is_refused_while_one_holds_the_lock(tmp_path: Path) -> None:
    with ingest_lock(tmp_path), pytest.raises(StoreError, match="another"), ingest_lock(tmp_path):
        pass
    with ingest_lock(tmp_path):  # released
        pass


def test_opening_a_store_whose_files_are_gone_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="devora rag ingest"):
        open_index_retriever(tmp_path)
    index = IndexDirectory(tmp_path)
    snapshot = index.load_snapshot()
    add_document(snapshot, "a", 1)
    index.commit(snapshot, MODEL)
    (tmp_path / "vectors.1.npz").unlink()
    with pytest.raises(StoreError, match=r"vectors\.1\.npz"):
        open_index_retriever(tmp_path)


def test_a_damaged_manifest_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text('{"format": "something else"}')
    with pytest.raises(StoreError, match="not a devora RAG index"):
        IndexDirectory(tmp_path).manifest()
