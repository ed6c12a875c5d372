"""`auditor run` end to end over WinRM against lab Windows hosts (one healthy, one per failure class)."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from auditor.lab.winrs import Faults, WinrsFleet, WinrsHostConfig

from .winrm_lab import private_network

pytestmark = pytest.mark.integration

PLAYBOOK = """\
- name: Windows basics
  hosts: all
  gather:
    windows:
      - {name: computer, command: "hostname", parser: text}
      - {name: psversion, command: "$PSVersionTable.PSVersion.ToString()", parser: text}
  checks:
    - id: W-PS51
      title: Windows PowerShell 5.1 answers
      severity: info
      that: "facts.psversion.startswith('5.1')"
      evidence: {computer: facts.computer, version: facts.psversion}
"""

EXPECTED = {"win01": "ok", "tls01": "ok", "badpw01": "auth_failed", "refused01": "unreachable",
            "hang01": "timed_out"}


async def test_auditor_run_over_winrm(tmp_path):
    hosts = [WinrsHostConfig("win01"), WinrsHostConfig("tls01", scheme="https"),
             WinrsHostConfig("badpw01", faults=Faults(wrong_password=True)),
             WinrsHostConfig("refused01", faults=Faults(refused=True)),
             WinrsHostConfig("hang01", faults=Faults(hang=True))]
    playbook = tmp_path / "windows.yml"
    playbook.write_text(PLAYBOOK)
    async with WinrsFleet(hosts, network=private_network(), workdir=tmp_path / "lab") as fleet:
        inventory = fleet.write_inventory(tmp_path / "inv.yml")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "auditor", "run", str(playbook), "-i", str(inventory), "-o", str(tmp_path / "out"),
            "--connect-timeout", "2", "--command-timeout", "4", "--host-deadline", "8", "-q",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
    reports = list((tmp_path / "out").glob("auditor-*.json"))
    assert len(reports) == 1, err.decode()[-2000:]
    report = json.loads(reports[0].read_text())
    status = {h["name"]: h["status"] for h in report["hosts"]}
    assert status == EXPECTED, (status, err.decode()[-2000:])
    win01 = next(h for h in report["hosts"] if h["name"] == "win01")
    check = win01["plays"][0]["checks"][0]
    assert check["status"] == "passed" and check["evidence"]["computer"].strip() == "WIN01"
    # the lab password never reaches the report or the console
    assert hosts[0].password not in json.dumps(report) and hosts[0].password not in out.decode() + err.decode()
