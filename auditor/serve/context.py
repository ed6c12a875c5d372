"""What every request handler of ``auditor serve`` reads: the config, the store, the schedules, the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditor.serve.config import LoadedConfig
from auditor.serve.metrics import ServeMetrics
from auditor.serve.notifying import ScanNotifications
from auditor.serve.scans import ScanRunner
from auditor.serve.scheduler import Schedules
from auditor.store import Store


@dataclass
class ServeContext:
    config: LoadedConfig
    store: Store
    runner: ScanRunner
    schedules: Schedules
    metrics: ServeMetrics
    notifications: ScanNotifications

    def waiver_files(self) -> list[str]:
        return [self.config.resolve(s.waiver_file) for s in self.config.config.schedules if s.waiver_file]

    def report_folders(self) -> list[Path]:
        return [self.config.output_of(s) for s in self.config.config.schedules]
