"""CSV parsed back: one row per host with the agreed columns; no formula injection."""

from __future__ import annotations

import csv
from pathlib import Path

from auditor.report.csv import COLUMNS, render_csv
from auditor.report.view import failed_check_ids
from auditor.report.writers import write_reports
from auditor.results import HostStatus
from tests.report_factory import HOSTILE_NAME, make_run


def test_one_row_per_host_with_the_agreed_columns(tmp_path: Path) -> None:
    run = make_run(24)
    (path,) = write_reports(run, ["csv"], tmp_path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for spreadsheets"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == COLUMNS
    assert {"name", "address", "groups", "outcome", "verdict", "confidence", "failed_checks"} <= set(COLUMNS)
    assert [r["name"] for r in rows] == [h.name for h in run.hosts]
    for row, host in zip(rows, run.hosts):
        assert row["address"] == host.address
        assert row["groups"] == ";".join(host.groups)
        assert row["outcome"] == host.status.value
        assert row["failed_checks"] == ";".join(failed_check_ids(host))
    conflict = rows[0]
    assert (conflict["verdict"], conflict["confidence"]) == ("CONFLICT_CONFIRMED", "high")
    assert conflict["failed_checks"].split(";")[:2] == ["W-CFG-02", "W-CFG-03"]
    down = next(r for r in rows if r["outcome"] == HostStatus.unreachable.value)
    assert down["verdict"] == "" and "Connection refused" in down["error"]
    assert any(r["name"] == HOSTILE_NAME for r in rows)


def test_cells_that_look_like_formulas_are_defused() -> None:
    run = make_run(16, hostile=False)
    run.hosts[0].name = "=HYPERLINK(\"http://x\",\"y\")"
    run.hosts[1].error = "+cmd|' /C calc'!A0"
    run.hosts[1].name = "@SUM(1)"
    rows = list(csv.DictReader(render_csv(run).splitlines()))
    assert rows[0]["name"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert rows[1]["name"] == "'@SUM(1)" and rows[1]["error"] == "'+cmd|' /C calc'!A0"
