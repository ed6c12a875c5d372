"""Which waiver-expiry notices were sent already: a small JSON file per schedule (or memory only), so that a
waiver nearing its end is announced once, not at every scan.

    {"version": 1, "announced": [{"check": "W-CFG-02", "hosts": "lab", "expiration_date": "2026-12-10"}]}

An entry is the waiver's check, host pattern and date: a waiver whose date is moved is announced again when
the new date nears. Entries whose date has passed are dropped when the file is saved. A missing file is an
empty ledger; an unreadable one is logged (one line) and read as empty: at worst a notice is sent twice.
Written atomically (a temporary file renamed over it).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from auditor.notify.payloads import clean
from auditor.notify.transitions import waiver_key

log = logging.getLogger("auditor.notify")
LEDGER_VERSION = 1


class WaiverLedger:
    """The announced waiver keys (``transitions.waiver_key``) of one schedule; ``path`` None: memory only."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._keys: set[str] | None = None

    def announced(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._load())

    def add(self, keys: Iterable[str], *, today: date) -> None:
        """Record ``keys`` as announced (and forget those whose date is before ``today``); saves the file."""
        with self._lock:
            current = self._load() | set(keys)
            current = {k for k in current if (when := _date(k)) is None or when >= today}
            self._keys = current
            if self.path is not None:
                self._save(current)

    def _load(self) -> set[str]:
        if self._keys is not None:
            return self._keys
        self._keys = set()
        if self.path is None or not self.path.exists():
            return self._keys
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or doc.get("version") != LEDGER_VERSION:
                raise ValueError("not a version 1 ledger")
            for item in doc["announced"]:
                self._keys.add(waiver_key(str(item["check"]), str(item["hosts"]),
                                          date.fromisoformat(item["expiration_date"])))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("notify: waiver ledger %s unreadable (%s); starting empty", clean(self.path), type(exc).__name__)
            self._keys = set()
        return self._keys

    def _save(self, keys: set[str]) -> None:
        assert self.path is not None
        items = []
        for key in sorted(keys):
            check, hosts, when = key.split("\t")
            items.append({"check": check, "hosts": hosts, "expiration_date": when})
        text = json.dumps({"version": LEDGER_VERSION, "announced": items}, indent=1) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".ledger-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("notify: cannot write waiver ledger %s (%s); kept in memory", clean(self.path),
                        type(exc).__name__)


def _date(key: str) -> date | None:
    try:
        return date.fromisoformat(key.rsplit("\t", 1)[1])
    except (IndexError, ValueError):
        return None
