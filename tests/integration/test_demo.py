"""`auditor demo` as a user runs it: a subprocess, its JSON report parsed, every host present."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_runs_and_reports_every_host(tmp_path):
    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "auditor", "demo", "--output", str(out), "--report", "json",
                           "--hosts", "60", "--seed", "7"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "60/60 hosts got what their scenario declares" in proc.stdout
    reports = list(out.glob("auditor-*.json"))
    assert len(reports) == 1
    doc = json.loads(reports[0].read_text())
    names = [h["name"] for h in doc["hosts"]]
    assert len(names) == 60 and len(set(names)) == 60
    statuses = {h["status"] for h in doc["hosts"]}
    assert {"unreachable", "timed_out", "auth_failed"} <= statuses  # the fleet's failing hosts are in the report
    verdicts = {p["verdict"]["name"] for h in doc["hosts"] for p in h["plays"] if p.get("verdict")}
    assert "CONFLICT_CONFIRMED" in verdicts and "EDGE_NO_LAN_VISIBILITY" in verdicts
    assert "Lab-Passw0rd!" not in reports[0].read_text()  # the lab password never reaches a report
