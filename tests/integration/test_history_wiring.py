"""The history store behind the command line, on the simulated fleet over the real transports: every run is
recorded as hosts finish, reports say what changed since the previous scan, a SIGKILLed run is resumed to
completion with every host exactly once, waivers keep accepted exceptions out of the exit code, and any stored
run renders again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from auditor.report.schema import load_report
from auditor.store import open_store

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
AUDIT = str(ROOT / "playbooks" / "mirrored-mode.yml")
REVERT = str(ROOT / "playbooks" / "remediate-revert-nat.yml")


def auditor(*args: str, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, **kw)  # type: ignore[call-overload]


def lab_fleet(scenarios: list[str], faults: dict[str, dict[str, object]] | None = None) -> LabFleet:
    library = {s.name: s for s in load_library()}
    members = name_hosts([library[n] for n in scenarios])
    by_scenario = {}
    for m in members:
        by_scenario.setdefault(m.scenario.name, m.name)
    named = {by_scenario.get(k, k): v for k, v in (faults or {}).items()}
    return LabFleet(members, ports="free", faults=named)


def only_report(folder: Path):  # type: ignore[no-untyped-def]
    reports = list(folder.glob("auditor-*.json"))
    assert len(reports) == 1, reports
    return load_report(reports[0])


def test_reports_say_what_changed_since_the_previous_scan(tmp_path: Path) -> None:
    fleet = lab_fleet(["win-conflict-confirmed", "win-at-risk-mirrored-docker", "win-healthy-nat"])
    store = f"sqlite:///{tmp_path / 'h.db'}"
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        common = ["-i", str(inventory), "--store", store, "--host-key-checking", "strict", "--known-hosts", str(known)]
        first = auditor("run", AUDIT, *common, "--report", "json", "-o", str(tmp_path / "a0"))
        assert first.returncode == 2, first.stdout + first.stderr
        assert "history: run" in first.stdout
        fix = auditor("remediate", REVERT, *common, "--yes", "--enable", "restart", "--report", "json", "-o", str(tmp_path / "r"))
        assert fix.returncode == 0, fix.stdout + fix.stderr
        second = auditor("run", AUDIT, *common, "--report", "json,html", "-o", str(tmp_path / "a1"))
        assert second.returncode == 0, second.stdout + second.stderr
    old, new = only_report(tmp_path / "a0"), only_report(tmp_path / "a1")
    assert old.history is not None and old.history.previous_run_id is None  # the first scan of these playbooks
    assert new.history is not None and new.history.previous_run_id == old.run_id
    assert new.history.changes["fixed"] == 2 and new.history.changes["unchanged"] == 1
    assert len(new.history.trend) == 2 and new.history.trend[-1].run_id == new.run_id
    changes = {h.name: h.previous.change for h in new.hosts if h.previous}
    assert sorted(changes.values()) == ["fixed", "fixed", "unchanged"]
    assert "since the previous scan" in second.stdout and "fixed 2" in second.stdout
    html = next((tmp_path / "a1").glob("*.html")).read_text()
    assert "What changed since the previous scan" in html and "Verdicts over the last scans" in html

    listed = auditor("history", "list", "--store", store, "--format", "json")
    runs = json.loads(listed.stdout)
    assert [r["kind"] for r in runs].count("audit") == 2 and all(r["state"] == "complete" for r in runs)
    again = auditor("report", "--run", old.run_id, "--store", store, "--report", "json", "-o", str(tmp_path / "re"))
    assert again.returncode == 0, again.stderr
    rerendered = only_report(tmp_path / "re")
    assert {h.name: h.status for h in rerendered.hosts} == {h.name: h.status for h in old.hosts}


def test_a_sigkilled_run_is_resumed_to_completion_with_every_host_once(tmp_path: Path) -> None:
    scenarios = ["win-healthy-nat"] * 2 + ["win-conflict-confirmed"] * 6
    library = {s.name: s for s in load_library()}
    members = name_hosts([library[n] for n in scenarios])
    slow = {m.name: {"slow": 0.6} for m in members[2:]}  # the first two answer at once, the rest slowly
    fleet = LabFleet(members, ports="free", faults=slow)
    db = tmp_path / "h.db"
    store_url = f"sqlite:///{db}"
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        args = [sys.executable, "-m", "auditor", "run", AUDIT, "-i", str(inventory), "--store", store_url, "--forks", "2",
                "--workers", "1", "--host-key-checking", "strict", "--known-hosts", str(known), "-q", "-o", str(tmp_path / "k")]
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            run_id, recorded = None, 0
            while time.monotonic() < deadline and recorded < 2:
                if db.exists():
                    with open_store(store_url) as store:
                        listed = store.list_runs(limit=1)
                        if listed:
                            run_id = listed[0].id
                            recorded = len(store.recorded_hosts(run_id))
                if proc.poll() is not None:
                    break
                time.sleep(0.05)  # polling the store for a real condition, bounded by the deadline
            assert run_id is not None and 2 <= recorded < len(members), (recorded, proc.poll())
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        with open_store(store_url) as store:
            record = store.get_run(run_id)
            assert record.state.value == "interrupted" and not record.live
            missing_before = store.missing_hosts(run_id)
            assert missing_before and len(missing_before) < len(members)
        resumed = auditor("run", "--resume", run_id, "--store", store_url, "--host-key-checking", "strict",
                          "--known-hosts", str(known), "--report", "json", "-o", str(tmp_path / "resumed"))
        assert resumed.returncode == 2, resumed.stdout + resumed.stderr  # the conflict hosts need action
    report = only_report(tmp_path / "resumed")
    assert report.run_id == run_id
    assert sorted(h.name for h in report.hosts) == sorted(m.name for m in members)  # every host exactly once
    with open_store(store_url) as store:
        assert store.get_run(run_id).state.value == "complete" and store.missing_hosts(run_id) == []


def test_waivers_keep_accepted_exceptions_out_of_the_exit_code(tmp_path: Path) -> None:
    fleet = lab_fleet(["win-at-risk-mirrored-docker"])
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        common = ["-i", str(inventory), "--store", "none", "--host-key-checking", "strict", "--known-hosts", str(known),
                  "--report", "json"]
        plain = auditor("run", AUDIT, *common, "-o", str(tmp_path / "plain"))
        assert plain.returncode == 2, plain.stdout + plain.stderr
        report = only_report(tmp_path / "plain")
        deciding = report.hosts[0].verdicts()[0].decided_by
        failing = sorted({c.id for c in report.hosts[0].all_checks() if c.status.value == "failed" and c.id in deciding})
        assert failing, deciding
        waivers = tmp_path / "waivers.yml"
        waivers.write_text("".join(f"{cid}:\n  justification: mirrored approved for the VPN pilot\n  expiration_date: 2999-01-01\n"
                                   "  hosts: windows\n" for cid in failing))
        waived = auditor("run", AUDIT, *common, "--waiver-file", str(waivers), "-o", str(tmp_path / "waived"))
        assert waived.returncode == 0, waived.stdout + waived.stderr
        expired = tmp_path / "expired.yml"
        expired.write_text(waivers.read_text().replace("2999-01-01", "2001-01-01"))
        lapsed = auditor("run", AUDIT, *common, "--waiver-file", str(expired), "-o", str(tmp_path / "lapsed"))
        assert lapsed.returncode == 2, lapsed.stdout + lapsed.stderr
    host = only_report(tmp_path / "waived").hosts[0]
    checks = {c.id: c for c in host.all_checks()}
    for cid in failing:
        assert checks[cid].status.value == "waived" and checks[cid].waiver is not None
        assert checks[cid].waiver.status.value == "failed"  # the underlying result is kept
    assert only_report(tmp_path / "waived").waivers[0].justification == "mirrored approved for the VPN pilot"
    lapsed_checks = {c.id: c for c in only_report(tmp_path / "lapsed").hosts[0].all_checks()}
    assert all(lapsed_checks[cid].status.value == "failed" and "expired on 2001-01-01" in lapsed_checks[cid].waiver.message
               for cid in failing)


def test_a_malformed_waiver_file_is_refused_before_anything_connects(tmp_path: Path) -> None:
    bad = tmp_path / "w.yml"
    bad.write_text("W-CFG-02:\n  expiration_date: soon\n")
    out = auditor("run", AUDIT, "-i", "127.0.0.1,", "--store", "none", "--waiver-file", str(bad))
    assert out.returncode == 4 and f"{bad}:" in out.stderr and "Traceback" not in out.stderr


def test_remediate_leaves_a_host_alone_while_a_waiver_covers_what_the_play_fixes(tmp_path: Path) -> None:
    fleet = lab_fleet(["win-conflict-confirmed", "win-conflict-confirmed"])
    waived_host, other = sorted(h.name for h in fleet.hosts)
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(f"W-CFG-02:\n  justification: mirrored approved for the VPN pilot\n  hosts: {waived_host}\n"
                       "  expiration_date: 2999-01-01\n")
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        common = ["-i", str(inventory), "--check", "--report", "json", "--store", "none", "--host-key-checking", "strict",
                  "--known-hosts", str(known), "-q"]
        waived = auditor("remediate", REVERT, *common, "--waiver-file", str(waivers), "-o", str(tmp_path / "waived"))
        expired = tmp_path / "expired.yml"
        expired.write_text(waivers.read_text().replace("2999-01-01", "2001-01-01"))
        lapsed = auditor("remediate", REVERT, *common, "--waiver-file", str(expired), "-o", str(tmp_path / "lapsed"))
        bad = tmp_path / "bad.yml"
        bad.write_text("W-CFG-02:\n  expiration_date: 2999-01-01\n")
        refused = auditor("remediate", REVERT, *common, "--waiver-file", str(bad), "-o", str(tmp_path / "bad"))
    assert waived.returncode == 0 and lapsed.returncode == 0, waived.stderr + lapsed.stderr
    hosts = {h.name: h for h in only_report(tmp_path / "waived").hosts}
    alone = hosts[waived_host].all_tasks()
    assert alone and all(t.status.value == "skipped" for t in alone)
    assert all(t.message == "W-CFG-02: waived (until 2999-01-01): mirrored approved for the VPN pilot" for t in alone)
    assert any(t.status.value == "changed" for t in hosts[other].all_tasks())  # the other host would be fixed
    assert only_report(tmp_path / "waived").waivers[0].justification == "mirrored approved for the VPN pilot"
    lapsed_hosts = {h.name: h for h in only_report(tmp_path / "lapsed").hosts}
    assert any(t.status.value == "changed" for t in lapsed_hosts[waived_host].all_tasks())  # an expired waiver counts no more
    assert refused.returncode == 4 and f"{bad}:" in refused.stderr and "justification" in refused.stderr
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").glob("*.json"))  # nothing ran
