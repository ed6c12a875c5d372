"""Running one scheduled scan: ``auditor run`` in a child process, one at a time per schedule.

A child process, not a call into the library, because it is what a user runs by hand (same reports, retry
file, waivers, exit codes), its memory goes back to the system after each scan, and stopping it is the tested
SIGTERM path: hosts in flight are cancelled, partial reports written and the stored run marked interrupted, so
``auditor run --resume RUN_ID`` finishes it. The serve process chooses the run id (``--run-id``) so it knows
which stored run is the scan's.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

from auditor.serve.config import LoadedConfig, Schedule
from auditor.serve.scanlog import ScanLog
from auditor.store.urls import STORE_ENV
from auditor.textsafe import for_terminal

log = logging.getLogger("auditor.serve")

#: How long a stopped scan may take to write its partial reports before it is killed.
STOP_GRACE_SECONDS = 60.0
#: `auditor run` exit codes of a scan that ran to its end (2, 3: it found hosts that need action or are down).
COMPLETED_EXIT_CODES = (0, 2, 3)
#: Lines of a scan's stderr kept for the log and the API (a broken inventory says why here).
STDERR_LINES = 20


@dataclass
class ScanOutcome:
    schedule: str
    run_id: str
    trigger: str                      # "schedule" or "manual"
    started: datetime
    finished: Optional[datetime] = None
    exit_code: Optional[int] = None
    stderr: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.finished is None


@dataclass
class Skip:
    schedule: str
    at: datetime
    reason: str                       # "overlap" (the previous scan still runs) or "missed" (the process was busy)


@dataclass
class ScheduleState:
    """What the serve process knows of one schedule since it started (the runs themselves are in the store)."""

    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    current: Optional[ScanOutcome] = None
    last: Optional[ScanOutcome] = None
    last_success: Optional[datetime] = None
    skipped: deque[Skip] = field(default_factory=lambda: deque(maxlen=50))
    runs: deque[str] = field(default_factory=lambda: deque(maxlen=500))
    completed: set[str] = field(default_factory=set)  # run ids of scans that ran to their end


class ScanRunner:
    """Starts scans, never two of one schedule at once, and stops them all on shutdown."""

    def __init__(self, config: LoadedConfig, store_url: str, *, scan_log: ScanLog | None = None,
                 on_started: Callable[[ScanOutcome], None] | None = None,
                 on_finished: Callable[[Schedule, ScanOutcome], None] | None = None,
                 on_skipped: Callable[[Skip], None] | None = None):
        self.config = config
        self.store_url = store_url
        self.states = {s.name: ScheduleState(s.name) for s in config.config.schedules}
        self.scan_log = scan_log
        if scan_log is not None:
            self._restore(scan_log.read())
        self._on_started = on_started
        self._on_finished = on_finished
        self._on_skipped = on_skipped
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._children_lock = threading.Lock()
        self._stopping = threading.Event()

    def run_scan(self, name: str, trigger: str = "schedule") -> Optional[ScanOutcome]:
        """Run one scan of schedule ``name`` to its end (in the calling thread); None when it was skipped
        because the previous one still runs or the server is stopping."""
        state = self.states[name]
        if self._stopping.is_set() or not state.lock.acquire(blocking=False):
            self.skip(name, "overlap" if not self._stopping.is_set() else "stopping")
            return None
        try:
            outcome = ScanOutcome(name, uuid.uuid4().hex[:12], trigger, datetime.now(timezone.utc))
            state.current = outcome
            state.runs.append(outcome.run_id)
            if self._on_started is not None:
                self._on_started(outcome)
            schedule = self.config.config.schedule(name)
            self._run_child(schedule, outcome)
            state.current, state.last = None, outcome
            if outcome.exit_code in COMPLETED_EXIT_CODES:
                state.last_success = outcome.finished
                state.completed.add(outcome.run_id)
            if self.scan_log is not None:
                self.scan_log.append({"event": "scan", "schedule": name, "run_id": outcome.run_id, "trigger": trigger,
                                      "started": outcome.started.isoformat(), "finished": _iso(outcome.finished),
                                      "exit_code": outcome.exit_code})
            if self._on_finished is not None:
                self._on_finished(schedule, outcome)
            return outcome
        finally:
            state.lock.release()

    def previous_run(self, name: str, before: str) -> Optional[str]:
        """The run id of the schedule's newest scan before ``before`` that ran to its end."""
        state = self.states[name]
        ids = list(state.runs)
        done = state.completed
        for run_id in reversed(ids[:ids.index(before)] if before in ids else ids):
            if run_id in done:
                return run_id
        return None

    def _restore(self, events: list[dict[str, object]]) -> None:
        for event in events:
            state = self.states.get(str(event["schedule"]))
            if state is None:
                continue  # a schedule no longer in the config
            try:
                if event.get("event") == "scan":
                    outcome = ScanOutcome(state.name, str(event["run_id"]), str(event.get("trigger", "schedule")),
                                          datetime.fromisoformat(str(event["started"])),
                                          datetime.fromisoformat(str(event["finished"])), int(str(event["exit_code"])))
                    state.runs.append(outcome.run_id)
                    state.last = outcome
                    if outcome.exit_code in COMPLETED_EXIT_CODES:
                        state.last_success = outcome.finished
                        state.completed.add(outcome.run_id)
                elif event.get("event") == "skip":
                    state.skipped.append(Skip(state.name, datetime.fromisoformat(str(event["at"])), str(event["reason"])))
            except (KeyError, ValueError, TypeError):
                log.warning("%s: an entry that cannot be read is ignored", self.scan_log.path if self.scan_log else "")

    def claim(self, name: str) -> bool:
        """True when schedule ``name`` could start a scan now (no scan of it running, not stopping)."""
        return not self._stopping.is_set() and not self.states[name].lock.locked()

    def skip(self, name: str, reason: str) -> None:
        skip = Skip(name, datetime.now(timezone.utc), reason)
        self.states[name].skipped.append(skip)
        if self.scan_log is not None:
            self.scan_log.append({"event": "skip", "schedule": name, "at": skip.at.isoformat(), "reason": reason})
        log.warning("schedule %s: run skipped (%s)", name, reason)
        if self._on_skipped is not None:
            self._on_skipped(skip)

    def command(self, schedule: Schedule, run_id: str) -> list[str]:
        # the store URL goes in the child's environment, not its command line: `ps` shows every argument
        return scan_command(self.config, schedule, None, run_id)

    def _run_child(self, schedule: Schedule, outcome: ScanOutcome) -> None:
        log.info("schedule %s: scan %s started (%s)", schedule.name, outcome.run_id, outcome.trigger)
        child = subprocess.Popen(self.command(schedule, outcome.run_id), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                                 env={**os.environ, STORE_ENV: self.store_url})
        with self._children_lock:
            self._children[outcome.run_id] = child
        tail: deque[str] = deque(maxlen=STDERR_LINES)
        assert child.stderr is not None
        for raw in child.stderr:  # bounded per line and in count: a scan's stderr is not trusted text
            line = for_terminal(raw[:2000].decode("utf-8", "replace").rstrip())
            if line:
                tail.append(line)
                log.info("schedule %s: %s", schedule.name, line)
        outcome.exit_code = child.wait()
        outcome.finished = datetime.now(timezone.utc)
        outcome.stderr = list(tail)
        with self._children_lock:
            self._children.pop(outcome.run_id, None)
        seconds = (outcome.finished - outcome.started).total_seconds()
        log.info("schedule %s: scan %s ended with exit code %s after %.1f s", schedule.name, outcome.run_id,
                 outcome.exit_code, seconds)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """No new scans; scans in flight get SIGTERM (checkpointed, marked interrupted), then SIGKILL after
        ``grace`` seconds."""
        self._stopping.set()
        with self._children_lock:
            children = list(self._children.items())
        for run_id, child in children:
            log.info("stopping scan %s (it is marked interrupted and can be resumed: auditor run --resume %s)",
                     run_id, run_id)
            _signal(child, signal.SIGTERM)
        for _, child in children:
            try:
                child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal(child, signal.SIGKILL)
                child.wait()


