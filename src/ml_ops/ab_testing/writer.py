"""The buffer between tracking and the store: results never wait for a database.

`track_result`, `observe` (the record bus) and exposures add their totals to an
in-memory buffer keyed by (experiment, variant, period), merged on arrival, so memory is
bounded by the number of keys, not of results. A daemon thread (`devora-ab-flush`) writes
the buffer to the store every `flush_interval` seconds in one transaction; so do reads
(summaries, decisions), `flush()` and `close()`. When `max_pending` results have piled up
the adding thread flushes itself, which bounds what a crash can lose.

A failed flush puts its batch back and is retried at the next one: counts are neither
lost nor doubled by a store that is briefly down. (If a commit succeeds but its answer is
lost on the network, the retry counts the batch twice; PostgreSQL makes that rare.)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ai.errors import StoreError
from ml_ops.ab_testing.stores.base import ExperimentStore, TotalsKey
from ml_ops.ab_testing.totals import VariantTotals

logger = logging.getLogger(__name__)

FlushHook = Callable[[set[str]], None]


class ResultWriter:
    """Buffered, batched writes of totals to an `ExperimentStore` (see module docstring).

    `after_flush(names)` is called by the background thread after it wrote totals of the
    experiments `names` (the tester checks them for a winner there).
    """

    def __init__(
        self,
        store: ExperimentStore,
        *,
        flush_interval: float | None = 1.0,
        max_pending: int = 10_000,
        after_flush: FlushHook | None = None,
    ) -> None:
        self._store = store
        self._interval = flush_interval
        self._max_pending = max_pending
        self._after_flush = after_flush
        self._pending: dict[TotalsKey, VariantTotals] = {}
        self._count = 0
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Results and exposures added since the last successful flush."""
        with self._lock:
            return self._count

    def add(self, key: TotalsKey, delta: VariantTotals) -> None:
        """Buffer `delta` for `key`; flushes in this thread when the buffer is full."""
        with self._lock:
            if self._closed:
                raise StoreError("the A/B tester is closed; create a new ABTester")
            stored = self._pending.get(key)
            if stored is None:
                self._pending[key] = delta
            else:
                stored.merge(delta)
            self._count += 1
            full = self._count >= self._max_pending
            if self._thread is None and self._interval is not None:
                self._start()
        if full:
            self.flush()

    def flush(self) -> set[str]:
        """Write everything buffered, in one transaction; returns the experiments written.
        On failure the batch goes back into the buffer and the `StoreError` is raised."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
                count, self._count = self._count, 0
            if not batch:
                return set()
            try:
                self._store.add_totals(batch)
            except BaseException:
                self._put_back(batch, count)
                raise
        return {experiment for experiment, _, _ in batch}

    def close(self) -> None:
        """Stop the thread and flush what is left. Idempotent."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.flush()

    def _put_back(self, batch: dict[TotalsKey, VariantTotals], count: int) -> None:
        with self._lock:
            for key, delta in batch.items():
                newer = self._pending.get(key)
                if newer is not None:
                    delta.merge(newer)
                self._pending[key] = delta
            self._count += count

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="devora-ab-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._interval is not None
        while not self._stop.wait(self._interval):
            try:
                written = self.flush()
            except Exception:
                logger.warning("A/B results could not be written; retrying", exc_info=True)
                continue
            if written and self._after_flush is not None:
                try:
                    self._after_flush(written)
                except Exception:
                    logger.exception("A/B evaluation after a flush failed")
