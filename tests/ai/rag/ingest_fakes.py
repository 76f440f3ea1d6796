"""Fakes for RAG tests: embedders with scripted behaviour or a given input limit, and a
recording progress."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ai.rag.chunk_limits import InputLimit
from ai.rag.ingest_progress import Stage
from ai.testing.embeddings import embed

DIMENSION = 8


def fake_vector(text: str) -> npt.NDArray[np.float32]:
    """A unit vector that depends only on the text."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


class ScriptedEmbedder:
    """Embeds with `fake_vector`; `on_call(n)` runs before the n-th call (1-based) answers,
    so a test can request a stop, raise, or block in a worker thread at a given batch."""

    model_id = "fake:hash-8"

    def __init__(self, on_call: Callable[[int], None] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.on_call = on_call
        self.blocking = False
        self.blocked = threading.Event()  # set when a call starts waiting for `release`
        self.release = threading.Event()

    @property
    def texts(self) -> list[str]:
        return [text for call in self.calls for text in call]

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        if self.on_call is not None:
            self.on_call(len(self.calls))
        if self.blocking:  # as a long encode in a worker thread
            self.blocked.set()
            await asyncio.to_thread(self.release.wait, 30)
        await asyncio.sleep(0)
        return np.stack([fake_vector(text) for text in texts])


class RecordingProgress:
    """Every progress event, as (event, stage, number)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Stage, int]] = []

    def start(self, stage: Stage, total: int) -> None:
        self.events.append(("start", stage, total))

    def advance(self, stage: Stage, amount: int = 1) -> None:
        self.events.append(("advance", stage, amount))

    def finish(self, stage: Stage) -> None:
        self.events.append(("finish", stage, 0))

    def close(self) -> None:
        self.events.append(("close", Stage.WRITING, 0))

    def total(self, stage: Stage) -> int:
        return next(n for event, s, n in self.events if event == "start" and s is stage)

    def done(self, stage: Stage) -> int:
        return sum(n for event, s, n in self.events if event == "advance" and s is stage)


def write_corpus(folder: Path, count: int, *, words: int = 40, prefix: str = "doc") -> list[Path]:
    """`count` Markdown files of distinct prose, `words` words each."""
    folder.mkdir(parents=True, exist_ok=True)
    topics = ("tides", "redis", "backoff", "gardens", "comets", "ledgers", "glaciers", "bees")
    paths = []
    for index in range(count):
        topic = topics[index % len(topics)]
        body = " ".join(f"{topic}{index}-{n}" if n % 7 == 0 else topic for n in range(words))
        path = folder / f"{prefix}{index:03d}.md"
        path.write_text(f"# {topic.title()} {index}\n\n{body}.\n", encoding="utf-8")
        paths.append(path)
    return paths


class LimitedEmbedder:
    """An embedder that reports a given model's input limit (and so its tokenizer), with
    hashed 16-d vectors: the vector list carries no meaning."""

    def __init__(self, limit: InputLimit) -> None:
        self.limit = limit

    def input_limit(self) -> InputLimit:
        return self.limit

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.asarray([embed(t, 16) for t in texts], dtype=np.float32)
