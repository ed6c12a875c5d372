"""Notifications off the scheduler's thread: ``Notifier.submit`` returns at once, each schedule's
notifications go out in order on a thread of that schedule's own (a slow or broken receiver of one schedule
delays neither its next scan nor another schedule's messages), and ``close`` ends the waits between retries
so a shutdown is not held up by backoff.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

from auditor.notify.after_scan import notify_scan
from auditor.notify.config import NotifyTarget
from auditor.notify.ledger import WaiverLedger
from auditor.notify.send import DeliveryOptions, DeliveryReport
from auditor.store.store import Store
from auditor.waivers import EXPIRING_DAYS, WaiverFile

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def ledger_path(state_dir: str | Path, schedule: str) -> Path:
    """``STATE_DIR/notify-<schedule>-<hash>.json``: a file name safe for any schedule name, one per name."""
    digest = hashlib.sha256(schedule.encode()).hexdigest()[:8]
    return Path(state_dir) / f"notify-{_UNSAFE.sub('_', schedule)[:40]}-{digest}.json"


class Notifier:
    """One per server. ``state_dir`` None: waiver notices are remembered in memory only (until a restart)."""

    def __init__(self, state_dir: str | Path | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: dict[str, ThreadPoolExecutor] = {}
        self._ledgers: dict[str, WaiverLedger] = {}

    def ledger(self, schedule: str) -> WaiverLedger:
        with self._lock:
            if schedule not in self._ledgers:
                path = ledger_path(self.state_dir, schedule) if self.state_dir is not None else None
                self._ledgers[schedule] = WaiverLedger(path)
            return self._ledgers[schedule]

    def submit(self, store: Store, run_id: str, targets: Sequence[NotifyTarget], *, schedule: str,
               previous_run_id: str | None, waivers: WaiverFile | None = None, today: date | None = None,
               waiver_days: int = EXPIRING_DAYS, link: str | None = None) -> Future[DeliveryReport]:
        """``notify_scan`` on the schedule's notification thread; the future's result never is an exception."""
        ledger = self.ledger(schedule)
        options = DeliveryOptions(link=link, stop=self.stop)
        with self._lock:
            if self.stop.is_set():
                done: Future[DeliveryReport] = Future()
                done.set_result(DeliveryReport())
                return done
            pool = self._threads.get(schedule)
            if pool is None:
                pool = self._threads[schedule] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auditor-notify")
            return pool.submit(notify_scan, store, run_id, list(targets), schedule=schedule,
                               previous_run_id=previous_run_id, waivers=waivers, ledger=ledger, today=today,
                               waiver_days=waiver_days, options=options)

    def close(self, *, wait: bool = True) -> None:
        """Stop: no new submissions, the waits between retries end now (a try under way runs to its timeout);
        ``wait``: return when every notification thread has finished."""
        self.stop.set()
        with self._lock:
            pools = list(self._threads.values())
        for pool in pools:
            pool.shutdown(wait=wait)
