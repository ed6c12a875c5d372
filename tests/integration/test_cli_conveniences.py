"""The command line as a new admin and a CI job use it (issue 20): one definition of "needs action" behind the
exit code, --fail-on, Ansible-like --list-hosts / --syntax-check / --check-id, early refusals, and output that
stays readable without a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from auditor.report.schema import load_report

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
AUDIT = str(ROOT / "playbooks" / "mirrored-mode.yml")
EDGE = str(ROOT / "playbooks" / "edge-nodes.yml")
REVERT = str(ROOT / "playbooks" / "remediate-revert-nat.yml")


def auditor(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditor", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    library = {s.name: s for s in load_library()}
    fleet = LabFleet(name_hosts([library[n] for n in ("win-conflict-confirmed", "win-healthy-nat", "edge-ok-native")]),
                     ports="free")
    folder = tmp_path_factory.mktemp("lab")
    with fleet.running():
        inventory, known = fleet.write_inventory(folder / "lab.yml")
        yield fleet, ["-i", str(inventory), "--host-key-checking", "strict", "--known-hosts", str(known),
                      "--store", "none"]


def test_fail_on_sets_when_checks_fail_the_run(lab, tmp_path: Path) -> None:
    _, common = lab
    out = ["--report", "json", "-o", str(tmp_path)]
    assert auditor("run", AUDIT, *common, *out).returncode == 2  # the conflict host needs action
    assert auditor("run", AUDIT, *common, *out, "--fail-on", "never").returncode == 0
    assert auditor("run", AUDIT, *common, *out, "--fail-on", "HEALTHY_NAT").returncode == 2
    assert auditor("run", AUDIT, *common, *out, "--fail-on", "AT_RISK_LATENT").returncode == 0
    assert auditor("run", AUDIT, *common, *out, "--fail-on", "high").returncode == 2
    bad = auditor("run", AUDIT, *common, *out, "--fail-on", "NOT_A_VERDICT")
    assert bad.returncode == 5 and "NOT_A_VERDICT" in bad.stderr and "CONFLICT_CONFIRMED" in bad.stderr


def test_the_outcome_agrees_with_the_verdict(lab, tmp_path: Path) -> None:
    """A healthy verdict with a low-severity note is ok; the exit code follows the hosts' outcomes."""
    _, common = lab
    result = auditor("run", AUDIT, EDGE, *common, "--report", "json", "-o", str(tmp_path))
    report = load_report(next(tmp_path.glob("*.json")))
    for host in report.hosts:
        verdict = host.verdicts()[0]
        needs = report.verdict_catalogue[verdict.name].needs_action
        assert host.status.value == ("failed" if needs else "ok"), (host.name, verdict.name)
    assert result.returncode == (2 if any(h.status.value == "failed" for h in report.hosts) else 0)


def test_list_hosts_and_syntax_check_connect_nowhere(lab) -> None:
    fleet, common = lab
    listed = auditor("run", AUDIT, EDGE, *common, "--list-hosts", "--limit", "windows")
    assert listed.returncode == 0, listed.stderr
    windows = sorted(h.name for h in fleet.hosts if h.platform == "windows")
    assert all(name in listed.stdout for name in windows) and "hosts (0):" in listed.stdout  # the edge play selects none
    checked = auditor("run", AUDIT, EDGE, "--syntax-check", "-i", "nowhere.ini")
    assert checked.returncode == 0 and checked.stdout.split() == ["playbook:", AUDIT, "playbook:", EDGE]
    listed_r = auditor("remediate", REVERT, *common, "--list-hosts")
    assert listed_r.returncode == 0 and all(name in listed_r.stdout for name in windows)


