"""Where a profiled run's samples go: ``python -m bench.profile_split PYSPY_RAW.txt``.

Reads py-spy's raw (collapsed) output of ``auditor run`` and its workers (``py-spy record -f raw -s``)
and books each sample to the first area found walking from the innermost frame outwards, so a
sample inside json/pickle/jinja2 counts for the auditor module that called it. Idle samples (the
event loop waiting in epoll, pool threads waiting for work) are counted apart. Prints seconds of
samples and shares; with ``--cpu`` (the CPU seconds the same run takes without the profiler, e.g. from
``/usr/bin/time``) also each area's estimated CPU: py-spy on a busy machine counts a runnable thread
as busy, so its seconds overstate, while the shares hold.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

#: (area, pattern on one frame's "function (file:line)"), first match from the innermost frame wins
AREAS: list[tuple[str, str]] = [
    ("idle: event loop waiting", r"^(select|poll) \(selectors\.py|EpollSelector\.select|_run_once \(asyncio/base_events\.py:\d+\)$"),
    ("idle: thread pool waiting", r"^_worker \(concurrent/futures/thread\.py:81\)$"),
    ("batch: split output", r"auditor/collectors/batch\.py"),
    ("secret scrub", r"auditor/redact\.py|auditor/report/redact\.py"),
    ("reports: JSON/HTML", r"auditor/report/"),
    ("checks: expressions (Jinja2 sandbox)", r"auditor/checks\.py|auditor/playbook/expressions\.py"),
    ("parsers and derivers", r"auditor/mirrored/|auditor/parsers|auditor/facts"),
    ("WinRM: native WS-Management", r"auditor/transports/wsman/|auditor/transports/winrm"),
    ("SSH: asyncssh", r"asyncssh/|auditor/transports/ssh\.py|auditor/transports/known_hosts"),
    ("workers: events to the parent (pickle, pipes)", r"auditor/workers\.py"),
    ("runner and result model", r"auditor/runner\.py|auditor/results\.py|auditor/gather\.py"),
    ("console/progress", r"auditor/console\.py|rich/"),
    ("inventory and playbooks", r"auditor/inventory/|auditor/playbook/"),
    ("start-up: imports", r"<module> \(|_find_and_load|importlib"),
    ("asyncio machinery", r"asyncio/"),
]
_COMPILED = [(name, re.compile(p)) for name, p in AREAS]


def area_of(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost first
        for name, pattern in _COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def split(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        counts[area_of(frames)] += int(n)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--rate", type=float, default=200.0, help="py-spy's sampling rate (-r)")
    ap.add_argument("--hosts", type=int, default=0, help="print ms per host too")
    ap.add_argument("--cpu", type=float, default=0.0, help="measured CPU seconds of the run: scale to it")
    args = ap.parse_args()
    counts = split(open(args.raw).read())
    busy = sum(v for k, v in counts.items() if not k.startswith("idle"))
    scale = args.cpu / (busy / args.rate) if args.cpu else 1.0
    for name, n in counts.most_common():
        secs = n / args.rate * (1.0 if name.startswith("idle") else scale)
        share = "" if name.startswith("idle") else f"{100 * n / busy:5.1f} %"
        per_host = f"  {secs * 1000 / args.hosts:6.2f} ms/host" if args.hosts else ""
        print(f"{name:<48} {secs:7.2f} s {share}{per_host}")


if __name__ == "__main__":
    main()
