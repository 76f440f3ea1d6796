"""`FileIngest`: stages, commits, stop between batches, resume by content hash."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from ai.errors import StoreError
from ai.rag.cli import _is_prose, read_document
from ai.rag.index_files import IndexDirectory
from ai.rag.ingest import FileIngest, IngestOptions, IngestResult
from ai.rag.ingest_progress import Stage
from ai.rag.ingest_stop import StopRequest
from ai.rag.local_index import open_index_retriever
from ai.rag.stores.memory_file import read_store
from tests.ai.rag.ingest_fakes import (
    RecordingProgress,
    ScriptedEmbedder,
    fake_vector,
    write_corpus,
)

pytestmark = pytest.mark.timeout(30)

OPTIONS = IngestOptions(batch_size=2, commit_interval_s=3600)


async def ingest(
    store: Path,
    files: list[Path],
    embedder: ScriptedEmbedder,
    *,
    stop: StopRequest | None = None,
    options: IngestOptions = OPTIONS,
    progress: RecordingProgress | None = None,
) -> IngestResult:
    run = FileIngest(
        IndexDirectory(store),
        embedder,
        model_id=embedder.model_id,
        progress=progress or RecordingProgress(),
        stop=stop,
        options=options,
    )
    return await run.run(files, read_document, _is_prose)


def committed(store: Path) -> dict[str, int]:
    """Documents in index.json with their chunk counts, checked against the data files."""
    index = IndexDirectory(store)
    manifest = index.manifest()
    assert manifest is not None
    data = read_store(store / manifest.vectors)
    ids = [id for ns in data.namespaces for id in ns.ids]
    keywords = json.loads((store / manifest.keywords).read_text())
    assert sorted(ids) == sorted(item["id"] for item in keywords)
    assert len(ids) == manifest.chunk_count
    return {doc: entry.chunks for doc, entry in manifest.documents.items()}


async def test_a_run_reports_every_stage_and_commits_everything(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "docs", 5)
    (tmp_path / "docs" / "empty.md").write_text("   \n")
    files.append(tmp_path / "docs" / "empty.md")
    progress = RecordingProgress()
    result = await ingest(tmp_path / "store", files, ScriptedEmbedder(), progress=progress)
    assert (result.added, result.skipped, result.unchanged, result.remaining) == (5, 1, 0, 0)
    assert not result.stopped and not result.abandoned
    assert committed(tmp_path / "store") == {str(path): 1 for path in files[:5]}
    stages = [stage for event, stage, _ in progress.events if event == "start"]
    assert stages == [Stage.READING, Stage.CHUNKING, Stage.EMBEDDING, Stage.WRITING]
    assert progress.total(Stage.READING) == progress.done(Stage.READING) == 6
    assert progress.total(Stage.EMBEDDING) == progress.done(Stage.EMBEDDING) == 5
    assert progress.total(Stage.WRITING) == progress.done(Stage.WRITING) == 5


async def test_a_stop_between_batches_keeps_finished_documents_and_a_rerun_does_the_rest(
    tmp_path: Path,
) -> None:
    files = write_corpus(tmp_path / "docs", 9)
    stop = StopRequest()
    first = ScriptedEmbedder(on_call=lambda n: stop.request() if n == 3 else None)
    result = await ingest(tmp_path / "store", files, first, stop=stop)
    assert result.stopped and not result.abandoned
    assert (result.added, result.remaining) == (6, 3)  # three batches of two finished
    assert len(committed(tmp_path / "store")) == 6

    second = ScriptedEmbedder()
    again = await ingest(tmp_path / "store", files, second)
    assert (again.added, again.unchanged, again.remaining) == (3, 6, 0)
    assert len(second.texts) == 3  # only the rest was embedded
    assert len(committed(tmp_path / "store")) == 9


async def test_a_stop_while_a_batch_is_encoding_abandons_it_without_waiting(
    tmp_path: Path,
) -> None:
    files = write_corpus(tmp_path / "docs", 6)
    stop = StopRequest()
    embedder = ScriptedEmbedder()

    def on_call(n: int) -> None:
        embedder.blocking = n == 3  # the third batch hangs in a worker thread

    embedder.on_call = on_call
    options = IngestOptions(batch_size=2, commit_interval_s=3600, grace_s=0.05)
    store = tmp_path / "store"
    task = asyncio.create_task(ingest(store, files, embedder, stop=stop, options=options))
    assert await asyncio.to_thread(embedder.blocked.wait, 10)
    stop.request()
    try:
        result = await asyncio.wait_for(task, timeout=10)
    finally:
        embedder.release.set()
    assert result.stopped and result.abandoned
    assert (result.added, result.remaining) == (4, 2)
    assert len(committed(tmp_path / "store")) == 4


async def test_an_embedding_failure_still_commits_what_finished(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "docs", 6)

    def fail_third(n: int) -> None:
        if n == 3:
            raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        await ingest(tmp_path / "store", files, ScriptedEmbedder(on_call=fail_third))
    assert len(committed(tmp_path / "store")) == 4


async def test_a_changed_file_replaces_its_chunks_and_unchanged_ones_are_skipped_by_hash(
    tmp_path: Path,
) -> None:
    files = write_corpus(tmp_path / "docs", 3, words=600)
    options = IngestOptions(chunk_size=128, chunk_overlap=0, batch_size=4, commit_interval_s=0)
    await ingest(tmp_path / "store", files, ScriptedEmbedder(), options=options)
    before = committed(tmp_path / "store")
    assert before[str(files[0])] > 1

    files[0].write_text("# Short now\n\nOnly one chunk remains of this file.\n")
    files[1].touch()  # a new modification time, the same text: still unchanged
    embedder = ScriptedEmbedder()
    result = await ingest(tmp_path / "store", files, embedder, options=options)
    assert (result.added, result.unchanged) == (1, 2)
    after = committed(tmp_path / "store")
    assert after == {**before, str(files[0]): 1}
    assert embedder.texts == ["# Short now\n\nOnly one chunk remains of this file."]


async def test_new_chunking_settings_re_ingest_every_file(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "docs", 2, words=300)
    await ingest(tmp_path / "store", files, ScriptedEmbedder())
    options = IngestOptions(chunk_size=64, chunk_overlap=8, batch_size=4)
    result = await ingest(tmp_path / "store", files, ScriptedEmbedder(), options=options)
    assert (result.added, result.unchanged) == (2, 0)


async def test_what_was_ingested_is_searchable_from_the_committed_files(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "docs", 4)
    await ingest(tmp_path / "store", files, ScriptedEmbedder())
    retriever = open_index_retriever(tmp_path / "store")
    try:
        [hit] = await retriever.retrieve("backoff2-7", top_k=1, mode="bm25")
        assert hit.source_id == str(files[2])
        stored = await retriever.vector_store.fetch([f"{files[1]}#0"])
        record = stored[f"{files[1]}#0"]
        assert record.metadata["doc_hash"] and record.metadata["chunk_index"] == 0
        np.testing.assert_allclose(record.values, fake_vector(record.text or ""), atol=1e-6)
    finally:
        await retriever.vector_store.aclose()


async def test_a_store_of_another_model_is_refused(tmp_path: Path) -> None:
    files = write_corpus(tmp_path / "docs", 1)
    await ingest(tmp_path / "store", files, ScriptedEmbedder())
    other = ScriptedEmbedder()
    other.model_id = "fake:other"
    with pytest.raises(StoreError, match="another --store-dir"):
        await ingest(tmp_path / "store", files, other)


async def test_a_file_named_twice_is_ingested_once(tmp_path: Path) -> None:
    [path] = write_corpus(tmp_path / "docs", 1)
    result = await ingest(tmp_path / "store", [path, path], ScriptedEmbedder())
    assert (result.added, result.skipped) == (1, 1)
    assert committed(tmp_path / "store") == {str(path): 1}
