"""Report writers: RunResult -> files. Reports read only the result model."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from auditor.results import RunResult

Writer = Callable[[RunResult, Path], Path]


def write_json(run: RunResult, out_dir: Path) -> Path:
    path = out_dir / f"auditor-{run.run_id}.json"
    _atomic_write(path, run.model_dump_json(indent=2).encode("utf-8"))
    return path


WRITERS: dict[str, Writer] = {"json": write_json}


def available_formats() -> list[str]:
    return sorted(WRITERS)


def write_reports(run: RunResult, formats: list[str], out_dir: Path) -> list[Path]:
    """Write every requested format into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [WRITERS[fmt](run, out_dir) for fmt in formats]


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
