"""`auditor history list|prune` and `auditor diff` on a real SQLite store: output, defaults, errors, exit codes."""

from __future__ import annotations

import json
from datetime import timedelta

import jsonschema  # type: ignore[import-untyped]
import pytest

from auditor.cli import main
from auditor.errors import ExitCode, UsageError
from auditor.history.cli import parse_duration
from auditor.textsafe import for_terminal
from auditor.history.diff import drift_schema
from auditor.results import CheckStatus, utcnow
from auditor.store import open_store
from tests.report_factory import make_run


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells at the terminal width


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'h.db'}"


def two_scans(url, hosts=16):
    """An older and a newer scan of the same playbooks; in the newer one win-00000's .wslconfig is fixed."""
    now = utcnow()
    old = make_run(hosts, hostile=False, run_id="run-old-1")
    new = make_run(hosts, hostile=False, run_id="run-new-2")
    old.started, old.finished = now - timedelta(days=8), now - timedelta(days=8) + timedelta(seconds=40)
    new.started, new.finished = now - timedelta(hours=1), now - timedelta(hours=1) + timedelta(seconds=30)
    for check in new.hosts[0].all_checks():
        if check.id == "W-CFG-02":
            check.status = CheckStatus.passed
            check.evidence["lines"] = [dict(x, text="#" + x["text"]) if "networkingMode" in x["text"] else x
                                       for x in check.evidence["lines"]]
    with open_store(url) as store:
        store.import_run(old)
        store.import_run(new)
    return old, new


def run_cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_parse_duration():
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("1w3d") == timedelta(days=10)
    assert parse_duration("12h") == timedelta(hours=12) and parse_duration("45m") == timedelta(minutes=45)
    for bad in ("", "90", "d", "90 days", "-1d", "1y"):
        with pytest.raises(UsageError):
            parse_duration(bad)


def test_terminal_text_neutralises_escape_sequences():
    assert for_terminal("ok\x1b[2Jgone\r\x00") == "ok\\x1b[2Jgone \\x00"
    assert for_terminal("tab\tfolded, ünïcode kept") == "tab folded, ünïcode kept"


def test_list_without_a_store_says_so_and_creates_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("AUDITOR_STORE", raising=False)
    code, out, _ = run_cli(capsys, "history", "list")
    assert code == 0 and out.strip() == "No runs recorded."
    assert not (tmp_path / "auditor").exists()


def test_list_table_and_json(capsys, url):
    two_scans(url)
    code, out, _ = run_cli(capsys, "history", "list", "--store", url)
    assert code == 0
    assert out.index("run-new-2") < out.index("run-old-1")  # newest first
    assert "complete" in out and "16/16" in out
    code, out, _ = run_cli(capsys, "history", "list", "--store", url, "--format", "json", "--limit", "1")
    runs = json.loads(out)
    assert code == 0 and [r["id"] for r in runs] == ["run-new-2"]
    assert runs[0]["state"] == "complete" and runs[0]["hosts_recorded"] == 16
    assert sum(runs[0]["by_status"].values()) == 16 and sum(runs[0]["by_verdict"].values()) == 16


def test_store_from_the_environment(capsys, url, monkeypatch):
    two_scans(url)
    monkeypatch.setenv("AUDITOR_STORE", url)
    code, out, _ = run_cli(capsys, "history", "list", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 2


@pytest.mark.parametrize("args", [
    ["history", "list", "--format", "yaml"],
    ["history", "list", "--store", "none"],
    ["history", "list", "--kind", "scan"],
    ["history", "prune", "--older-than", "soon"],
    ["diff", "--format", "html"],
    ["history", "list", "--store", "::not a url::"],
])
def test_usage_errors_exit_5_with_one_line(capsys, args):
    code, out, err = run_cli(capsys, *args)
    assert code == ExitCode.USAGE and err.startswith("ERROR: ") and len(err.strip().splitlines()) == 1


def test_prune_prints_what_it_removed(capsys, url):
    old, _ = two_scans(url)
    checks = sum(len(h.all_checks()) for h in old.hosts)
    code, out, _ = run_cli(capsys, "history", "prune", "--older-than", "7d", "--store", url)
    assert code == 0 and out.strip() == f"Removed 1 runs (16 host results, {checks} check results) older than 7d."
    code, out, _ = run_cli(capsys, "history", "list", "--store", url, "--format", "json")
    assert [r["id"] for r in json.loads(out)] == ["run-new-2"]


def test_diff_defaults_to_the_two_latest_complete_runs(capsys, url):
    two_scans(url)
    code, out, _ = run_cli(capsys, "diff", "--store", url, "--format", "json")
    doc = json.loads(out)
    jsonschema.validate(doc, drift_schema())
    assert code == 0 and doc["old"]["id"] == "run-old-1" and doc["new"]["id"] == "run-new-2"
    assert doc["counts"]["fixed"] == 1 and sum(doc["counts"].values()) == 16
    fixed = next(h for h in doc["hosts"] if h["change"] == "fixed")
    assert fixed["host"] == "win-00000"
    assert [(c["check_id"], c["old"], c["new"]) for c in fixed["checks"]] == [("W-CFG-02", "failed", "passed")]
    assert "-networkingMode=mirrored" in fixed["listings"][0]["diff"]
    assert "+#networkingMode=mirrored" in fixed["listings"][0]["diff"]


def test_diff_table_shows_counts_changed_hosts_and_the_file_diff(capsys, url):
    two_scans(url)
    code, out, _ = run_cli(capsys, "diff", "run-old", "run-new", "--store", url)
    assert code == 0
    assert "Drift from run run-old-1" in out and "fixed 1" in out
    assert "win-00000" in out and "W-CFG-02 failed→passed" in out
    assert "+#networkingMode=mirrored" in out
    assert "win-00001" not in out  # unchanged hosts only with --all
    code, out, _ = run_cli(capsys, "diff", "run-old", "run-new", "--store", url, "--all")
    assert "win-00001" in out


def test_diff_with_one_run_compares_it_with_the_latest_of_its_playbooks(capsys, url):
    two_scans(url)
    code, out, _ = run_cli(capsys, "diff", "run-old-1", "--store", url, "--format", "json")
    assert code == 0 and json.loads(out)["new"]["id"] == "run-new-2"


@pytest.mark.parametrize("args,message", [
    (["diff", "nope", "run-new-2"], "no run 'nope' in the store"),
    (["diff", "run-"], "run id 'run-' is ambiguous"),
    (["diff", "run-new-2"], "no complete run of the same playbooks after run run-new-2"),
])
def test_diff_errors_exit_4(capsys, url, args, message):
    two_scans(url)
    code, _, err = run_cli(capsys, *args, "--store", url)
    assert code == ExitCode.BAD_INPUT and message in err and len(err.strip().splitlines()) == 1


def test_diff_needs_two_runs(capsys, url):
    with open_store(url) as store:
        store.import_run(make_run(4, hostile=False, run_id="only-one"))
    code, _, err = run_cli(capsys, "diff", "--store", url)
    assert code == ExitCode.BAD_INPUT and "only complete run of its playbooks" in err


def test_diff_schema(capsys):
    code, out, _ = run_cli(capsys, "diff", "--schema")
    assert code == 0 and json.loads(out)["$id"] == "urn:auditor:diff:1.0"
