"""The host models answer what real hosts answer, through the real servers and transports."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from auditor.collectors.batch import BatchItem, build_ps_batch, new_nonce, split_batch_output
from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.models.recognize import SCRIPTS, edge_commands
from auditor.lab.scenarios import load_library
from auditor.inventory.connection import resolve_spec
from auditor.transports.base import ConnectionRequest, get_transport

LIB = {s.name: s for s in load_library()}
AUDIT = (SCRIPTS / "windows_audit.ps1").read_text(encoding="utf-8")


async def _run_windows(host, script: str):
    spec = resolve_spec(ConnectionRequest(name=host.name, host=host.address, port=host.port, connection="winrm", user="auditor",
                                          password="Lab-Passw0rd!",
                                          vars={"ansible_winrm_scheme": "http", "ansible_winrm_transport": "ntlm"}))
    transport = get_transport(spec)
    await transport.connect()
    try:
        nonce = new_nonce()
        items = [BatchItem("audit", AUDIT), BatchItem("other", script)]
        res = await transport.run(build_ps_batch(items, nonce), timeout=10)
        return split_batch_output(res.stdout, res.stderr, nonce, ["audit", "other"])
    finally:
        await transport.close()


def test_windows_model_over_winrs(tmp_path):
    fleet = LabFleet(name_hosts([LIB["win-trap-utf16-bom"], LIB["win-no-wsl"]]), ports="free")
    with fleet.running():
        bom, nowsl = (asyncio.run(_run_windows(h, "Get-Frobnicator -All")) for h in fleet.hosts)
    doc = json.loads(bom["audit"].stdout)
    assert doc["schema"] == "wsl-docker-audit/1"
    raw = base64.b64decode(next(p for p in doc["profiles"] if p["Account"] == "CORP\\bob")["WslConfig"]["Base64"])
    assert raw.startswith(b"\xff\xfe") and "networkingMode=mirrored".encode("utf-16-le") in raw
    assert doc["profiles"][0]["WslConfig"] is None  # the WinRM account's own profile has no .wslconfig
    # an unknown command: Windows' error on stderr, rc 1; the collector around it still answers
    assert bom["other"].rc == 1 and b"is not recognized" in bom["other"].stderr
    # PowerShell 5.1: a one-element pipeline result is a bare object, not a one-element array
    nodoc = json.loads(nowsl["audit"].stdout)
    assert nodoc["wsl"]["MsiVersion"] is None and isinstance(nodoc["wsl"]["Service"], dict)
    assert base64.b64decode(nodoc["wslVersion"]["Base64"]).decode("utf-16-le").startswith("Invalid command line option")


def test_conflict_rule_listeners():
    """Mirrored + Docker Desktop on WSL2: no com.docker.backend listener; NAT: listeners on 0.0.0.0 and ::."""
    fleet = LabFleet(name_hosts([LIB["win-conflict-confirmed"], LIB["win-healthy-nat"], LIB["win-trap-windows10"]]))
    conflict, nat, win10 = (json.loads(h.model.run_collector("audit", AUDIT).stdout) for h in fleet.hosts)  # type: ignore[union-attr]
    assert not [r for r in conflict["tcpListen"] if r["Process"] == "com.docker.backend"]
    assert "0.0.0.0:8080-\\u003e80/tcp" in conflict["docker"]["Ps"]  # docker's Go JSON escapes '>' 
    assert {(r["LocalAddress"], r["LocalPort"]) for r in nat["tcpListen"] if r["Process"] == "com.docker.backend"} >= {
        ("0.0.0.0", 8080), ("::", 8080)}
    assert any(r["LocalPort"] == 8080 for r in win10["tcpListen"])  # fell back to NAT
    assert "Windows version 19045.5011 does not have the required features" in json.dumps(win10["wslEvents"])


def test_edge_model_formats():
    fleet = LabFleet(name_hosts([LIB["edge-docker-desktop-linux"], LIB["edge-no-docker"]]))
    dd, none = (h.model for h in fleet.hosts)
    cmds = edge_commands()
    ps = dd.run_collector("docker_ps", cmds["docker_ps"]).stdout.decode()  # type: ignore[union-attr]
    assert json.loads(ps.splitlines()[0])["Names"] == "edge-node"
    assert dd.run_collector("docker_context", cmds["docker_context"]).stdout == b"desktop-linux\n"  # type: ignore[union-attr]
    net = dd.run_collector("container_net", cmds["container_net"]).stdout.decode()  # type: ignore[union-attr]
    assert "192.168.65.3" in net and "192.168.10.41" not in net
    missing = none.run_collector("docker_version", cmds["docker_version"])  # type: ignore[union-attr]
    assert missing.rc == 127 and b"docker: not found" in missing.stderr
    unknown = none.run_collector("x", "frobnicate --all")  # type: ignore[union-attr]
    assert unknown.rc == 127 and b"frobnicate: not found" in unknown.stderr


def test_the_audit_script_is_recognised_as_ansible_encodes_a_raw_task():
    """ansible's PowerShell shell strips every line and drops blank ones before encoding a ``raw`` task;
    the lab must still answer the shipped script (the benchmark checks ansible gets real answers)."""
    from auditor.lab.models.recognize import SCRIPTS, windows_collector

    text = (SCRIPTS / "windows_audit.ps1").read_text(encoding="utf-8-sig")
    as_ansible_sends = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    assert windows_collector(as_ansible_sends) == "audit"
    assert windows_collector(as_ansible_sends + "\nGet-Process") is None


def test_the_one_liners_of_an_idiomatic_playbook_are_answered_from_the_hosts_state():
    """Each PowerShell one-liner the benchmark's idiomatic ansible playbook sends gets, on every Windows scenario,
    the facts the collector reports for the same host (never Windows' "is not recognized"); text that is not one
    of them, even nearly, stays unknown."""
    from auditor.lab.models.windows_oneliners import ONE_LINERS, one_liner

    windows = [s for s in LIB.values() if s.name.startswith("win-")]
    fleet = LabFleet(name_hosts(windows))
    assert len(ONE_LINERS) == 16 and len(fleet.hosts) >= 20
    for host in fleet.hosts:
        model = host.model
        doc = json.loads(model.run_collector("audit", AUDIT).stdout)  # type: ignore[union-attr]
        answers = {o.name: model.run_powershell(o.command) for o in ONE_LINERS}  # type: ignore[union-attr]
        for o in ONE_LINERS:
            assert b"is not recognized" not in answers[o.name].stderr, (host.name, o.name)
            if o.marker is not None:
                assert o.marker.encode() in answers[o.name].stdout, (host.name, o.name)
        os_ = json.loads(answers["os version"].stdout)
        assert os_ == {k: doc["os"][k] for k in os_} and os_["CurrentBuild"] == doc["os"]["CurrentBuild"]
        assert answers["os caption"].stdout.decode().strip() == doc["os"]["Caption"]
        profiles = json.loads(answers["user profiles"].stdout)
        profiles = profiles if isinstance(profiles, list) else [profiles]
        assert [p["SID"] for p in profiles] == [p["SID"] for p in doc["profiles"]]
        ports = json.loads(answers["tcp listeners"].stdout)
        assert sorted(r["LocalPort"] for r in ports) == sorted(r["LocalPort"] for r in doc["tcpListen"])
        assert (answers["docker ps"].rc == 0) == doc["docker"]["Reachable"]
        if doc["docker"]["Reachable"]:
            assert answers["docker ps"].stdout.decode() == doc["docker"]["Ps"]
        wsl = base64.b64decode(doc["wslVersion"]["Base64"])
        assert answers["wsl version"].stdout == wsl
        for p in doc["profiles"]:
            if p["WslConfig"] and "Base64" in p["WslConfig"] and p["LocalPath"].startswith("C:\\Users\\"):
                text = base64.b64decode(p["WslConfig"]["Base64"])
                wanted = text.decode("utf-16") if text.startswith(b"\xff\xfe") else text.decode("utf-8-sig", "replace")
                assert wanted in answers["wslconfig files"].stdout.decode()
    assert one_liner("  wsl.exe   --version ") is ONE_LINERS[5]
    assert one_liner("wsl.exe --status") is None
    assert one_liner(ONE_LINERS[0].command.replace("CurrentBuild", "CurrentBuildNumber")) is None
