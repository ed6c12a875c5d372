"""The simulated fleet with --kerberos: `auditor run` uses the inventory and krb5.conf the lab writes, as
written; `auditor doctor` on a healthy and on broken hosts. One real KDC (the session's), real listeners."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.lab.cli import build_members
from auditor.lab.fleet import LabFleet
from auditor.transports.wsman import kerberos

pytestmark = pytest.mark.integration
SCENARIOS = Path(__file__).resolve().parents[2] / "auditor" / "lab" / "scenarios"
PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "mirrored-mode.yml"


@pytest.fixture
def lab(kdc, tmp_path):
    kerberos.forget_tickets()  # this run's krb5.conf is the one the lab writes
    members = build_members([SCENARIOS / f"{n}.yml" for n in ("win-healthy-nat", "win-conflict-confirmed",
                                                               "win-wrong-password", "win-no-wsl", "win-remediated",
                                                               "edge-ok-native")],
                            None, 1)
    names = [m.name for m in members]
    faults = {names[3]: {"skew": 900.0}, names[4]: {"unknown_spn": True}}
    fleet = LabFleet(members, ports="free", faults=faults, kerberos=True, realm=kdc.realm)
    with fleet.running():
        inventory, _ = fleet.write_inventory(tmp_path / "lab.yml")
        yield fleet, inventory, names
    kerberos.forget_tickets()


def test_auditor_run_uses_the_lab_inventory_and_krb5_conf_as_written(lab, tmp_path):
    fleet, inventory, names = lab
    text = inventory.read_text()
    assert "ansible_winrm_transport: kerberos" in text and "auditor_krb5_config" in text
    assert Path(inventory.with_name("lab.krb5.conf")).read_text().count("dns_canonicalize_hostname = false") == 1
    code = main(["run", str(PLAYBOOK), "-i", str(inventory), "-o", str(tmp_path / "out"), "--report", "json", "-q",
                 "--connect-timeout", "5"])
    report = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    status = {h["name"]: (h["status"], h.get("error") or "") for h in report["hosts"]}
    assert code == 3
    assert status[names[0]][0] == "ok" and status[names[1]][0] == "failed"  # audited over Kerberos (a conflict found)
    assert status[names[2]][0] == "auth_failed" and "rejected the password" in status[names[2]][1]
    assert status[names[3]][0] == "auth_failed" and "clock skew" in status[names[3]][1]
    assert status[names[4]][0] == "auth_failed" and f"no service principal HTTP/{names[4]}" in status[names[4]][1]


def test_doctor_on_a_healthy_and_on_broken_hosts(lab, capsys):
    fleet, inventory, names = lab
    assert main(["doctor", names[0], "-i", str(inventory)]) == 0
    out = capsys.readouterr().out
    for step in ("DNS", "TCP", "auth methods", "clock", "Kerberos", "credentials", "quotas"):
        assert f"ok   {step}" in out, (step, out)
    assert "MaxShellsPerUser=2147483647" in out and "MaxEnvelopeSizekb=500" in out and "0 problem(s)" in out

    assert main(["doctor", names[3], "-i", str(inventory)]) == 3
    out = capsys.readouterr().out
    assert "FAIL clock" in out and "fix: sync the clocks" in out and "FAIL credentials" in out

    assert main(["doctor", names[4], "-i", str(inventory)]) == 3
    out = capsys.readouterr().out
    assert "FAIL Kerberos" in out and f"fix: register it (setspn -S HTTP/{names[4]}" in out

    assert main(["doctor", "no-such-host", "-i", str(inventory)]) == 5


def test_doctor_on_ssh_hosts_checks_the_host_key(lab, tmp_path, capsys):
    fleet, inventory, names = lab
    edge = next(h.name for h in fleet.hosts if h.platform == "edge")
    assert main(["doctor", edge, "-i", str(inventory)]) == 0
    out = capsys.readouterr().out
    for step in ("DNS", "TCP", "host key", "credentials"):
        assert f"ok   {step}" in out, (step, out)
    empty = tmp_path / "empty.known_hosts"
    empty.write_text("")
    other = tmp_path / "other.yml"
    other.write_text(inventory.read_text().replace(str(inventory.with_name("lab.known_hosts")), str(empty)))
    assert main(["doctor", edge, "-i", str(other)]) == 3
    out = capsys.readouterr().out
    assert "FAIL host key" in out and "fix: add it: ssh-keyscan" in out
