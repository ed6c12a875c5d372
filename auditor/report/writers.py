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
from auditor.report.html import one_pass, write_html
from auditor.report.junit import write_junit
from auditor.report.redact import redact_run
from auditor.report.stream import is_streamed
from auditor.results import HostResult, RunResult

Writer = Callable[[RunResult, Path], Path]


def write_json(run: RunResult, out_dir: Path) -> Path:
    """The run as JSON, written host by host: the result model's own serialisation of each host, inside the
    header's, so a streamed run never sits in memory whole (the file is the same as ``model_dump_json``'s)."""
    with JsonReport(run, out_dir) as report:
        for host in run.hosts:
            report.add(host)
    return report.path


class JsonReport:
    """The JSON report written as hosts come: ``open``, ``add`` each host in order, ``close`` (the file appears
    under its name only then) or ``abandon``; as a context manager, ``with`` does the opening and closing."""

    def __init__(self, run: RunResult, out_dir: Path):
        self.path = report_path(out_dir, run, "json")
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        header = run.model_copy(update={"hosts": []}).model_dump_json(indent=2)
        self._head, self._tail = header.split('"hosts": []', 1)
        self._count = 0

    def open(self) -> "JsonReport":
        self._out = open(self._tmp, "w", encoding="utf-8")
        self._out.write(self._head + '"hosts": [')
        return self

    def add(self, host: HostResult) -> None:
        self._out.write(("," if self._count else "") + "\n    " + host.model_dump_json(indent=2).replace("\n", "\n    "))
        self._count += 1

    def close(self) -> Path:
        with self._out:
            self._out.write(("\n  ]" if self._count else "]") + self._tail)
        self._tmp.replace(self.path)
        return self.path

    def abandon(self) -> None:
        self._out.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "JsonReport":
        return self.open()

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()


def _json_and_html(run: RunResult, out_dir: Path, written: list[Path], failures: list[str]) -> None:
    """Both reports of a streamed run from one read of its hosts: the JSON written host by host while the page
    gathers its parts. A JSON write that fails stops the JSON only; the page is still made."""
    report: JsonReport | None
    try:
        report = JsonReport(run, out_dir).open()
    except OSError as exc:
        failures.append(f"json: {exc.strerror or exc}")
        report = None

    def failed(exc: OSError) -> None:
        nonlocal report
        failures.append(f"json: {exc.strerror or exc}")
        if report is not None:
            report.abandon()
        report = None

    def each(host: HostResult) -> None:
        if report is not None:
            try:
                report.add(host)
            except OSError as exc:
                failed(exc)

    prepared = one_pass(run, each)
    if report is not None:
        try:
            written.append(report.close())
        except OSError as exc:
            failed(exc)
    try:
        written.append(write_html(run, out_dir, prepared))
    except OSError as exc:
        failures.append(f"html: {exc.strerror or exc}")


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
    if is_streamed(safe) and {"json", "html"} <= set(formats):
        _json_and_html(safe, out_dir, written, failures)
        formats = [f for f in formats if f not in ("json", "html")]
    for fmt in formats:
        try:
            written.append(WRITERS[fmt](safe, out_dir))
        except OSError as exc:
            failures.append(f"{fmt}: {exc.strerror or exc}")
    if failures:
        raise ReportsNotWritten(f"{out_dir}: could not write the {', '.join(failures)} report(s)"
                                + (f"; written: {', '.join(str(p) for p in written)}" if written else ""), written)
    return written
