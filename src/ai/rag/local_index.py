"""The embedded default behind `devora rag`: local embeddings over an `IndexDirectory`.

`ingest_into` runs a `FileIngest` under the store's ingest lock; `open_index_retriever`
opens the current generation for searching. Both embed with the local all-MiniLM-L6-v2
model and share the store's embedding cache (`embeddings.sqlite`), so a query repeated
later, or text that moved to another file, is not embedded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ai.errors import StoreError
from ai.rag.embedding_cache import SQLITE_FILE_NAME
from ai.rag.embeddings import EmbeddingService
from ai.rag.index_files import IndexDirectory, ingest_lock
from ai.rag.ingest import Document, FileIngest, IngestOptions, IngestResult, ReadDocument
from ai.rag.ingest_progress import IngestProgress, progress_for
from ai.rag.ingest_stop import StopRequest
from ai.rag.retriever import ContextRetriever
from ai.rag.vector_store import VectorStore, VectorStoreConfig, VectorStoreType


def local_embeddings(store_dir: Path) -> EmbeddingService:
    """all-MiniLM-L6-v2 on the CPU, cached in the store's `embeddings.sqlite`."""
    store_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddingService.local(cache_path=store_dir / SQLITE_FILE_NAME)


async def ingest_into(
    store_dir: Path,
    files: Sequence[Path],
    *,
    read: ReadDocument,
    markdown: Callable[[Document], bool],
    options: IngestOptions | None = None,
    stop: StopRequest | None = None,
    progress: IngestProgress | None = None,
) -> IngestResult:
    """Ingest `files` into the store at `store_dir` (`StoreError` if another ingest is
    writing there). Progress goes to stderr unless `progress` is given."""
    reporter = progress or progress_for()
    try:
        with ingest_lock(store_dir):
            embeddings = local_embeddings(store_dir)
            try:
                run = FileIngest(
                    IndexDirectory(store_dir),
                    embeddings,
                    model_id=embeddings.model_id,
                    progress=reporter,
                    stop=stop,
                    options=options,
                )
                return await run.run(files, read, markdown)
            finally:
                await embeddings.aclose()
    finally:
        reporter.close()


def open_index_retriever(store_dir: Path, *, keywords: bool = True) -> ContextRetriever:
    """A retriever over the store's current generation; `keywords=False` skips loading
    the BM25 corpus (vector search does not need it). `StoreError` if there is none."""
    index = IndexDirectory(store_dir)
    for _ in range(3):
        files = index.files()
        if files is None:
            raise StoreError(f"no index in {store_dir}: run `devora rag ingest PATH...` first.")
        vectors, keyword_file = files
        try:
            for path in (vectors, keyword_file) if keywords else (vectors,):
                if not path.is_file():
                    raise FileNotFoundError(f"{path} is missing")
            store = VectorStore(
                VectorStoreConfig(store_type=VectorStoreType.MEMORY, persist_path=str(vectors))
            )
            retriever = ContextRetriever(local_embeddings(store_dir), store)
            if keywords:
                retriever.load_keywords(keyword_file)
            return retriever
        except (StoreError, FileNotFoundError) as exc:
            if index.files() == files:  # nothing newer was committed: a real fault
                raise StoreError(f"cannot open the index in {store_dir}: {exc}") from exc
            # an ingest committed twice since index.json was read, pruning these files
    raise StoreError(f"the index in {store_dir} kept changing while being opened; try again.")
