"""Where report files go and how they are written (atomically, names safe whatever the run id holds)."""

from __future__ import annotations

import re
from pathlib import Path

from auditor.results import RunResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def report_path(out_dir: Path, run: RunResult, suffix: str) -> Path:
    """``out_dir/auditor-<run id>.<suffix>``; a run id read from a file cannot climb out of ``out_dir``."""
    stem = _UNSAFE.sub("_", run.run_id).strip("._") or "run"
    return out_dir / f"auditor-{stem[:120]}.{suffix}"


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, then rename: a reader never sees half a report."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
