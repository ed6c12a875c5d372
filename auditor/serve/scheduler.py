"""The schedules on APScheduler 3.x: cron (5 fields, IANA time zone) or an interval, with jitter.

No overlap: a schedule's job has one instance at most, and the scan runner's own lock also covers scans started
by hand. No catch-up storm: jobs live in memory, so a restart computes the next start from now, and a start
delayed past ``MISFIRE_GRACE_SECONDS`` (the process was suspended or busy) is skipped and recorded, never run
late; several missed starts coalesce into none.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from auditor.serve.config import Schedule
from auditor.serve.scans import ScanRunner

log = logging.getLogger("auditor.serve")

MISFIRE_GRACE_SECONDS = 60


def trigger_of(schedule: Schedule) -> BaseTrigger:
    if schedule.cron is not None:
        minute, hour, day, month, day_of_week = schedule.cron.split()
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week,
                           timezone=ZoneInfo(schedule.timezone), jitter=schedule.jitter_seconds)
    assert schedule.interval is not None
    return IntervalTrigger(seconds=int(schedule.interval.total_seconds()), timezone=ZoneInfo(schedule.timezone),
                           jitter=schedule.jitter_seconds)


class Schedules:
    """Starts the runner's scans on time; ``run_now`` starts one by hand."""

    def __init__(self, schedules: list[Schedule], runner: ScanRunner):
        self.runner = runner
        self.schedules = schedules
        workers = max(4, 2 * len(schedules) + 1)  # one scan per schedule plus one started by hand, never queued
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)}, timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS})
        self.scheduler.add_listener(self._skipped, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def start(self) -> None:
        for schedule in self.schedules:
            self.scheduler.add_job(self.runner.run_scan, trigger_of(schedule), args=[schedule.name], id=schedule.name,
                                   name=f"scan {schedule.name}")
        self.scheduler.start()
        for schedule in self.schedules:
            log.info("schedule %s: next scan at %s", schedule.name, _iso(self.next_run(schedule.name)))

    def run_now(self, name: str) -> bool:
        """Start a scan of ``name`` now (in the background); False when one is already running."""
        if not self.runner.claim(name):
            return False
        self.scheduler.add_job(self.runner.run_scan, "date", args=[name, "manual"], id=f"{name}@{uuid.uuid4().hex[:8]}",
                               name=f"scan {name} (by hand)", misfire_grace_time=None)
        return True

    def next_run(self, name: str) -> Optional[datetime]:
        job = self.scheduler.get_job(name)
        return job.next_run_time if job is not None else None

    def stop(self) -> None:
        """No new starts; the scans in flight are the runner's to stop."""
        if self.scheduler.running:
            self.scheduler.pause()
            self.runner.stop()
            self.scheduler.shutdown(wait=True)

    def _skipped(self, event: Any) -> None:
        if isinstance(event, (JobSubmissionEvent, JobExecutionEvent)) and "@" not in event.job_id:
            reason = "overlap" if event.code == EVENT_JOB_MAX_INSTANCES else "missed"
            self.runner.skip(event.job_id, reason)


def _iso(when: Optional[datetime]) -> str:
    return when.isoformat(timespec="seconds") if when is not None else "never"
