"""``/metrics`` in Prometheus' text format: scans, their duration, skips, last success per schedule, and the
newest complete audit's hosts by verdict and outcome (read from the store at scrape time)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from auditor.serve.scans import COMPLETED_EXIT_CODES, ScanOutcome, Skip
from auditor.store import RunState, Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scan_result(outcome: ScanOutcome) -> str:
    """complete (the scan ran to its end, whatever it found), interrupted, or failed (bad input, crash)."""
    if outcome.exit_code in COMPLETED_EXIT_CODES:
        return "complete"
    return "interrupted" if outcome.exit_code == 99 else "failed"


class FleetCollector(Collector):
    """Hosts by headline verdict and by outcome in the newest complete audit run."""

    def __init__(self, store: Store):
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        verdicts = GaugeMetricFamily("auditor_fleet_hosts_by_verdict", "Hosts per headline verdict in the newest "
                                     "complete audit ('-': no verdict)", labels=["verdict"])
        statuses = GaugeMetricFamily("auditor_fleet_hosts_by_status", "Hosts per outcome in the newest complete audit",
                                     labels=["status"])
        latest = self.store.list_runs(1, kind="audit", state=RunState.complete)
        if latest:
            for verdict, n in sorted(latest[0].by_verdict.items()):
                verdicts.add_metric([verdict], n)
            for status, n in sorted(latest[0].by_status.items()):
                statuses.add_metric([status], n)
        yield verdicts
        yield statuses


class ServeMetrics:
    def __init__(self, store: Store, schedules: list[str]):
        self.registry = CollectorRegistry()
        self.scans = Counter("auditor_scans", "Scheduled and manual scans by result", ["schedule", "result"],
                             registry=self.registry)
        self.skipped = Counter("auditor_scans_skipped", "Scans not started: the previous one still ran (overlap) or "
                               "the start was missed", ["schedule", "reason"], registry=self.registry)
        self.duration = Histogram("auditor_scan_duration_seconds", "Wall time of a scan", ["schedule"],
                                  buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf")),
                                  registry=self.registry)
        self.last_success = Gauge("auditor_schedule_last_success_timestamp_seconds", "When a scan of the schedule last "
                                  "ran to its end (Unix time; 0: not since the server started)", ["schedule"],
                                  registry=self.registry)
        self.running = Gauge("auditor_scan_running", "1 while a scan of the schedule runs", ["schedule"],
                             registry=self.registry)
        for name in schedules:
            self.last_success.labels(name).set(0)
            self.running.labels(name).set(0)
        self.registry.register(FleetCollector(store))

    def started(self, schedule: str) -> None:
        self.running.labels(schedule).set(1)

    def finished(self, outcome: ScanOutcome) -> None:
        result = scan_result(outcome)
        self.running.labels(outcome.schedule).set(0)
        self.scans.labels(outcome.schedule, result).inc()
        if outcome.finished is not None:
            self.duration.labels(outcome.schedule).observe((outcome.finished - outcome.started).total_seconds())
            if result == "complete":
                self.last_success.labels(outcome.schedule).set(outcome.finished.timestamp())

    def skip(self, skip: Skip) -> None:
        self.skipped.labels(skip.schedule, skip.reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
