"""Timing a tool as its user runs it: a subprocess from its start to its exit.

Wall time is the stopwatch around ``Popen`` .. exit (interpreter start, imports, inventory, the
run, the reports). CPU is the change of this process's ``RUSAGE_CHILDREN`` across the run: the
tool plus every descendant it waited for (auditor's worker processes, ansible's forks). Processes
that outlive the tool without being waited for (OpenSSH ControlPersist masters) do not count.
With ``sample_memory`` the sum of PSS over the tool's process tree is sampled from outside every
50 ms (bench/memory.py) and its peak kept.
"""

from __future__ import annotations

import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.memory import SAMPLE_INTERVAL_S, tree_pss_kb


@dataclass
class Timed:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_pss_mb: float | None


def _children_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def timed_run(cmd: list[str], log: Path, *, cwd: Path, env: dict[str, str] | None = None,
              sample_memory: bool = False) -> Timed:
    """Run ``cmd`` to its end (output to ``log``) and measure it; nothing else runs meanwhile from here."""
    peak = 0
    cpu0 = _children_cpu()
    with open(log, "w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            if sample_memory:
                peak = max(peak, tree_pss_kb(proc.pid))
            try:
                proc.wait(timeout=SAMPLE_INTERVAL_S)  # returns at once when the tool ends
            except subprocess.TimeoutExpired:
                pass
        wall = time.perf_counter() - t0
    return Timed(proc.returncode, round(wall, 3), round(_children_cpu() - cpu0, 3),
                 round(peak / 1024, 1) if sample_memory else None)
