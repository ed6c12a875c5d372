"""`auditor run` end to end against twenty real SSH servers (the in-process asyncssh lab), some broken.

The CLI runs as a real subprocess; the lab fleet serves from the test's event loop meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

from auditor.errors import ExitCode
from auditor.lab.sshd import LinuxHostModel, SshFaults, SshLabFleet, SshLabHost, lab_address

PLAYBOOK = Path(__file__).parent.parent / "data" / "playbooks" / "linux-basics.yml"

# name -> (faults, expected host status)
FLEET = {
    **{f"good-{i:02d}": (SshFaults(), "ok") for i in range(1, 12)},
    "alpine-01": (SshFaults(), "failed"),
    "slow-01": (SshFaults(delay=0.5), "ok"),
    "rejects-01": (SshFaults(reject_auth=True), "auth_failed"),
    "rejects-02": (SshFaults(reject_auth=True), "auth_failed"),
    "closed-01": (SshFaults(closed=True), "unreachable"),
    "silent-01": (SshFaults(silent=True), "timed_out"),
    "hangs-01": (SshFaults(hang=True), "timed_out"),
    "garbage-01": (SshFaults(garbage="random"), "error"),
    "reset-01": (SshFaults(reset="command"), None),  # error or unreachable: the connection dies mid-command
}


class AlpineModel(LinuxHostModel):
    def run_command(self, command):
        outcome = super().run_command(command)
        if command.strip() == "cat /etc/os-release":
            outcome.stdout = b'ID=alpine\nPRETTY_NAME="Alpine Linux v3.20"\n'
        return outcome


@pytest.fixture
async def fleet():
    hosts = []
    for i, (name, (faults, _)) in enumerate(FLEET.items(), 1):
        model = AlpineModel(hostname=name) if name.startswith("alpine") else LinuxHostModel(hostname=name)
        hosts.append(SshLabHost(name, lab_address(i, "127.0.9"), model, faults, port=0))
    async with SshLabFleet(hosts) as lab:
        yield lab


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "auditor", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.mark.parametrize("workers", ["1", "3"])
async def test_twenty_hosts_all_reported_with_the_right_outcome(fleet, tmp_path, workers):
    """Also across worker processes (--workers 3): the same hosts, outcomes, events and report."""
    inventory = fleet.write_inventory(tmp_path / "inv.yml")
    known_hosts = fleet.write_known_hosts(tmp_path / "known_hosts")
    out_dir = tmp_path / "out"
    started = time.monotonic()
    rc, stdout, stderr = await run_cli(
        "run", str(PLAYBOOK), "-i", str(inventory), "-o", str(out_dir), "--known-hosts", str(known_hosts),
        "--host-key-checking", "strict", "--connect-timeout", "2", "--command-timeout", "3", "--host-deadline", "6",
        "--workers", workers,
    )
    elapsed = time.monotonic() - started
    assert rc == ExitCode.HOSTS_UNREACHABLE, stderr
    reports = list(out_dir.glob("auditor-*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    hosts = {h["name"]: h for h in report["hosts"]}
    assert set(hosts) == set(FLEET), "every host appears exactly once"
    for name, (_, expected) in FLEET.items():
        if expected is None:
            assert hosts[name]["status"] in ("error", "unreachable"), (name, hosts[name])
        else:
            assert hosts[name]["status"] == expected, (name, hosts[name]["status"], hosts[name]["error"])
    good = hosts["good-01"]
    checks = {c["id"]: c for c in good["plays"][0]["checks"]}
    assert checks["T-KERNEL"]["status"] == "passed" and checks["T-KERNEL"]["evidence"]["kernel"]
    assert {c["id"]: c for c in hosts["alpine-01"]["plays"][0]["checks"]}["T-DEBIAN"]["message"] == "host runs alpine"
    assert re.search(r"deadline|within|timed out", hosts["hangs-01"]["error"])
    # the slowest host is bounded by its deadline (6 s) plus start-up, not by the hung host
    assert elapsed < 6 + 20
    assert "20 hosts" in stdout
    assert report["options"]["workers"] == int(workers)
    retry = (out_dir / "last.retry").read_text().split()
    assert set(retry) == {n for n, (_, e) in FLEET.items() if e != "ok"}


async def test_limit_from_retry_file_and_bad_playbook_exit_code(fleet, tmp_path):
    inventory = fleet.write_inventory(tmp_path / "inv.yml")
    known_hosts = fleet.write_known_hosts(tmp_path / "known_hosts")
    (tmp_path / "retry").write_text("good-01\ngood-02\n")
    rc, _, stderr = await run_cli(
        "run", str(PLAYBOOK), "-i", str(inventory), "-o", str(tmp_path / "o"), "--known-hosts", str(known_hosts),
        "--limit", f"@{tmp_path / 'retry'}", "-q",
    )
    assert rc == ExitCode.OK, stderr
    report = json.loads(next((tmp_path / "o").glob("auditor-*.json")).read_text())
    assert sorted(h["name"] for h in report["hosts"]) == ["good-01", "good-02"]

    bad = tmp_path / "bad.yml"
    bad.write_text(PLAYBOOK.read_text().replace("severity: low", "severity: urgent"))
    rc, stdout, stderr = await run_cli("run", str(bad), "-i", str(inventory), "-o", str(tmp_path / "o2"))
    assert rc == ExitCode.BAD_INPUT
    assert f"{bad}:" in stderr and "severity" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "o2").exists(), "nothing written half-way"


async def test_vaulted_password_opens_with_vault_password_file_and_never_leaks(fleet, tmp_path):
    """The SSH password lives in the inventory as a !vault value made by ansible-vault itself."""
    vault_pass = tmp_path / "vault-pass"
    vault_pass.write_text("correct horse battery\n")
    ansible_vault = Path(sys.executable).parent / "ansible-vault"
    proc = await asyncio.create_subprocess_exec(
        str(ansible_vault), "encrypt_string", "--vault-password-file", str(vault_pass), fleet.password,
        "--name", "ansible_password", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    encrypted, err = await proc.communicate()
    assert proc.returncode == 0, err
    host = fleet.host("good-01")
    inventory = tmp_path / "inv.yml"
    vaulted = textwrap.indent(encrypted.decode(), " " * 6)
    inventory.write_text(
        "all:\n  hosts:\n    good-01:\n"
        f"      ansible_host: {host.address}\n      ansible_port: {host.bound_port}\n      ansible_user: {fleet.user}\n"
        f"{vaulted}\n"
    )
    known_hosts = fleet.write_known_hosts(tmp_path / "known_hosts")
    args = ["run", str(PLAYBOOK), "-i", str(inventory), "-o", str(tmp_path / "o"), "--known-hosts", str(known_hosts)]
    rc, _, stderr = await run_cli(*args, "--vault-password-file", str(vault_pass))
    assert rc == ExitCode.OK, stderr
    report_text = next((tmp_path / "o").glob("auditor-*.json")).read_text()
    assert fleet.password not in report_text
    assert json.loads(report_text)["hosts"][0]["status"] == "ok"
    # without the vault password: a clear one-line error, no traceback, no secret
    rc, stdout, stderr = await run_cli(*args)
    assert rc in (ExitCode.BAD_INPUT, ExitCode.HOSTS_UNREACHABLE, ExitCode.USAGE), (rc, stderr)
    assert "Traceback" not in stderr and fleet.password not in stdout + stderr
