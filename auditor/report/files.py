"""Where report files go and how they are written (atomically, names safe whatever the run id holds)."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import timezone
from pathlib import Path

from auditor.errors import BadInputError, Location
from auditor.results import RunResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def report_path(out_dir: Path, run: RunResult, suffix: str) -> Path:
    """``out_dir/auditor-<UTC start, YYYYmmddTHHMMSSZ>-<run id>.<suffix>``: names sort by time; a run id read
    from a file cannot climb out of ``out_dir``."""
    stem = _UNSAFE.sub("_", run.run_id).strip("._") or "run"
    when = run.started.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return out_dir / f"auditor-{when}-{stem[:120]}.{suffix}"


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, then rename: a reader never sees half a report."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def check_output_folder(out_dir: Path) -> None:
    """Refuse, before any host is contacted, a report folder that cannot be created or written (one line, exit 4)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".auditor-write-test-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BadInputError(f"cannot write reports there: {exc.strerror or exc} (choose another folder with -o/--output)",
                            Location(str(out_dir))) from None
