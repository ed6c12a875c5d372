"""Record hosts as they finish without slowing the audit: a thread that commits small batches.

``record()`` only queues the result (microseconds, on the event loop). The writer thread (started by the
first ``record()``, see ``start``) turns queued
hosts into rows (scrub, bounds, digests) and commits them together, at most every ``interval`` seconds
or ``max_batch`` hosts, so a fleet finishing 200 hosts/s costs about five short transactions a second. It
also beats the run's heartbeat. A crash loses at most the batch not yet committed; ``--resume`` audits
those hosts again. A failing store never stops the audit: a batch is retried with back-off, and what
still could not be written is counted and raised by ``close()``.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from auditor.errors import AuditorError
from auditor.results import HostResult
from auditor.store.engine import StoreError
from auditor.store.models import RunRecord, RunState
from auditor.store.rows import HostRows
from auditor.store.store import Store

_FLUSH = object()
_STOP = object()


@dataclass
class WriterStats:
    recorded: int = 0      # hosts committed
    failed: int = 0        # hosts that could not be committed after every retry
    batches: int = 0
    busy_s: float = 0.0    # time the thread spent preparing rows and committing
    last_error: str | None = None


class StoreWriter:
    """Batching recorder for one run; use as a context manager or call ``close()``."""

    def __init__(self, store: Store, run_id: str, *, interval: float = 0.2, max_batch: int = 500,
                 heartbeat_every: float = 10.0, retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)) -> None:
        self.store = store
        self.run_id = run_id
        self.interval = interval
        self.max_batch = max_batch
        self.heartbeat_every = heartbeat_every
        self.retry_delays = retry_delays
        self.stats = WriterStats()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._queued = 0
        self._done = 0  # hosts committed or given up on
        self._progress = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Start the thread (and the heartbeat) now; otherwise the first ``record()`` starts it.

        Starting late is deliberate: ``auditor.workers`` forks its worker processes only while the
        process has a single thread, and forks them before the first host finishes."""
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"auditor-store-{self.run_id}", daemon=True)
                self._thread.start()

    # --- the caller's side -------------------------------------------------------------------------

    def record(self, host: HostResult) -> None:
        """Queue a finished host; returns at once."""
        if self._closed:
            raise RuntimeError("the store writer is closed")
        self.start()
        with self._progress:
            self._queued += 1
        self._queue.put(host)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every host queued so far is committed (or given up on); False on timeout."""
        self.start()
        with self._progress:
            target = self._queued
        self._queue.put(_FLUSH)
        with self._progress:
            return self._progress.wait_for(lambda: self._done >= target, timeout)

    def close(self, state: RunState | None = None, *, finish: bool = True) -> RunRecord | None:
        """Commit what is queued, stop the thread, and (``finish``) end the run in ``state``
        (None: complete when every planned host is recorded, else incomplete).
        Raises StoreError when some hosts could not be stored (they are what a resume re-audits)."""
        if not self._closed:
            self._closed = True
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread.join()
        record = None
        if finish:
            record = self.store.finish_run(self.run_id, state)
        if self.stats.failed:
            raise StoreError(f"{self.stats.failed} host results of run {self.run_id} could not be stored "
                             f"({self.stats.last_error}); `auditor run --resume {self.run_id}` audits them again",
                             self.store.where)
        return record

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        interrupted = exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, SystemExit))
        if exc_type is None or interrupted:
            self.close(RunState.interrupted if interrupted else None)
        else:  # the caller failed: keep what was recorded, say the run did not finish
            try:
                self.close(RunState.interrupted)
            except AuditorError:
                pass

    # --- the thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_every
        stopping = False
        while not stopping:
            batch: list[HostResult] = []
            try:
                item = self._queue.get(timeout=max(0.0, next_beat - time.monotonic()))
            except queue.Empty:
                item = None
            deadline = time.monotonic() + self.interval
            while item is not None:
                if item is _STOP:
                    stopping = True
                    break
                if item is _FLUSH:
                    break
                batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    item = None
            beat = time.monotonic() >= next_beat
            if batch or beat:
                self._commit(batch, beat)
                if beat:
                    next_beat = time.monotonic() + self.heartbeat_every
            if stopping:  # anything queued behind the stop marker (record() raced close()) still goes in
                rest = []
                while True:
                    try:
                        extra = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(extra, HostResult):
                        rest.append(extra)
                if rest:
                    self._commit(rest, False)

    def _commit(self, batch: list[HostResult], beat: bool) -> None:
        t0 = time.perf_counter()
        prepared: list[HostRows] = []
        unserialisable = 0
        for host in batch:
            try:
                prepared.append(self.store.host_rows(self.run_id, host))
            except Exception as exc:  # noqa: BLE001 - one host the store cannot serialise must not stop the others
                unserialisable += 1
                self.stats.last_error = f"{host.name}: {type(exc).__name__}: {exc}"
        error: str | None = None
        for delay in (*self.retry_delays, None):
            try:
                self.store.write_rows(self.run_id, prepared, heartbeat=True)
                error = None
                break
            except Exception as exc:  # noqa: BLE001 - retried, then counted and reported by close()
                error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if delay is None:
                    break
                time.sleep(delay)  # back-off before the next attempt, not synchronisation
        self.stats.busy_s += time.perf_counter() - t0
        self.stats.batches += 1 if batch else 0
        lost = unserialisable + (len(prepared) if error is not None else 0)
        self.stats.recorded += len(batch) - lost
        self.stats.failed += lost
        if error is not None:
            self.stats.last_error = error
        with self._progress:
            self._done += len(batch)
            self._progress.notify_all()
