"""`RecordWriter`: records from the bus into an event store, off the call path.

A call emits its `RequestRecord` on the `RecordBus`; the writer's `submit` (a plain,
synchronous subscriber) puts it in a memory buffer and returns: it never waits for the
database and never raises. A background task writes the buffer in batches every
`flush_interval` seconds, or as soon as `batch_size` records are waiting.

What it guarantees:

- Killed outright (SIGKILL, power loss of the process), a process loses at most the
  records accepted since its last flush began: one `flush_interval` of traffic.
- When the buffer holds `max_buffer` records, more are not dropped: they go to an
  append-only spill file (`ml_ops.store.spill`) next to the store and are written from
  there on a later flush, or by the next writer that starts on that folder.
- When the store fails, the batch stays queued and the writer waits `BackoffPolicy`
  (0.5 s doubling up to 30 s, measured on its clock) before trying again; meanwhile the
  buffer fills, then the spill file. Nothing accepted is lost while the disk holds.
- `aclose()` writes what is left, spilling it if the store still fails; at interpreter
  exit a handler does the same without an event loop, within `exit_timeout` seconds
  (SQLite through its blocking append, others through the spill file).
- Retention (`RetentionPolicy`, 30 days of raw records by default) runs from the
  background task at most once per `every_seconds` (an hour) on the writer's clock.

`stats` counts all of it. The store may see a record twice (a batch retried after a
time-out, a spill file replayed twice); `append` is idempotent by request_id, so it is
stored once.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ai.core.clock import Clock, SystemClock
from ai.core.lifecycle import AsyncClosing
from ai.core.records import RecordBus, RequestRecord
from ai.errors import ConfigurationError, StoreError
from ml_ops.store.base import EventStore
from ml_ops.store.policies import BackoffPolicy, RetentionPolicy
from ml_ops.store.spill import SpillDirectory

logger = logging.getLogger(__name__)

DEFAULT_SPILL_DIR = Path(".devora") / "spill" / "default"


@runtime_checkable
class BlockingAppend(Protocol):
    """A store that can append without an event loop (used at interpreter exit)."""

    def append_blocking(self, records: Sequence[RequestRecord]) -> int: ...


@dataclass(frozen=True, slots=True)
class WriterStats:
    """What a `RecordWriter` has done so far.

    `submitted`: records accepted; `written`: records the store acknowledged (replayed
    spill files included); `spilled`: records that went to a spill file; `replayed`:
    records written back from spill files; `retried`: failed writes that will be tried
    again; `pending`: accepted records not written yet (in memory or in this writer's
    spill files); `lost`: records neither buffered nor spilled (the disk refused);
    `last_error`: the last store or disk error, if any.
    """

    submitted: int
    written: int
    spilled: int
    replayed: int
    retried: int
    pending: int
    lost: int
    last_error: str | None


class RecordWriter(AsyncClosing):
    """Buffers records and writes them to `store` in batches in the background.

    `writer.attach(bus)` subscribes `submit`; the background task starts with the first
    record submitted inside a running event loop (or with `flush()`). One writer works on
    one event loop at a time. `clock` (monotonic time for intervals and backoff, wall time
    for retention) defaults to the system clock. `spill_dir` defaults to the store's
    `spill_dir` (SQLite: next to the file) or `.devora/spill/default`.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        flush_interval: float = 1.0,
        max_buffer: int = 10_000,
        clock: Clock | None = None,
        batch_size: int = 1000,
        spill_dir: str | Path | None = None,
        retention: RetentionPolicy | None = RetentionPolicy(),  # noqa: B008 - frozen
        backoff: BackoffPolicy = BackoffPolicy(),  # noqa: B008 - frozen
        exit_timeout: float = 5.0,
    ) -> None:
        _check_settings(flush_interval, max_buffer, batch_size, exit_timeout)
        self._store = store
        self._clock: Clock = clock or SystemClock()
        self._interval = float(flush_interval)
        self._max_buffer = max_buffer
        self._batch_size = min(batch_size, max_buffer)
        self._retention = retention
        self._backoff = backoff
        self._exit_timeout = exit_timeout
        default_dir = getattr(store, "spill_dir", None) or DEFAULT_SPILL_DIR
        self._spill = SpillDirectory(spill_dir if spill_dir is not None else default_dir)
        self._lock = threading.Lock()  # buffer, spill file and counters
        self._buffer: deque[RequestRecord] = deque()
        self._inflight: list[RequestRecord] = []
        self._counts = dict.fromkeys(
            ("submitted", "written", "spilled", "replayed", "retried", "lost"), 0
        )
        self._spill_open = 0  # records in this writer's open spill segment
        self._spill_closed = 0  # records in its closed segments, not replayed yet
        self._last_error: str | None = None
        self._failures = 0
        self._retry_at: float | None = None
        self._next_flush_at = 0.0
        self._next_retention_at: float | None = None  # None: at the first regular step
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._write_lock: asyncio.Lock | None = None
        self._detach: list[Callable[[], None]] = []
        self._closing = False
        self._closed = False
        atexit.register(self._flush_at_exit)

    def __repr__(self) -> str:
        return f"RecordWriter({self._store!r}, flush_interval={self._interval})"

    # --- the call path ----------------------------------------------------------------

    def attach(self, bus: RecordBus) -> Callable[[], None]:
        """Subscribe `submit` to `bus`; returns the unsubscribe function (`aclose` calls it)."""
        unsubscribe = bus.subscribe(self.submit)
        self._detach.append(unsubscribe)
        return unsubscribe

    def submit(self, record: RequestRecord) -> None:
        """Accept `record` for writing. Never blocks on the database, never raises."""
        try:
            with self._lock:
                self._counts["submitted"] += 1
                if self._closing or len(self._buffer) >= self._max_buffer:
                    self._spill_locked([record])
                    if self._closed:  # nobody will replay it here: leave it to the next
                        self._spill.rotate()
                    return
                self._buffer.append(record)
                batch_full = len(self._buffer) == self._batch_size
            self._ensure_started()
            if batch_full:
                self._notify()
        except Exception:  # the call path must not fail because of bookkeeping
            logger.exception("RecordWriter.submit failed; record %s", record.request_id)

    @property
    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        with self._lock:
            pending = (
                len(self._buffer) + len(self._inflight) + self._spill_open + self._spill_closed
            )
            return WriterStats(**self._counts, pending=pending, last_error=self._last_error)

    # --- explicit flush and close --------------------------------------------------------

    async def flush(self) -> None:
        """Write everything accepted so far, then any spill files, now (a backoff wait is
        skipped). Raises `StoreError` when the store refuses; the records stay queued and
        the background task keeps retrying."""
        self._ensure_started()
        if not await self._write_all():
            raise StoreError(
                f"RecordWriter could not write to {self._store!r}: {self._last_error}. "
                f"{self.stats.pending} records are kept and retried in the background."
            )

    async def aclose(self) -> None:
        """Stop the background task, write what is left (spilling it if the store still
        fails), detach from buses. The store stays open. Idempotent."""
        if self._closed:
            return
        self._closing = True
        for unsubscribe in self._detach:
            unsubscribe()
        task = self._task
        if task is not None and not task.done() and self._loop is _running_loop():
            self._notify()
            await task
        self._ensure_loop_state()
        if not await self._write_all():
            with self._lock:
                self._spill_locked(self._take_all_locked())
        with self._lock:
            self._spill.close()
            self._closed = True
        atexit.unregister(self._flush_at_exit)

    # --- background task -----------------------------------------------------------------

    def _ensure_started(self) -> None:
        loop = _running_loop()
        if loop is None or self._closing:
            return
        if self._task is None or self._task.done() or self._loop is not loop:
            self._ensure_loop_state()
            now = self._clock.monotonic()
            # Start: replay what earlier writers left at once, else wait one interval.
            self._next_flush_at = now if self._spill.claimable() else now + self._interval
            self._task = loop.create_task(self._run(), name="devora-record-writer")

    def _ensure_loop_state(self) -> None:
        loop = _running_loop()
        if loop is not None and loop is not self._loop:
            self._loop, self._loop_thread = loop, threading.get_ident()
            self._wake, self._write_lock = asyncio.Event(), asyncio.Lock()

    def _notify(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    async def _run(self) -> None:
        while not self._closing:
            await self._wait()
            if self._closing:
                return
            try:
                await self._step()
            except Exception:  # a bug must not stop the writer for good
                logger.exception("RecordWriter step failed; retrying on the next interval")

    async def _wait(self) -> None:
        """Until the next step is due on the clock, or `_notify` wakes the writer."""
        wake = self._wake
        assert wake is not None
        if not wake.is_set():
            sleeper = asyncio.ensure_future(self._sleep_until_due())
            waiter = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waiter.cancel()
        wake.clear()

    async def _sleep_until_due(self) -> None:
        # The delay is read when this task starts, so the clock cannot move in between.
        await self._clock.sleep(self._seconds_to_next_step())

    def _seconds_to_next_step(self) -> float:
        if self._retry_at is not None:  # backing off: nothing before the retry time
            target = self._retry_at
        else:
            target = self._next_flush_at
            if self._retention is not None and self._next_retention_at is not None:
                target = min(target, self._next_retention_at)
        return max(0.0, target - self._clock.monotonic())

    async def _step(self) -> None:
        """One background turn: flush when due (or a batch is full, or a retry is due),
        then retention when due."""
        now = self._clock.monotonic()
        if self._retry_at is not None and now < self._retry_at:
            return
        if (
            self._retry_at is not None
            or now >= self._next_flush_at
            or len(self._buffer) >= self._batch_size
        ):
            self._next_flush_at = now + self._interval
            if not await self._write_all():
                return
        await self._retain_if_due()

    async def _retain_if_due(self) -> None:
        policy, now = self._retention, self._clock.monotonic()
        if policy is None or (
            self._next_retention_at is not None and now < self._next_retention_at
        ):
            return
        self._next_retention_at = now + policy.every_seconds
        cutoff = policy.keep_raw_until(self._clock.now())
        try:
            report = await self._store.apply_retention(keep_raw_until=cutoff)
        except Exception as exc:
            self._last_error = _describe(exc)
            logger.warning(
                "event store retention failed (next try in %ss): %s", policy.every_seconds, exc
            )
            return
        if report.pruned:
            logger.info("event store retention: %s", report)

    # --- writing -------------------------------------------------------------------------

    async def _write_all(self) -> bool:
        """The buffer in batches, then the spill files; False at the first failure."""
        self._ensure_loop_state()
        lock = self._write_lock
        assert lock is not None
        async with lock:
            return await self._write_buffer() and await self._replay_spill()

    async def _write_buffer(self) -> bool:
        while True:
            with self._lock:
                count = min(self._batch_size, len(self._buffer))
                batch = [self._buffer.popleft() for _ in range(count)]
                self._inflight = batch
            if not batch:
                return True
            try:
                await self._store.append(batch)
            except BaseException as exc:
                with self._lock:  # back to the front, in order
                    self._buffer.extendleft(reversed(batch))
                    self._inflight = []
                if not isinstance(exc, Exception):
                    raise  # cancelled: the records stay for aclose or the exit handler
                self._failed(exc)
                return False
            with self._lock:
                self._inflight = []
                self._counts["written"] += len(batch)
            self._succeeded()

    async def _replay_spill(self) -> bool:
        """Write the spill segments nobody holds (this writer's closed ones included)."""
        with self._lock:
            self._spill.rotate()
            self._spill_closed += self._spill_open
            self._spill_open = 0
        for path in self._spill.claimable():
            try:
                for batch in self._spill.read(path, self._batch_size):
                    await self._store.append(batch)
                    with self._lock:
                        self._counts["written"] += len(batch)
                        self._counts["replayed"] += len(batch)
                    self._succeeded()
            except FileNotFoundError:
                continue  # another process replayed it meanwhile
            except Exception as exc:  # the store refused (or the disk): keep the file
                self._failed(exc)
                return False
            self._spill.discard(path)
        with self._lock:
            self._spill_closed = 0
        return True

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        delay = self._backoff.delay(self._failures)
        self._retry_at = self._clock.monotonic() + delay
        with self._lock:
            self._counts["retried"] += 1
            self._last_error = _describe(exc)
        logger.warning(
            "event store write failed (%d in a row); retrying in %.1fs with %d records kept: %s",
            self._failures,
            delay,
            len(self._buffer) + self._spill_open + self._spill_closed,
            exc,
        )

    def _succeeded(self) -> None:
        self._failures = 0
        self._retry_at = None

    def _spill_locked(self, records: Sequence[RequestRecord]) -> None:
        """To the spill file (caller holds `_lock`); counted as lost if the disk refuses."""
        if not records:
            return
        try:
            self._spill.append(records)
        except OSError as exc:
            self._counts["lost"] += len(records)
            self._last_error = _describe(exc)
            logger.error("could not spill %d records to %s: %s", len(records), self._spill, exc)
            return
        self._counts["spilled"] += len(records)
        self._spill_open += len(records)

    def _take_all_locked(self) -> list[RequestRecord]:
        records = [*self._inflight, *self._buffer]
        self._inflight = []
        self._buffer.clear()
        return records

    # --- interpreter exit ----------------------------------------------------------------

    def _flush_at_exit(self) -> None:
        """atexit: write what is left without an event loop, within `exit_timeout`
        seconds; spill whatever that could not write."""
        if self._closed:
            return
        with self._lock:
            records = self._take_all_locked()
        if records and not self._append_blocking(records):
            with self._lock:
                self._spill_locked(records)
        with self._lock:
            self._spill.close()

    def _append_blocking(self, records: list[RequestRecord]) -> bool:
        store = self._store
        if not isinstance(store, BlockingAppend):
            return False
        done = threading.Event()

        def work() -> None:
            try:
                store.append_blocking(records)
            except Exception as exc:
                self._last_error = _describe(exc)
                logger.warning("event store write at exit failed; spilling: %s", exc)
                return
            with self._lock:
                self._counts["written"] += len(records)
            done.set()

        thread = threading.Thread(target=work, name="devora-record-writer-exit", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no new threads this late in shutdown
            return False
        thread.join(self._exit_timeout)
        return done.is_set()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _check_settings(
    flush_interval: float, max_buffer: int, batch_size: int, exit_timeout: float
) -> None:
    for name, value in (("flush_interval", flush_interval), ("exit_timeout", exit_timeout)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ConfigurationError(f"RecordWriter {name} must be > 0 seconds, got {value!r}")
    for name, count in (("max_buffer", max_buffer), ("batch_size", batch_size)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigurationError(f"RecordWriter {name} must be an integer >= 1, got {count!r}")
