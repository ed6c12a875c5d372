"""After each scan: what changed since the schedule's previous complete scan, sent to the schedule's receivers."""

from __future__ import annotations

import logging

from auditor.serve.config import LoadedConfig
from auditor.serve.scans import ScanOutcome
from auditor.store import Store

log = logging.getLogger("auditor.serve")


class Notifier:
    def __init__(self, store: Store, loaded: LoadedConfig):
        self.store = store
        self.loaded = loaded

    def scan_finished(self, outcome: ScanOutcome) -> None:
        schedule = self.loaded.config.schedule(outcome.schedule)
        if not schedule.notify:
            return
