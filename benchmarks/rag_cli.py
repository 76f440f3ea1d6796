"""Cold `devora rag query`: a new process per query, as a user at a shell runs it.

    .venv/bin/python benchmarks/rag_cli.py                       # this tree, 9 runs
    git archive HEAD src | tar -x -C /tmp/base                   # a baseline tree
    .venv/bin/python benchmarks/rag_cli.py --baseline /tmp/base  # all three, interleaved

Contenders: this tree; this tree with its numpy query encoder switched off, so torch
embeds the query as before (a `sitecustomize` on `PYTHONPATH` makes `load_numpy_encoder`
return None: the only difference is the encoder); and optionally another source tree run
with the same Python through `PYTHONPATH`. Each source first ingests the corpus (default:
this repository's `docs/`) into a temporary store with its own code, so each reads the
layout it writes; contenders of one source get copies of it. Then each run times every
contender once, in rotating order, so load bursts on a shared machine hit all alike:
`python -m ai.cli rag query QUESTION --mode vector`, wall clock from start to exit. Every
run asks a question no run asked before, so the store's embedding cache never answers
it: the query is embedded cold, as a new question is. Reported per contender: median,
min-max, and the 1-minute load average seen over the runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = (
    "how does the cache handle a dead Redis",
    "what does a circuit breaker do when a provider fails",
    "how are prices of a call computed",
    "which vector stores support metadata filters",
    "how is a long document split into chunks",
    "what happens when a stream is cut at the deadline",
    "how do I run the fake OpenAI server",
    "what is reciprocal rank fusion",
    "how are embeddings cached on disk",
)
TORCH_ONLY = """\
import ai.rag.embedding_backends.local as local

local.load_numpy_encoder = lambda model, device: None  # every query goes to torch
"""


@dataclass(frozen=True)
class Contender:
    """A source tree (holding src/), and a folder put first on PYTHONPATH, if any."""

    source: Path
    shim: Path | None = None

    def command(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """`python -m ai.cli args...` importing `ai` from this contender's tree."""
        path = [str(self.shim)] if self.shim else []
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([*path, str(self.source / "src")]),
            "HF_HUB_OFFLINE": "1",
        }
        return [sys.executable, "-m", "ai.cli", *args], env

    def ingest(self, corpus: list[Path], store: Path) -> float:
        """Build this contender's store; returns the seconds it took."""
        argv, env = self.command("rag", "ingest", *map(str, corpus), "--store-dir", str(store))
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        return time.perf_counter() - started

    def query(self, store: Path, question: str, mode: str) -> float:
        """Seconds one cold `devora rag query` takes, process start to exit."""
        argv, env = self.command(
            "rag", "query", question, "--store-dir", str(store), "--mode", mode
        )
        started = time.perf_counter()
        result = subprocess.run(argv, env=env, check=False, capture_output=True)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"query failed ({self}): {result.stderr.decode()[-2000:]}")
        return elapsed


def build_stores(
    contenders: dict[str, Contender], corpus: list[Path], scratch: Path
) -> dict[str, Path]:
    """One store per contender: ingested once per source tree, copied for the others."""
    stores: dict[str, Path] = {}
    built: dict[Path, Path] = {}
    for number, (name, contender) in enumerate(contenders.items()):
        stores[name] = scratch / f"store-{number}"
        if contender.source in built:
            shutil.copytree(built[contender.source], stores[name])
            continue
        seconds = contender.ingest(corpus, stores[name])
        built[contender.source] = stores[name]
        print(f"{contender.source}: ingested {', '.join(map(str, corpus))} in {seconds:.1f}s")
    return stores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="queries per contender")
    parser.add_argument("--mode", default="vector", choices=("vector", "bm25", "hybrid"))
    parser.add_argument("--corpus", type=Path, nargs="+", default=[ROOT / "docs"])
    parser.add_argument("--baseline", type=Path, help="another source tree (holding src/)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-cli-bench-") as folder:
        scratch = Path(folder)
        (scratch / "torch-only").mkdir()
        (scratch / "torch-only" / "sitecustomize.py").write_text(TORCH_ONLY)
        contenders = {
            "this tree": Contender(ROOT),
            "this tree, torch encoder": Contender(ROOT, scratch / "torch-only"),
        }
        if args.baseline:
            contenders["baseline"] = Contender(args.baseline.resolve())
        stores = build_stores(contenders, args.corpus, scratch)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        loads: list[float] = []
        names = list(contenders)
        for run in range(args.runs):
            question = f"{QUESTIONS[run % len(QUESTIONS)]} (run {run})"
            for name in names[run % len(names) :] + names[: run % len(names)]:
                loads.append(os.getloadavg()[0])
                times[name].append(contenders[name].query(stores[name], question, args.mode))
        loads.append(os.getloadavg()[0])
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {args.runs} cold `rag query --mode "
        f"{args.mode}` runs each; load average (1 min) {min(loads):.2f}-{max(loads):.2f}"
    )
    print("| contender | median | min-max |\n|---|---:|---:|")
    for name, values in times.items():
        spread = f"{min(values):.2f}-{max(values):.2f} s"
        print(f"| {name} | {statistics.median(values):.2f} s | {spread} |")


if __name__ == "__main__":
    main()
