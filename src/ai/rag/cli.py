"""`devora rag ingest` and `devora rag query` on the embedded default.

The default needs no service and no key: local all-MiniLM-L6-v2 embeddings, an in-memory
vector store and the BM25 corpus saved under `<store-dir>` as one committed generation
(`ai.rag.index_files`), so a later `devora rag query` (another process) finds everything
`ingest` committed. Ingest commits as it goes and stops cleanly on Ctrl-C or SIGTERM
(exit status 130 or 143); a rerun resumes (`ai.rag.ingest`).

Output: tables on a terminal; in a pipe plain, unwrapped text (results tab-separated,
one a line: rank, score, source, text on one line; `--context` exactly as formatted);
with `--json` one JSON document on stdout. Progress and errors go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ai.core.command_line import fail, one_line_errors
from ai.errors import StoreError
from ai.rag.cli_eval import eval_command
from ai.rag.embedding_backends.local import quiet_model_loading
from ai.rag.index_files import IndexDirectory
from ai.rag.ingest import IngestOptions, IngestResult
from ai.rag.ingest_stop import (
    StopRequest,
    exit_now,
    run_detached,
    signal_safe_notice,
    stop_on_signals,
)
from ai.rag.local_index import ingest_into, open_index_retriever
from ai.rag.retriever import SearchMode

rag_app = typer.Typer(
    help="Ingest files and query them (local embeddings, no key needed).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
JSON_OPTION = typer.Option(
    False, "--json", help="Print one JSON document on stdout (progress goes to stderr)."
)

TEXT_SUFFIXES = {
    ".txt", ".md", ".markdown", ".rst", ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs",
    ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".sh",
    ".sql", ".html", ".css", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg",
}  # fmt: skip
PROSE_TYPES = {"md", "markdown", "txt", "rst", "text"}
DEFAULT_STORE_DIR = Path(".devora/rag")
MAX_FILE_BYTES = 5 * 2**20


def iter_text_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Text, Markdown and code files under `paths`, skipping hidden folders; a file named
    twice (`f/a.md` and `/abs/f/a.md`, or inside a folder also given) comes once."""
    seen: set[Path] = set()
    for path in paths:
        if path.is_file():
            found: Iterable[Path] = [path]
        elif path.is_dir():
            found = (
                candidate
                for candidate in sorted(path.rglob("*"))
                if candidate.is_file()
                and candidate.suffix.lower() in TEXT_SUFFIXES
                and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
            )
        else:
            raise typer.BadParameter(f"{path} does not exist.")
        for file in found:
            if (key := file.resolve()) not in seen:
                seen.add(key)
                yield file


