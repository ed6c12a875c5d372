"""The server's own record of what its schedules did: each scan (run id, trigger, start, end, exit code) and each
skipped start (overlap, missed), one JSON object per line in ``STATE_DIR/scans.jsonl``.

The runs themselves are in the history store; this file says which runs a schedule started and which starts it
skipped, so both survive a restart (the dashboard, ``GET /api/schedules`` and "the schedule's previous scan" for
notifications read it back). Appends are whole lines under a lock; a torn last line (a crash) is ignored.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("auditor.serve")

#: Lines read back at start; older history stays in the file (and the runs in the store).
KEEP_LINES = 20_000


class ScanLog:
    def __init__(self, folder: Path):
        self.path = folder / "scans.jsonl"
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def append(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text("utf-8", errors="replace").splitlines()[-KEEP_LINES:]
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
            if isinstance(event, dict) and isinstance(event.get("schedule"), str):
                events.append(event)
        return events
