"""`auditor report` re-renders a saved JSON report; bad input is one line and exit code 4."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from auditor.cli import main
from auditor.errors import ExitCode
from auditor.report.files import report_path
from auditor.report.writers import write_reports
from tests.report_factory import make_run


def test_report_renders_every_format_from_saved_json(tmp_path: Path, capsys) -> None:
    (saved,) = write_reports(make_run(24), ["json"], tmp_path / "in")
    out = tmp_path / "out"
    assert main(["report", str(saved), "--report", "html,csv,junit,json", "--output", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(Path(p).suffix for p in printed) == [".csv", ".html", ".json", ".xml"]
    assert json.loads((out / saved.name).read_text()) == json.loads(saved.read_text())
    rows = list(csv.DictReader((out / saved.name.replace(".json", ".csv")).read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 24


def test_report_defaults_to_html_next_to_the_input(tmp_path: Path) -> None:
    (saved,) = write_reports(make_run(16), ["json"], tmp_path)
    assert main(["report", str(saved)]) == 0
    assert saved.with_suffix(".html").exists()


def test_bad_json_is_one_line_with_file_and_exit_4(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"run_id": ', encoding="utf-8")
    assert main(["report", str(bad)]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{bad}:1:" in err and "Traceback" not in err


def test_unknown_format_is_a_usage_error(tmp_path: Path, capsys) -> None:
    (saved,) = write_reports(make_run(16), ["json"], tmp_path)
    assert main(["report", str(saved), "--report", "html,pdf"]) == ExitCode.USAGE
    assert "pdf" in capsys.readouterr().err


def test_run_id_from_a_file_cannot_escape_the_output_folder(tmp_path: Path) -> None:
    run = make_run(16)
    run.run_id = "../../etc/passwd"
    path = report_path(tmp_path, run, "html")
    assert path.parent == tmp_path and path.name == "auditor-20261121T080000Z-etc_passwd.html"