def test_check_id_runs_only_those_checks(lab, tmp_path: Path) -> None:
    _, common = lab
    run = auditor("run", AUDIT, *common, "--check-id", "W-CFG-02,W-NET-01", "--report", "json", "-o", str(tmp_path))
    assert run.returncode in (0, 2), run.stderr
    report = load_report(next(tmp_path.glob("*.json")))
    for host in report.hosts:
        evaluated = {c.id for c in host.all_checks() if c.message != "not selected (--check-id)"}
        assert evaluated <= {"W-CFG-02", "W-NET-01"} and evaluated
    bad = auditor("run", AUDIT, *common, "--check-id", "W-NOPE-99")
    assert bad.returncode == 5 and "W-NOPE-99" in bad.stderr


def test_remediate_check_id_runs_only_the_plays_that_fix_those_checks(lab, tmp_path: Path) -> None:
    _, common = lab
    ports = str(ROOT / "playbooks" / "remediate-ignored-ports.yml")
    both = auditor("remediate", REVERT, ports, *common, "--list-hosts", "--check-id", "W-NET-01")
    assert both.returncode == 0 and both.stdout.count("play #1") == 2, both.stdout + both.stderr
    only = auditor("remediate", REVERT, ports, *common, "--list-hosts", "--check-id", "W-CFG-06")
    assert only.returncode == 0, only.stderr
    assert f"playbook: {ports}" in only.stdout and REVERT not in only.stdout
    run = auditor("remediate", REVERT, ports, *common, "--check", "--check-id", "W-CFG-06", "--report", "json",
                  "-o", str(tmp_path))
    assert run.returncode == 0, run.stderr
    report = load_report(next(tmp_path.glob("*.json")))
    assert {p.playbook for h in report.hosts for p in h.plays} == {ports}
    bad = auditor("remediate", REVERT, *common, "--check", "--check-id", "W-NOPE-99")
    assert bad.returncode == 5 and "W-NOPE-99" in bad.stderr and "W-CFG-02, W-NET-01" in bad.stderr


def test_early_refusals(lab, tmp_path: Path) -> None:
    _, common = lab
    enable = auditor("run", AUDIT, *common, "--enable", "turbo")
    assert enable.returncode == 5 and "'turbo'" in enable.stderr and "probe" in enable.stderr
    nobody = auditor("remediate", REVERT, *common, "--check", "--limit", "no-such-host")
    assert nobody.returncode == 4 and "no hosts matched" in nobody.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("- name: x\n  hosts: all\n  checks: nope\n")
    many = auditor("validate", AUDIT, str(bad), REVERT, str(tmp_path / "missing.yml"))
    assert many.returncode == 4
    assert f"{bad}:" in many.stderr and "missing.yml" in many.stderr and "2 of 4 playbooks have errors" in many.stderr
    assert "remediation: 1 plays" in many.stdout


def test_a_play_may_name_its_hosts_as_a_list(lab, tmp_path: Path) -> None:
    fleet, common = lab
    book = tmp_path / "list.yml"
    book.write_text(Path(EDGE).read_text().replace("hosts: edge", "hosts: [edge, windows]", 1))
    listed = auditor("run", str(book), *common, "--list-hosts")
    assert listed.returncode == 0, listed.stderr
    assert f"hosts ({len(fleet.hosts)}):" in listed.stdout


@pytest.mark.slow
def test_a_thousand_hosts_without_a_terminal_stay_readable(tmp_path: Path) -> None:
    """No TTY (a CI log): progress lines, one line per problem host, a bounded recap; no line wider than 160."""
    out = auditor("demo", "--hosts", "1000", "--store", "none", "--report", "json", "-o", str(tmp_path), timeout=900)
    assert out.returncode in (0, 2, 3), out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 160
    report = load_report(next(tmp_path.glob("*.json")))
    problems = sum(h.status.value != "ok" for h in report.hosts)
    assert problems < len(lines) <= problems + 80, (problems, len(lines))
    assert any(line.startswith("progress: ") or line.startswith("done: 1000/1000") for line in lines)
    assert any("more hosts not shown here: every host is in" in line for line in lines)
    assert "\x1b" not in out.stdout
