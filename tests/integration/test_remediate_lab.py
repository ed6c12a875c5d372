"""`auditor remediate` against the simulated fleet over real transports (WinRS over HTTP with NTLM, SSH).

The lab models apply every remediation step to their state, so a re-audit over the same transports shows
the effect. The CLI runs as a real subprocess while the fleet serves from a background thread.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.commands.run import execute_audit
from auditor.errors import ExitCode
from auditor.inventory.connection import ConnectionDefaults
from auditor.lab.fleet import LAB_PASSWORD, LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from auditor.remediate.cli import execute_remediation
from auditor.results import TaskStatus
from auditor.runner import RunOptions

ROOT = Path(__file__).resolve().parents[2]
REVERT = str(ROOT / "playbooks" / "remediate-revert-nat.yml")
AUDIT = str(ROOT / "playbooks" / "mirrored-mode.yml")
SCENARIOS = ["win-conflict-confirmed", "win-at-risk-mirrored-docker", "win-trap-utf16-bom", "win-healthy-nat",
             "edge-ok-native", "edge-docker-desktop-linux"]


@pytest.fixture
def lab(tmp_path):
    library = {s.name: s for s in load_library()}
    fleet = LabFleet(name_hosts([library[n] for n in SCENARIOS]), ports="free")
    with fleet.running():
        inventory, known = fleet.write_inventory(tmp_path / "lab.yml")
        yield fleet, inventory, known


def host_by_scenario(fleet: LabFleet, scenario: str):
    return next(h for h in fleet.hosts if h.member.scenario.name == scenario)


def snapshot(fleet: LabFleet) -> dict:
    return {h.name: (copy.deepcopy(h.model.state), dict(getattr(h.model, "remediation_files", {}))) for h in fleet.hosts}


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", "remediate", *args], capture_output=True, text=True,
                          input=stdin, timeout=240)


def audit_verdicts(inventory: Path, known: Path, out: Path) -> dict[str, str]:
    from rich.console import Console

    run, _ = execute_audit([AUDIT], [str(inventory)], limit="windows", options=RunOptions(forks=10), formats=["json"],
                           output=out, console=Console(file=open("/dev/null", "w")), quiet=True,
                           connection=ConnectionDefaults(host_key_checking="strict", known_hosts_file=str(known)))
    return {h.name: ",".join(v.name for v in h.verdicts()) for h in run.hosts}


def test_check_then_fix_then_nothing_left_to_do(lab, tmp_path):
    fleet, inventory, known = lab
    ssh = ["--host-key-checking", "strict", "--known-hosts", str(known)]
    names = {s: host_by_scenario(fleet, s).name for s in SCENARIOS}
    before = audit_verdicts(inventory, known, tmp_path / "a0")
    assert before[names["win-conflict-confirmed"]] == "CONFLICT_CONFIRMED"
    assert before[names["win-at-risk-mirrored-docker"]] == "AT_RISK_MIRRORED_DOCKER"
    assert before[names["win-trap-utf16-bom"]] == "AT_RISK_MIRRORED_DOCKER"

    # 1. check mode: shows what would change (with diffs), changes nothing on any host, byte for byte
    state = snapshot(fleet)
    proc = cli(REVERT, "-i", str(inventory), "--check", "--diff", "--enable", "restart", "-o", str(tmp_path / "r1"), *ssh)
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert "3 would change" in proc.stdout and "+#networkingMode=mirrored" in proc.stdout
    assert snapshot(fleet) == state

    # 2. the real run (no terminal: --yes), restarts opted in; reports in every format
    bob = host_by_scenario(fleet, "win-trap-utf16-bom").model.state.user("bob")
    original_utf16 = bob.wslconfig
    proc = cli(REVERT, "-i", str(inventory), "--yes", "--enable", "restart", "--report", "json,html,junit,csv",
               "-o", str(tmp_path / "r2"), *ssh)
    assert proc.returncode == ExitCode.OK, proc.stdout + proc.stderr
    report = json.loads(next((tmp_path / "r2").glob("*.json")).read_text())
    assert report["kind"] == "remediation" and report["options"]["check_mode"] is False
    tasks = {h["name"]: h["plays"][0]["tasks"] for h in report["hosts"]}
    edit = tasks[names["win-conflict-confirmed"]][0]
    assert edit["status"] == "changed" and edit["backup_path"].endswith(".bak") and "+#networkingMode" in edit["diff"]
    # edit, restart the VM, (no separate restart-pending step: the edit's restart did it), restart Docker Desktop
    assert [t["status"] for t in tasks[names["win-conflict-confirmed"]]] == ["changed", "changed", "skipped", "changed"]
    assert all(t["status"] == "skipped" for t in tasks[names["win-healthy-nat"]])

    # the UTF-16LE file stays UTF-16LE with BOM and CRLF; its backup holds the original bytes
    assert bob.wslconfig.startswith(b"\xff\xfe") and b"\r\x00\n\x00" in bob.wslconfig
    assert bob.wslconfig[2:].decode("utf-16-le").count("\n") == bob.wslconfig[2:].decode("utf-16-le").count("\r\n")
    assert "#networkingMode=mirrored" in bob.wslconfig[2:].decode("utf-16-le")
    backups = host_by_scenario(fleet, "win-trap-utf16-bom").model.remediation_files
    assert list(backups.values()) == [original_utf16]

    # the re-audit over WinRM shows the effect
    after = audit_verdicts(inventory, known, tmp_path / "a1")
    for scenario in ("win-conflict-confirmed", "win-at-risk-mirrored-docker", "win-trap-utf16-bom", "win-healthy-nat"):
        assert after[names[scenario]] == "HEALTHY_NAT", (scenario, after)

    # 3. a second run changes nothing
    state = snapshot(fleet)
    proc = cli(REVERT, "-i", str(inventory), "--yes", "--enable", "restart", "-o", str(tmp_path / "r3"), *ssh)
    assert proc.returncode == ExitCode.OK and "0 changed" in proc.stdout, proc.stdout
    assert snapshot(fleet) == state

    # secrets never appear in output or reports
    for text in [proc.stdout, proc.stderr, *(p.read_text() for p in (tmp_path / "r2").iterdir())]:
        assert LAB_PASSWORD not in text


def test_a_failed_write_keeps_the_original_file(lab, tmp_path):
    fleet, inventory, known = lab
    host = host_by_scenario(fleet, "win-conflict-confirmed")
    host.model.remediation_faults = {"write"}
    dev1 = host.model.state.user("dev1")
    original = dev1.wslconfig
    run = execute_remediation([REVERT], [str(inventory)], limit=host.name, options=RunOptions(enabled={"restart"}),
                              check_mode=False, connection=ConnectionDefaults(host_key_checking="strict", known_hosts_file=str(known)))
    (result,) = run.hosts
    statuses = [t.status for t in result.all_tasks()]
    assert statuses == [TaskStatus.failed, TaskStatus.skipped, TaskStatus.skipped, TaskStatus.skipped]
    failed = result.all_tasks()[0]
    assert "NOT changed (original kept)" in failed.message and failed.backup_path
    assert result.status.value == "failed"
    assert dev1.wslconfig == original and host.model.remediation_files[failed.backup_path] == original
    assert dev1.vm_mode == "mirrored"  # no restart after a failed edit


def test_a_write_whose_answer_is_lost_says_the_file_may_have_changed_and_where_the_backup_is(lab, tmp_path):
    fleet, inventory, known = lab
    host = host_by_scenario(fleet, "win-conflict-confirmed")
    host.model.remediation_faults = {"lose-reply"}
    dev1 = host.model.state.user("dev1")
    original = dev1.wslconfig
    run = execute_remediation([REVERT], [str(inventory)], limit=host.name, options=RunOptions(enabled={"restart"}),
                              check_mode=False, connection=ConnectionDefaults(host_key_checking="strict", known_hosts_file=str(known)))
    (result,) = run.hosts
    failed = result.all_tasks()[0]
    assert failed.status is TaskStatus.failed and result.status.value == "failed"
    assert "the file may have changed; backup at" in failed.message and failed.backup_path
    assert failed.backup_path in failed.message
    assert dev1.wslconfig != original  # it did change on the host
    assert host.model.remediation_files[failed.backup_path] == original  # and the backup named is the original


def test_without_a_terminal_or_yes_it_refuses(lab, tmp_path):
    fleet, inventory, known = lab
    state = snapshot(fleet)
    proc = cli(REVERT, "-i", str(inventory), "-o", str(tmp_path), stdin="y\n")
    assert proc.returncode == ExitCode.USAGE
    assert "no terminal to ask on" in proc.stderr and "--check" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert snapshot(fleet) == state


def test_edge_nodes_get_a_report_and_no_change(lab, tmp_path):
    fleet, inventory, known = lab
    state = snapshot(fleet)
    run = execute_remediation([str(ROOT / "playbooks" / "remediate-edge-docker-engine.yml")], [str(inventory)], limit=None,
                              options=RunOptions(), check_mode=False,
                              connection=ConnectionDefaults(host_key_checking="strict", known_hosts_file=str(known)))
    by_name = {h.name: h for h in run.hosts}
    dd = by_name[host_by_scenario(fleet, "edge-docker-desktop-linux").name].all_tasks()
    native = by_name[host_by_scenario(fleet, "edge-ok-native").name].all_tasks()
    assert [t.status for t in dd] == [TaskStatus.ok, TaskStatus.skipped] and "docker-ce" in dd[0].message
    assert [t.status for t in native] == [TaskStatus.skipped, TaskStatus.ok]
    assert snapshot(fleet) == state


RECOMMENDED = str(ROOT / "playbooks" / "remediate-mirrored-recommended.yml")


def _changes(run) -> dict[str, list[str]]:
    return {h.name: [f"{t.name} [{t.loop_item}]" for t in h.all_tasks() if t.status == TaskStatus.changed] for h in run.hosts}


def test_revert_nat_and_recommended_mirrored_never_flip_flop(tmp_path):
    """Every reachable Windows scenario of the library: revert-nat, then recommended-mirrored, then both again.
    The second round changes nothing (no host is set back and forth), and revert-nat touches only hosts whose
    verdict called for it (facts.fix.kind == 'revert-nat')."""
    scenarios = [s for s in load_library() if s.platform == "windows" and s.reachable]
    fleet = LabFleet(name_hosts(scenarios), ports="free")
    opts = RunOptions(forks=16, enabled={"restart"})
    with fleet.running():
        inventory, _ = fleet.write_inventory(tmp_path / "lab.yml")
        before = audit_verdicts(inventory, tmp_path / "none", tmp_path / "a0")
        first = [_changes(execute_remediation([pb], [str(inventory)], limit="windows", options=opts, check_mode=False))
                 for pb in (REVERT, RECOMMENDED)]
        second = [_changes(execute_remediation([pb], [str(inventory)], limit="windows", options=opts, check_mode=False))
                  for pb in (REVERT, RECOMMENDED)]
    assert all(not c for run in second for c in run.values()), second
    reverted = {h for h, c in first[0].items() if c}
    recommended = {h for h, c in first[1].items() if c}
    assert reverted and recommended and not reverted & recommended
    wanted = {"CONFLICT_CONFIRMED", "AT_RISK_MIRRORED_DOCKER", "AT_RISK_LATENT"}
    assert all(before[h] in wanted for h in reverted), {h: before[h] for h in reverted}
    by_name = {h.name: h.member.scenario.name for h in fleet.hosts}
    # never another user's file, never a policy-made mirrored VM, never a WSL-only machine
    for h in reverted:
        assert by_name[h] not in ("win-trap-owner-differs", "win-policy-mirrored-default", "win-policy-mirrored-override",
                                  "win-mirrored-without-docker", "win-podman-mirrored", "win-rancher-mirrored")


def test_docker_desktop_older_than_4_37_is_restarted_without_the_desktop_cli(tmp_path):
    """Docker Desktop 4.30 has no `docker desktop restart`: the module quits and starts it as its user instead."""
    library = {s.name: s for s in load_library()}
    old = library["win-conflict-confirmed"].model_copy(deep=True)
    old.windows.docker_desktop.version = "4.30.0"  # type: ignore[union-attr]
    fleet = LabFleet(name_hosts([old]), ports="free")
    model = fleet.hosts[0].model
    with fleet.running():
        inventory, _ = fleet.write_inventory(tmp_path / "lab.yml")
        run = execute_remediation([REVERT], [str(inventory)], limit=None, options=RunOptions(enabled={"restart"}),
                                  check_mode=False)
        tasks = run.hosts[0].all_tasks()
        assert [t.status for t in tasks] == [TaskStatus.changed, TaskStatus.changed, TaskStatus.skipped, TaskStatus.changed]
        assert any(a.startswith("quit and start Docker Desktop as CORP\\dev1") for a in model.actions), model.actions  # type: ignore[union-attr]
        assert audit_verdicts(inventory, tmp_path / "none", tmp_path / "a1")[fleet.hosts[0].name] == "HEALTHY_NAT"