def _iso(when: Optional[datetime]) -> Optional[str]:
    return when.isoformat() if when is not None else None


def _signal(child: subprocess.Popen[bytes], sig: int) -> None:
    try:
        child.send_signal(sig)
    except ProcessLookupError:
        pass


def scan_command(c: LoadedConfig, schedule: Schedule, store_url: Optional[str], run_id: Optional[str] = None) -> list[str]:
    """The ``auditor run`` command line of one scan of ``schedule`` (absolute paths); ``store_url`` None: the
    scan finds the store in $AUDITOR_STORE (a URL with a password is never put on a command line that is printed)."""
    argv = [sys.executable, "-m", "auditor", "run", *(c.resolve(p) for p in schedule.playbooks)]
    for source in schedule.inventory:
        argv += ["-i", c.resolve(source)]
    argv += (["--store", store_url] if store_url else []) + (["--run-id", run_id] if run_id else [])
    argv += ["--report", ",".join(schedule.report), "-o", str(c.output_of(schedule)), "--forks", str(schedule.forks), "-q"]
    if schedule.limit:
        argv += ["--limit", schedule.limit]
    for name in schedule.enable:
        argv += ["--enable", name]
    if schedule.waiver_file:
        argv += ["--waiver-file", c.resolve(schedule.waiver_file)]
    if schedule.host_key_checking:
        argv += ["--host-key-checking", schedule.host_key_checking]
    if schedule.known_hosts:
        argv += ["--known-hosts", c.resolve(schedule.known_hosts)]
    return argv
