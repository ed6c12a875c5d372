"""Paths and small process helpers shared by the benchmark's parts."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = [ROOT / "playbooks" / "mirrored-mode.yml", ROOT / "playbooks" / "edge-nodes.yml"]
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
BIN = Path(sys.executable).parent


def batch_end(nonce: str) -> bytes:
    """What every complete answer to a collector batch carries (``auditor.collectors.batch``'s END marker)."""
    return f"@@AUDITOR:{nonce}:END:".encode()


def raise_nofile() -> int:
    """Lift the open-files soft limit to the hard limit (5,000 hosts need >10,000 sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def proc_cpu_s(pid: int) -> float | None:
    """user+sys CPU seconds of a running process so far (Linux /proc), None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15 of stat)
