"""After each scan: what changed since the schedule's previous complete scan, sent to the schedule's receivers
(``auditor.notify``), off the scheduler's thread; a receiver's trouble never reaches the scans."""

from __future__ import annotations

import logging
from typing import Optional

from auditor.errors import BadInputError
from auditor.notify import Notifier as Sender
from auditor.serve.config import LoadedConfig, Schedule, host_port
from auditor.serve.scans import ScanOutcome
from auditor.store import Store
from auditor.waivers import WaiverFile, load_waivers

log = logging.getLogger("auditor.serve")


class ScanNotifications:
    def __init__(self, store: Store, loaded: LoadedConfig):
        self.store = store
        self.loaded = loaded
        self.sender = Sender(loaded.state_dir)
        host, port = host_port(loaded.config.listen)
        self.base_url = f"http://{host}:{port}"

    def scan_finished(self, schedule: Schedule, outcome: ScanOutcome, previous_run_id: Optional[str]) -> None:
        targets = self.loaded.notify_targets(schedule)
        if not targets:
            return
        self.sender.submit(self.store, outcome.run_id, targets, schedule=schedule.name, previous_run_id=previous_run_id,
                           waivers=self._waivers(schedule), waiver_days=self.loaded.config.waiver_warning_days,
                           link=f"{self.base_url}/runs/{outcome.run_id}")

    def _waivers(self, schedule: Schedule) -> Optional[WaiverFile]:
        if not schedule.waiver_file:
            return None
        try:
            return load_waivers(self.loaded.resolve(schedule.waiver_file))
        except BadInputError as exc:  # the scan itself reported it (exit 4); no waiver notices this time
            log.warning("schedule %s: waiver notices skipped: %s", schedule.name, exc)
            return None

    def close(self) -> None:
        self.sender.close(wait=True)
