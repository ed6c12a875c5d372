"""Notifications from real scans of the simulated fleet: audit, remediate, audit again over the real
transports into one SQLite store; a real HTTP receiver on loopback then gets exactly one webhook, naming
exactly the remediated hosts as fixed (the healthy host, unchanged, is not in it), and the same scan notified
again against itself sends nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from auditor.notify import NOTIFY_TARGETS, notify_scan
from auditor.store import open_store
from tests.notify_receivers import HttpRecorder

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
AUDIT = str(ROOT / "playbooks" / "mirrored-mode.yml")
REVERT = str(ROOT / "playbooks" / "remediate-revert-nat.yml")
FIXED = ["win-conflict-confirmed", "win-at-risk-mirrored-docker"]
SCENARIOS = [*FIXED, "win-healthy-nat"]


def auditor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=240, cwd=ROOT)


def test_remediation_between_two_scans_gives_one_webhook_with_the_fixed_hosts(tmp_path: Path) -> None:
    library = {s.name: s for s in load_library()}
    fleet = LabFleet(name_hosts([library[n] for n in SCENARIOS]), ports="free")
    url = f"sqlite:///{tmp_path / 'history.db'}"
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        ssh = ["--host-key-checking", "strict", "--known-hosts", str(known), "--store", url]
        names = {h.member.scenario.name: h.name for h in fleet.hosts}
        common = ["-i", str(inventory), "--limit", "windows", "--report", "json"]
        before = auditor("run", AUDIT, *common, "-o", str(tmp_path / "a0"), *ssh)
        assert before.returncode == 2, before.stderr
        fix = auditor("remediate", REVERT, *common, "--yes", "--enable", "restart", "-o", str(tmp_path / "r"), *ssh)
        assert fix.returncode == 0, fix.stdout + fix.stderr
        after = auditor("run", AUDIT, *common, "-o", str(tmp_path / "a1"), *ssh)
        assert after.returncode == 0, after.stdout + after.stderr

    with open_store(url) as store, HttpRecorder().running() as hook:
        audits = [r.id for r in store.list_runs(kind="audit")]
        assert len(audits) == 2
        new, old = audits  # newest first
        targets = NOTIFY_TARGETS.validate_python([{"webhook": {"url": hook.url(), "retry": {"backoff": 0}}}])
        report = notify_scan(store, new, targets, schedule="lab", previous_run_id=old)
        assert report.ok and len(hook.received) == 1
        body = hook.received[0].json()
        assert {h["host"]: h["change"] for h in body["hosts"]} == {names[s]: "fixed" for s in FIXED}
        assert all(h["new_verdict"] == "HEALTHY_NAT" and "W-CFG-02" in h["checks"] for h in body["hosts"])
        assert names["win-healthy-nat"] not in hook.received[0].body.decode()
        assert notify_scan(store, new, targets, schedule="lab", previous_run_id=new).results == []
        assert len(hook.received) == 1
