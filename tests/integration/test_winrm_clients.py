"""Third-party WinRM clients (pywinrm, ansible-core) against the lab WinRS server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import winrm

from auditor.lab.winrs import WinrsFleet, WinrsHostConfig

from .winrm_lab import private_network

pytestmark = pytest.mark.integration


@pytest.fixture
async def fleet(tmp_path):
    hosts = [WinrsHostConfig("win01"), WinrsHostConfig("win02", scheme="https")]
    async with WinrsFleet(hosts, network=private_network(), workdir=tmp_path / "lab") as lab:
        yield lab


def _session_results(url: str, user: str, password: str, transport: str, **kw):
    s = winrm.Session(url, auth=(user, password), transport=transport, **kw)
    out = {
        "cmd": s.run_cmd("hostname"),
        "args": s.run_cmd("ipconfig", ["/all"]),
        "ps": s.run_ps("$PSVersionTable"),
        "exit": s.run_ps("exit 3"),
        "unknown": s.run_ps("Get-Nothing"),
        "cmd_unknown": s.run_cmd("frobnicate"),
    }
    # run_ps/run_cmd close their session; open one more shell to see whether bodies were sealed
    p = s.protocol
    shell = p.open_shell()
    sealed = p.transport.encryption is not None
    p.close_shell(shell)
    return out, sealed


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
async def test_pywinrm_session_run_cmd_and_run_ps(fleet, transport):
    ep = fleet.endpoints[0]
    res, sealed = await asyncio.to_thread(_session_results, ep.url, ep.user, ep.password, transport)
    assert sealed is (transport == "ntlm"), "NTLM over HTTP must use MS-WSMV message encryption"
    assert (res["cmd"].status_code, res["cmd"].std_out) == (0, b"WIN01\r\n")
    assert b"IPv4 Address" in res["args"].std_out
    assert res["ps"].status_code == 0 and b"PSVersion" in res["ps"].std_out and b"5.1" in res["ps"].std_out
    assert res["exit"].status_code == 3
    unknown = res["unknown"]
    assert unknown.status_code == 1
    # run_ps already turns CLIXML into text
    assert "The term 'Get-Nothing' is not recognized as the name of a cmdlet" in unknown.std_err.decode()
    assert res["cmd_unknown"].status_code == 1
    assert b"is not recognized as an internal or external command" in res["cmd_unknown"].std_err


async def test_pywinrm_https_validates_against_the_lab_ca(fleet):
    ep = fleet.endpoints[1]
    r = await asyncio.to_thread(
        lambda: winrm.Session(ep.url, auth=(ep.user, ep.password), transport="ntlm",
                              server_cert_validation="validate", ca_trust_path=ep.ca_path).run_cmd("whoami"))
    assert (r.status_code, r.std_out) == (0, b"win02\\auditor\r\n")


async def test_pywinrm_rejected_password_is_invalid_credentials(fleet):
    ep = fleet.endpoints[0]
    for transport in ("basic", "ntlm"):
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            await asyncio.to_thread(
                lambda: winrm.Session(ep.url, auth=(ep.user, "wrong"), transport=transport).run_cmd("hostname"))


def _ansible(inventory: Path, host: str, command: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "false", "ANSIBLE_LOCAL_TEMP": str(tmp / "ans-tmp"),
           "ANSIBLE_HOME": str(tmp / "ans-home"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run([str(bin_dir / "ansible"), host, "-i", str(inventory), "-m", "raw", "-a", command],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
async def test_ansible_raw_over_winrm(fleet, tmp_path):
    inventory = fleet.write_inventory(tmp_path / "inv.yml")
    ok = await asyncio.to_thread(_ansible, inventory, "win01", "hostname", tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "win01 | CHANGED | rc=0" in ok.stdout and "WIN01" in ok.stdout
    tls = await asyncio.to_thread(_ansible, inventory, "win02", "whoami", tmp_path)
    assert tls.returncode == 0, tls.stdout + tls.stderr
    assert "win02\\auditor" in tls.stdout
    failed = await asyncio.to_thread(_ansible, inventory, "win01", "exit 3", tmp_path)
    assert failed.returncode == 2 and "rc=3" in failed.stdout, failed.stdout + failed.stderr
    basic = tmp_path / "basic.yml"
    basic.write_text(inventory.read_text().replace("ansible_winrm_transport: ntlm", "ansible_winrm_transport: basic"))
    unknown = await asyncio.to_thread(_ansible, basic, "win01", "Get-Nothing", tmp_path)
    assert unknown.returncode == 2 and "rc=1" in unknown.stdout
    assert "is not recognized as the name of a cmdlet" in unknown.stdout + unknown.stderr
