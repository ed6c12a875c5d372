"""Drift on the simulated fleet, end to end: audit, remediate, audit again over the real transports; both
audits stored (SQLite and PostgreSQL), and `auditor diff` shows the remediated hosts as `fixed`, with their
check transitions and the line diff of their .wslconfig. Both backends give the same diff."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

from auditor.history.diff import diff_runs, drift_schema
from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from auditor.report.schema import load_report
from auditor.store import open_store
from tests.store_fixtures import pg_database, pg_url  # noqa: F401  (pytest fixtures)

ROOT = Path(__file__).resolve().parents[2]
AUDIT = str(ROOT / "playbooks" / "mirrored-mode.yml")
REVERT = str(ROOT / "playbooks" / "remediate-revert-nat.yml")
FIXED = ["win-conflict-confirmed", "win-at-risk-mirrored-docker", "win-trap-utf16-bom"]
SCENARIOS = [*FIXED, "win-healthy-nat"]


@pytest.fixture
def lab(tmp_path):
    library = {s.name: s for s in load_library()}
    fleet = LabFleet(name_hosts([library[n] for n in SCENARIOS]), ports="free")
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        yield fleet, inventory, known


def auditor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=240, cwd=ROOT)


def report_of(folder: Path):
    return load_report(next(folder.glob("auditor-*.json")))


def test_audit_remediate_audit_then_diff_shows_the_fixed_hosts(lab, tmp_path, pg_url):  # noqa: F811
    fleet, inventory, known = lab
    ssh = ["--host-key-checking", "strict", "--known-hosts", str(known)]
    names = {h.member.scenario.name: h.name for h in fleet.hosts}
    before = auditor("run", AUDIT, "-i", str(inventory), "--limit", "windows", "--report", "json", "-o", str(tmp_path / "a0"), *ssh)
    assert before.returncode == 2, before.stderr
    fix = auditor("remediate", REVERT, "-i", str(inventory), "--yes", "--enable", "restart", "--report", "json",
                  "-o", str(tmp_path / "r"), *ssh)
    assert fix.returncode == 0, fix.stdout + fix.stderr
    after = auditor("run", AUDIT, "-i", str(inventory), "--limit", "windows", "--report", "json", "-o", str(tmp_path / "a1"), *ssh)
    assert after.returncode == 0, after.stdout + after.stderr

    sqlite_url = f"sqlite:///{tmp_path / 'history.db'}"
    runs = [report_of(tmp_path / "a0"), report_of(tmp_path / "r"), report_of(tmp_path / "a1")]
    for url in (sqlite_url, pg_url):
        with open_store(url) as store:
            for run in runs:
                store.import_run(run)

    proc = auditor("diff", "--store", sqlite_url, "--format", "json")  # default: the two latest complete audits
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, drift_schema())
    assert (doc["old"]["id"], doc["new"]["id"]) == (runs[0].run_id, runs[2].run_id)
    by_host = {h["host"]: h for h in doc["hosts"]}
    for scenario in FIXED:
        host = by_host[names[scenario]]
        assert host["change"] == "fixed", (scenario, host)
        assert host["new_verdict"] == "HEALTHY_NAT" and host["old_verdict"] != "HEALTHY_NAT"
        transitions = {c["check_id"]: (c["old"], c["new"]) for c in host["checks"]}
        assert transitions["W-CFG-02"] == ("failed", "passed")
        (listing,) = [x for x in host["listings"] if x["check_id"] == "W-CFG-02"]
        assert "-networkingMode=mirrored" in listing["diff"] and "+#networkingMode=mirrored" in listing["diff"]
        assert listing["old_file"].endswith(".wslconfig")
    assert by_host[names["win-healthy-nat"]]["change"] == "unchanged"
    assert doc["counts"]["fixed"] == 3 and doc["counts"]["unchanged"] == 1 and sum(doc["counts"].values()) == 4

    table = auditor("diff", "--store", sqlite_url)
    assert table.returncode == 0 and "fixed 3" in table.stdout and "+#networkingMode=mirrored" in table.stdout

    listed = json.loads(auditor("history", "list", "--store", sqlite_url, "--format", "json").stdout)
    assert [r["kind"] for r in listed] == ["audit", "remediation", "audit"]

    # the same drift from PostgreSQL
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg:
        assert diff_runs(lite, runs[0].run_id, runs[2].run_id) == diff_runs(pg, runs[0].run_id, runs[2].run_id)
        assert lite.load_run(runs[2].run_id) == pg.load_run(runs[2].run_id)
