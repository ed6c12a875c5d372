"""Report writers: RunResult -> files, keyed by format name. Reports read only the result model.

``write_reports`` is what ``auditor run --report html,json,junit,csv`` and ``auditor report`` call: it
scrubs secret-looking evidence once (``auditor.report.redact``), then runs each requested writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from auditor.errors import AuditorError, ExitCode, UsageError
from auditor.report.csv import write_csv
from auditor.report.files import check_output_folder, report_path  # noqa: F401  (check_output_folder: re-exported)
from auditor.report.html import write_html
from auditor.report.junit import write_junit
from auditor.report.redact import redact_run
from auditor.results import RunResult

Writer = Callable[[RunResult, Path], Path]


def write_json(run: RunResult, out_dir: Path) -> Path:
    """The run as JSON, written host by host: the result model's own serialisation of each host, inside the
    header's, so a streamed run never sits in memory whole (the file is the same as ``model_dump_json``'s)."""
    path = report_path(out_dir, run, "json")
    tmp = path.with_name(path.name + ".tmp")
    header = run.model_copy(update={"hosts": []}).model_dump_json(indent=2)
    head, tail = header.split('"hosts": []', 1)
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(head + '"hosts": [')
        for i, host in enumerate(run.hosts):
            out.write(("," if i else "") + "\n    " + host.model_dump_json(indent=2).replace("\n", "\n    "))
        out.write(("\n  ]" if run.hosts else "]") + tail)
    tmp.replace(path)
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


class ReportsNotWritten(AuditorError):
    """Some report formats could not be written; the others were (``written``). Exit code 4."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, message: str, written: list[Path]):
        super().__init__(message)
        self.written = written


def write_reports(run: RunResult, formats: list[str], out_dir: Path) -> list[Path]:
    """Write every requested format into ``out_dir``; returns the paths written. A format that fails never stops
    the others: they are all attempted, then ``ReportsNotWritten`` says which failed and lists what was written."""
    safe = redact_run(run)
    written: list[Path] = []
    failures: list[str] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportsNotWritten(f"{out_dir}: cannot create the report folder: {exc.strerror or exc}", []) from None
    for fmt in formats:
        try:
            written.append(WRITERS[fmt](safe, out_dir))
        except OSError as exc:
            failures.append(f"{fmt}: {exc.strerror or exc}")
    if failures:
        raise ReportsNotWritten(f"{out_dir}: could not write the {', '.join(failures)} report(s)"
                                + (f"; written: {', '.join(str(p) for p in written)}" if written else ""), written)
    return written
