"""The writer's overflow: records it could not keep in memory, as JSON lines on disk.

A `SpillDirectory` holds append-only segments, `<pid>-<random>.jsonl`, one line per record
(`codec.spill_line`). Each writer appends to a segment of its own, which it holds under an
exclusive `flock` while it is open; each write is one `os.write` of whole lines to an
`O_APPEND` descriptor, so what was written survives the process being killed (it is in
the operating system's cache) and a crash can leave at most one partial last line, which
replay skips.

Replay reads the segments nobody holds: this writer's own after it has closed them
(`rotate`), and those left by processes that died or closed before replaying. A segment
is created under a `.tmp` name, locked, then renamed, so no replayer ever sees one that is
not locked yet. Replaying a segment twice (two processes at once) is harmless: `append`
skips request_ids already stored. A segment is deleted only after all its records were
written.

File locks are POSIX `flock`; where there is none (Windows), a segment counts as free once
its owner closed it or died, which this process cannot tell apart: run one writer per
spill folder there.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from ai.core.records import RequestRecord
from ml_ops.store.codec import from_spill_line, spill_line

logger = logging.getLogger(__name__)

SUFFIX = ".jsonl"

if sys.platform != "win32":
    import fcntl

    def _lock(fd: int, *, wait: bool) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

else:  # pragma: no cover - no flock on Windows

    def _lock(fd: int, *, wait: bool) -> bool:
        return True


class SpillDirectory:
    """Segments of spilled records in `directory` (created on first spill).

    Not thread-safe by itself: the writer calls it under its own lock.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._fd: int | None = None
        self._path: Path | None = None
        self.unreadable_lines = 0

    def __repr__(self) -> str:
        return f"SpillDirectory({str(self.directory)!r})"

    def append(self, records: Sequence[RequestRecord]) -> None:
        """Append `records` to this process's open segment (opened on first use).
        Raises `OSError` when the disk refuses."""
        if not records:
            return
        data = "".join(spill_line(r) + "\n" for r in records).encode("utf-8")
        fd = self._open()
        view = memoryview(data)
        while view:  # one write in practice; loop for the rare short write
            written = os.write(fd, view)
            view = view[written:]

    def rotate(self) -> None:
        """Close this process's segment so that it can be replayed; the next spill starts
        a new one."""
        fd, self._fd, self._path = self._fd, None, None
        if fd is not None:
            os.close(fd)  # releases the flock

    def claimable(self) -> list[Path]:
        """Segments no live writer holds, oldest first (own open segment excluded)."""
        try:
            candidates = sorted(
                (p for p in self.directory.glob("*" + SUFFIX) if p != self._path),
                key=_mtime,
            )
        except OSError:
            return []
        free = []
        for path in candidates:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # replayed and removed by another process just now
            try:
                if _lock(fd, wait=False):
                    free.append(path)
            finally:
                os.close(fd)  # the lock goes with it; the owner never reopens a segment
        return free

    def read(self, path: Path, batch_size: int) -> Iterator[list[RequestRecord]]:
        """The records of segment `path` in batches; damaged lines are logged and skipped."""
        batch: list[RequestRecord] = []
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    batch.append(from_spill_line(line))
                except (ValueError, KeyError, TypeError) as exc:
                    self.unreadable_lines += 1
                    logger.warning(
                        "skipping damaged line %d of spill file %s: %s", number, path, exc
                    )
                    continue
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def discard(self, path: Path) -> None:
        """Remove a segment whose records are all stored."""
        path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close this process's segment (its records stay for a later replay)."""
        self.rotate()

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        temporary = self.directory / (name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        try:
            _lock(fd, wait=True)  # new file: nobody else can hold it
            final = self.directory / (name + SUFFIX)
            os.replace(temporary, final)
        except BaseException:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        self._fd, self._path = fd, final
        return fd


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
