"""Memory of a process tree as the machine pays it: the sum of PSS over a process and its descendants.

Summing each process's own peak RSS counts every page the forked workers share with the parent
(the interpreter, imported libraries) once per process, so it overstates. PSS (proportional set size,
``/proc/<pid>/smaps_rollup``) splits each shared page between the processes that map it, so the sum of
PSS over the tree counts every page once. The kernel keeps no peak of PSS: ``run_sampled`` polls it
from outside the measured process (a thread inside it would make ``auditor.workers`` spawn instead
of fork) and keeps the highest sum seen.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
#: How often the tree's PSS is sampled; the peak can fall between samples, so this is a lower bound.
SAMPLE_INTERVAL_S = 0.05


def parse_pss_kb(smaps_rollup: str) -> int | None:
    """The ``Pss:`` figure (KiB) of a smaps_rollup text; None when absent (a zombie's file is empty)."""
    for line in smaps_rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return None


def parent_pid(stat: str) -> int:
    """The parent pid from a ``/proc/<pid>/stat`` line; split after the last ')' since comm may hold any."""
    return int(stat.rsplit(")", 1)[1].split()[1])


def tree_pids(root_pid: int, proc: Path = PROC) -> list[int]:
    """``root_pid`` and every live descendant (one scan of ``proc``'s pid folders)."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = parent_pid((entry / "stat").read_text())
        except (OSError, IndexError, ValueError):  # exited while we looked
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def tree_pss_kb(root_pid: int, proc: Path = PROC) -> int:
    """Sum of PSS (KiB) over ``root_pid`` and its descendants; processes that vanish count nothing."""
    total = 0
    for pid in tree_pids(root_pid, proc):
        try:
            total += parse_pss_kb((proc / str(pid) / "smaps_rollup").read_text()) or 0
        except OSError:
            continue
    return total


@dataclass
class SampledRun:
    returncode: int
    output: str            # stdout and stderr, interleaved
    peak_pss_kb: int       # highest sum of PSS over the process tree among the samples
    samples: int


def run_sampled(cmd: list[str], cwd: Path, log: Path, interval: float = SAMPLE_INTERVAL_S,
                measure: Callable[[int], int] = tree_pss_kb) -> SampledRun:
    """Run ``cmd`` to its end, sampling ``measure(pid)`` (its tree's PSS) every ``interval`` seconds;
    output goes to ``log``."""
    peak, samples = 0, 0
    with open(log, "w+") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            peak, samples = max(peak, measure(proc.pid)), samples + 1
            try:
                proc.wait(timeout=interval)  # the sampling period; returns at once when the process ends
            except subprocess.TimeoutExpired:
                pass
        out.seek(0)
        return SampledRun(proc.returncode, out.read(), peak, samples)
