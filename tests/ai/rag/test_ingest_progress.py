"""Plain progress lines: when they are written, and the rate and ETA they show."""

from __future__ import annotations

import io

from ai.core.clock import FakeClock
from ai.rag.ingest_progress import (
    LineIngestProgress,
    RichIngestProgress,
    Stage,
    describe,
    progress_for,
)


def test_lines_at_start_first_work_every_interval_and_end() -> None:
    clock = FakeClock()
    lines: list[str] = []
    progress = LineIngestProgress(lines.append, clock=clock, interval_s=2.0)
    progress.start(Stage.EMBEDDING, 100)
    clock.advance(8.0)  # the model loads: no work done yet
    progress.advance(Stage.EMBEDDING, 10)
    for _ in range(4):  # 10 chunks a second from here on
        clock.advance(0.5)
        progress.advance(Stage.EMBEDDING, 5)
    clock.advance(1.0)
    progress.advance(Stage.EMBEDDING, 5)  # within 2 s of the last line: none
    clock.advance(1.0)
    progress.advance(Stage.EMBEDDING, 5)
    clock.advance(4.0)
    progress.finish(Stage.EMBEDDING)
    assert lines == [
        "embedding: 0/100 chunks (0%)",
        "embedding: 10/100 chunks (10%)",
        "embedding: 30/100 chunks (30%), 10.0 chunks/s, ETA 7.0s",
        "embedding: 40/100 chunks (40%), 7.5 chunks/s, ETA 8.0s",
        "embedding: 40/100 chunks in 16s",
    ]


def test_describe_formats_large_counts_and_long_etas() -> None:
    line = describe(Stage.READING, 1_500, 120_000, 12.5)
    assert line == "reading: 1,500/120,000 files (1%), 12.5 files/s, ETA 2h38m"
    assert describe(Stage.WRITING, 0, 0, None) == "writing: 0/0 files"


def test_a_pipe_gets_lines_and_a_terminal_gets_bars() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe = io.StringIO()
    plain = progress_for(pipe)
    assert isinstance(plain, LineIngestProgress)
    plain.start(Stage.READING, 2)
    assert pipe.getvalue() == "reading: 0/2 files (0%)\n"
    bars = progress_for(Terminal())
    try:
        assert isinstance(bars, RichIngestProgress)
        bars.start(Stage.READING, 2)
        bars.advance(Stage.READING)
        bars.finish(Stage.READING)
    finally:
        bars.close()