def document_id(path: Path) -> str:
    """The id a file is stored under, the same however it was named: its resolved path,
    relative to the working directory when inside it (what `devora rag ingest docs/`
    always stored: `docs/a.md`), absolute otherwise."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def read_document(path: Path) -> dict[str, object] | None:
    """A document for `add_documents`, or None for binary, empty or oversized files.

    UTF-8, a leading byte-order mark dropped (else it would hide a first Markdown
    heading); text with a NUL byte is binary (UTF-16 without a BOM decodes as UTF-8
    full of NULs)."""
    if path.stat().st_size > MAX_FILE_BYTES:
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError):
        return None
    if "\x00" in text or not text.strip():
        return None
    doc_id = document_id(path)
    return {
        "id": doc_id,
        "text": text,
        "metadata": {"path": doc_id, "type": path.suffix.lower().lstrip(".") or "text"},
    }


async def _ingest(
    paths: Sequence[Path],
    store_dir: Path,
    chunk_size: int | None,
    overlap: int | None,
    as_json: bool = False,
    stop: StopRequest | None = None,
) -> IngestResult:
    files = list(iter_text_files(paths))
    options = IngestOptions(chunk_size=chunk_size, chunk_overlap=overlap)
    try:
        result = await ingest_into(
            store_dir, files, read=read_document, markdown=_is_prose, options=options, stop=stop
        )
    except StoreError as error:
        fail(str(error))
    added, unchanged, skipped, chunks = (
        result.added,
        result.unchanged,
        result.skipped,
        result.chunks,
    )
    summary = {
        "added": added,
        "unchanged": unchanged,
        "skipped": skipped,
        "chunks": chunks,
        "remaining": result.remaining,
        "interrupted": result.stopped,
        "store_dir": str(store_dir),
    }
    if as_json:
        _print_json(summary)
        return result
    sys.stdout.write(
        f"Ingested {added} file(s) into {chunks} chunk(s); {unchanged} unchanged, "
        f"{skipped} skipped (binary, empty or too large). Store: {store_dir}\n"
    )
    return result


def _is_prose(document: Mapping[str, object]) -> bool:
    metadata = document["metadata"]
    return isinstance(metadata, dict) and metadata.get("type") in PROSE_TYPES


async def _query(
    question: str, store_dir: Path, top_k: int, mode: SearchMode, context: bool, as_json: bool
) -> None:
    if not IndexDirectory(store_dir).exists():
        fail(f"no store in {store_dir}: run `devora rag ingest PATH...` first.")
    asked = {"question": question, "mode": mode.value, "top_k": top_k}
    try:
        retriever = open_index_retriever(store_dir, keywords=mode is not SearchMode.VECTOR)
    except StoreError as error:
        fail(str(error))
    try:
        if context:
            text = await retriever.retrieve_and_format(question, top_k=top_k, mode=mode)
            _print_context(text, {**asked, "context": text} if as_json else None)
            return
        results = await retriever.retrieve(question, top_k=top_k, mode=mode)
    finally:
        await retriever.vector_store.aclose()
    if as_json:
        found = [
            {
                "rank": rank,
                "score": result.score,
                "source": result.source_id,
                "id": result.id,
                "text": result.text,
                "metadata": dict(result.metadata),
            }
            for rank, result in enumerate(results, start=1)
        ]
        _print_json({**asked, "results": found})
        return
    rows = [
        (str(rank), f"{result.score:.3f}", result.source_id, " ".join(result.text.split()))
        for rank, result in enumerate(results, start=1)
    ]
    if not sys.stdout.isatty():
        for row in rows:
            sys.stdout.write("\t".join(" ".join(cell.split()) for cell in row) + "\n")
        return
    table = Table(title=escape(f"{mode.value} search: {question}"))
    for column in ("#", "score", "source", "text"):
        table.add_column(column)
    for rank, score, source, text in rows:
        table.add_row(rank, score, escape(source), escape(text[:160]))
    Console().print(table)


def _print_context(text: str, payload: dict[str, Any] | None) -> None:
    """`--context`: the formatted context exactly (soft-wrapped on a terminal), or JSON."""
    if payload is not None:
        _print_json(payload)
    elif sys.stdout.isatty():
        Console().print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def _notice(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@rag_app.command("ingest")
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders (text, Markdown, code)."),
    store_dir: Path = typer.Option(DEFAULT_STORE_DIR, help="Where the store is kept."),
    chunk_size: int | None = typer.Option(
        None,
        help="Chunk size in the embedding model's tokens [default: all it reads, 254 for "
        "all-MiniLM-L6-v2].",
    ),
    overlap: int | None = typer.Option(
        None, help="Overlap between chunks in tokens [default: an eighth of a chunk, at most 64]."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Chunk, embed (locally) and store files; unchanged files are skipped.

    Progress goes to stderr. Finished files are committed as it goes; Ctrl-C (or SIGTERM)
    stops after the current batch, keeps what finished and exits with 130 (143); running
    the same command again resumes. A second Ctrl-C quits at once.
    """
    quiet_model_loading()
    stop = StopRequest()
    with one_line_errors(), stop_on_signals(stop, signal_safe_notice, quit_now=exit_now):
        IngestOptions(chunk_size=chunk_size, chunk_overlap=overlap)  # refused before work
        result = run_detached(_ingest(paths, store_dir, chunk_size, overlap, as_json, stop))
    if result.stopped:
        _notice(
            f"Interrupted ({stop.signal_name}): {result.added} finished file(s) "
            f"({result.chunks} chunks) committed in {store_dir}, {result.remaining} left; "
            "run the same command again to resume."
        )
        if result.abandoned:  # an encode still runs in a worker thread: do not wait for it
            exit_now(stop.exit_code)
        raise typer.Exit(stop.exit_code)


@rag_app.command("query")
def query(
    question: str = typer.Argument(..., help="What to search for."),
    store_dir: Path = typer.Option(DEFAULT_STORE_DIR, help="Where the store is kept."),
    top_k: int = typer.Option(5, help="How many chunks to return."),
    mode: SearchMode = typer.Option(SearchMode.HYBRID, help="vector, bm25 or hybrid."),
    context: bool = typer.Option(False, help="Print the formatted context for a prompt."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Search what `ingest` stored: a table of chunks, or the prompt-ready context.

    In a pipe: one chunk a line, tab-separated: rank, score, source, text (whitespace
    collapsed); `--context` prints the context exactly.
    """
    with one_line_errors():
        if top_k < 1:
            fail(f"--top-k must be at least 1, got {top_k}.")
        asyncio.run(_query(question, store_dir, top_k, mode, context, as_json))


rag_app.command("eval")(eval_command)
