"""CSV for spreadsheets: one row per host (remediation runs add task counts and backup paths).

Written as UTF-8 with a byte-order mark so Excel detects the encoding. A cell that starts with ``=``,
``+``, ``-``, ``@``, tab or carriage return gets a leading apostrophe, so a spreadsheet never runs remote
text as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from auditor.report.files import atomic_write, report_path
from auditor.outcomes import headline_verdict
from auditor.report.view import backup_paths, failed_check_ids, task_counts
from auditor.results import RunResult

COLUMNS = ["name", "address", "platform", "groups", "outcome", "verdict", "confidence", "failed_checks", "error"]
#: Appended for ``kind == "remediation"``; in check mode ``changed_tasks`` counts tasks that would change.
REMEDIATION_COLUMNS = ["changed_tasks", "failed_tasks", "backup_paths"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(run: RunResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    remediation = run.kind == "remediation"
    writer.writerow(COLUMNS + (REMEDIATION_COLUMNS if remediation else []))
    for host in run.hosts:
        verdict = headline_verdict(host, run.verdict_catalogue)
        row = [
            host.name, host.address, host.platform, ";".join(host.groups), host.status.value,
            verdict.name if verdict else "", verdict.confidence.value if verdict else "",
            ";".join(failed_check_ids(host)), host.error or "",
        ]
        if remediation:
            counts = task_counts(host)
            row += [str(counts["changed"]), str(counts["failed"]), ";".join(backup_paths(host))]
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def write_csv(run: RunResult, out_dir: Path) -> Path:
    path = report_path(out_dir, run, "csv")
    atomic_write(path, render_csv(run).encode("utf-8-sig"))
    return path
