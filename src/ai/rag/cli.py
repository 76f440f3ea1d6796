"""`devora rag ingest` and `devora rag query` on the embedded default.

The default needs no service and no key: local all-MiniLM-L6-v2 embeddings, an in-memory
vector store saved to `<store-dir>/vectors.npz`, and the BM25 corpus saved beside it, so
a later `devora rag query` (another process) finds everything `ingest` wrote.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ai.rag.chunking import ChunkingConfig
from ai.rag.embedding_backends.local import quiet_model_loading
from ai.rag.embeddings import EmbeddingService
from ai.rag.retriever import ContextRetriever, SearchMode
from ai.rag.vector_store import VectorStore, VectorStoreConfig, VectorStoreType

rag_app = typer.Typer(help="Ingest files and query them (local embeddings, no key needed).")

TEXT_SUFFIXES = {
    ".txt", ".md", ".markdown", ".rst", ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs",
    ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".sh",
    ".sql", ".html", ".css", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg",
}  # fmt: skip
PROSE_TYPES = {"md", "markdown", "txt", "rst", "text"}
DEFAULT_STORE_DIR = Path(".devora/rag")
MAX_FILE_BYTES = 5 * 2**20


def iter_text_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Text, Markdown and code files under `paths`, skipping hidden folders."""
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            for candidate in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in candidate.relative_to(path).parts)
                if candidate.is_file() and candidate.suffix.lower() in TEXT_SUFFIXES and not hidden:
                    yield candidate
        else:
            raise typer.BadParameter(f"{path} does not exist.")


def read_document(path: Path) -> dict[str, object] | None:
    """A document for `add_documents`, or None for binary, empty or oversized files."""
    if path.stat().st_size > MAX_FILE_BYTES:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    if not text.strip():
        return None
    return {
        "id": str(path),
        "text": text,
        "metadata": {"path": str(path), "type": path.suffix.lower().lstrip(".") or "text"},
    }


def open_retriever(store_dir: Path, chunk_size: int = 512, overlap: int = 64) -> ContextRetriever:
    """The embedded default: local embeddings, a memory store persisted in `store_dir`."""
    store_dir.mkdir(parents=True, exist_ok=True)
    config = VectorStoreConfig(
        store_type=VectorStoreType.MEMORY, persist_path=str(store_dir / "vectors.npz")
    )
    retriever = ContextRetriever(
        EmbeddingService.local(cache_path=store_dir / "embeddings.sqlite"),
        VectorStore(config),
        chunking=ChunkingConfig(chunk_size=chunk_size, chunk_overlap=overlap),
    )
    retriever.load_keywords(store_dir / "keywords.json")
    return retriever


async def _ingest(paths: Sequence[Path], store_dir: Path, chunk_size: int, overlap: int) -> None:
    console = Console()
    files = list(iter_text_files(paths))
    documents = [doc for doc in map(read_document, files) if doc is not None]
    skipped = len(files) - len(documents)
    retriever = open_retriever(store_dir, chunk_size, overlap)
    prose = [doc for doc in documents if _is_prose(doc)]
    code = [doc for doc in documents if not _is_prose(doc)]
    added = unchanged = chunks = 0
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Embedding", total=len(documents))
            for batch, markdown in ((prose, True), (code, False)):
                # `# comment` lines in code are not Markdown headings
                retriever.chunking = dataclasses.replace(retriever.chunking, markdown=markdown)
                report = await retriever.add_documents(
                    batch, progress=lambda n: progress.advance(task, n)
                )
                added += report.documents_added
                unchanged += report.documents_unchanged
                chunks += report.chunks_written
        retriever.save_keywords(store_dir / "keywords.json")
    finally:
        await retriever.vector_store.aclose()
    console.print(
        f"Ingested {added} file(s) into {chunks} chunk(s); {unchanged} unchanged, "
        f"{skipped} skipped (binary, empty or too large). Store: {store_dir}"
    )


def _is_prose(document: dict[str, object]) -> bool:
    metadata = document["metadata"]
    return isinstance(metadata, dict) and metadata.get("type") in PROSE_TYPES


async def _query(
    question: str, store_dir: Path, top_k: int, mode: SearchMode, context: bool
) -> None:
    console = Console()
    if not (store_dir / "vectors.npz").exists():
        console.print(f"[red]No store in {store_dir}: run `devora rag ingest PATH...` first.[/red]")
        raise typer.Exit(1)
    retriever = open_retriever(store_dir)
    try:
        if context:
            console.print(
                await retriever.retrieve_and_format(question, top_k=top_k, mode=mode), markup=False
            )
            return
        results = await retriever.retrieve(question, top_k=top_k, mode=mode)
    finally:
        await retriever.vector_store.aclose()
    table = Table(title=f"{mode.value} search: {question}")
    for column in ("#", "score", "source", "text"):
        table.add_column(column)
    for rank, result in enumerate(results, start=1):
        snippet = " ".join(result.text.split())[:160]
        table.add_row(str(rank), f"{result.score:.3f}", result.source_id, snippet)
    console.print(table)


@rag_app.command("ingest")
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (text, Markdown, code)."),
    store_dir: Path = typer.Option(DEFAULT_STORE_DIR, help="Where the store is kept."),
    chunk_size: int = typer.Option(512, help="Chunk size in tokens."),
    overlap: int = typer.Option(64, help="Overlap between chunks in tokens."),
) -> None:
    """Chunk, embed (locally) and store files; unchanged files are skipped."""
    quiet_model_loading()
    asyncio.run(_ingest(paths, store_dir, chunk_size, overlap))


@rag_app.command("query")
def query(
    question: str = typer.Argument(..., help="What to search for."),
    store_dir: Path = typer.Option(DEFAULT_STORE_DIR, help="Where the store is kept."),
    top_k: int = typer.Option(5, help="How many chunks to return."),
    mode: SearchMode = typer.Option(SearchMode.HYBRID, help="vector, bm25 or hybrid."),
    context: bool = typer.Option(False, help="Print the formatted context for a prompt."),
) -> None:
    """Search what `ingest` stored: a table of chunks, or the prompt-ready context."""
    quiet_model_loading()
    asyncio.run(_query(question, store_dir, top_k, mode, context))
