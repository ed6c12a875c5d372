"""Report writers: RunResult -> files, keyed by format name. Reports read only the result model.

``write_reports`` is what ``auditor run --report html,json,junit,csv`` and ``auditor report`` call: it
scrubs secret-looking evidence once (``auditor.report.redact``), then runs each requested writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from auditor.errors import UsageError
from auditor.report.csv import write_csv
from auditor.report.files import atomic_write, report_path
from auditor.report.html import write_html
from auditor.report.junit import write_junit
from auditor.report.redact import redact_run
from auditor.results import RunResult

Writer = Callable[[RunResult, Path], Path]


def write_json(run: RunResult, out_dir: Path) -> Path:
    path = report_path(out_dir, run, "json")
    atomic_write(path, run.model_dump_json(indent=2).encode("utf-8"))
    return path


WRITERS: dict[str, Writer] = {"json": write_json, "html": write_html, "junit": write_junit, "csv": write_csv}


def available_formats() -> list[str]:
    return sorted(WRITERS)


def parse_formats(spec: str) -> list[str]:
    """``"html,json"`` -> ``["html", "json"]``; an unknown name is a usage error naming the known ones."""
    formats = [part.strip().lower() for part in spec.split(",") if part.strip()]
    unknown = [f for f in formats if f not in WRITERS]
    if unknown or not formats:
        raise UsageError(f"unknown report format {', '.join(unknown) or repr(spec)}; expected one or more of "
                         f"{', '.join(available_formats())} separated by commas")
    return list(dict.fromkeys(formats))


def write_reports(run: RunResult, formats: list[str], out_dir: Path) -> list[Path]:
    """Write every requested format into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = redact_run(run)
    return [WRITERS[fmt](safe, out_dir) for fmt in formats]
