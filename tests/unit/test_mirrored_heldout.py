"""Held-out verdict cases (issue 13), written from the issue text BEFORE the rule code they test.

Each case is a hand-written collector document (the JSON windows_audit.ps1 prints, PowerShell 5.1 shapes) or
edge collector output, built here from scratch (not from the shared sample), run through the real path:
parser -> deriver -> shipped checks -> verdict. The expected verdicts come from the issue's rules, not from
running the code: do not "fix" an expectation here to match an output without re-reading the issue.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.checks import evaluate_checks
from auditor.mirrored.verdicts import edge_verdict, windows_verdict
from auditor.mirrored.edge import derive_edge
from auditor.mirrored.windows import derive_windows
from auditor.mirrored.winaudit import parse_windows_audit, user_context_doc
from auditor.parsers.registry import CollectorOutput, ParseError, get_parser
from auditor.playbook.loader import load_playbook
from auditor.results import CheckStatus

ROOT = Path(__file__).resolve().parents[2]
WIN_PLAY = load_playbook(ROOT / "playbooks" / "mirrored-mode.yml").plays[0]
EDGE_PLAY = load_playbook(ROOT / "playbooks" / "edge-nodes.yml").plays[0]
SID = "S-1-5-21-77-88-99-"
VM_START = "2026-10-02T08:00:00.0000000Z"
BEFORE_VM = "2026-09-20T10:00:00.0000000Z"
AFTER_VM = "2026-10-02T09:30:00.0000000Z"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def go(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e") + "\n"


def profile(user: str, rid: int, *, wslconfig: str | None = None, written: str = BEFORE_VM, distros: tuple[str, ...] = ("Ubuntu",),
            docker: bool = False, backup: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {
        "SID": f"{SID}{rid}", "Account": f"ACME\\{user}", "LocalPath": f"C:\\Users\\{user}", "Loaded": True,
        "LastUseUtc": "2026-10-02T07:00:00Z", "WslConfig": None, "Variants": [], "DockerSettings": [],
        "LxssDefault": None, "LxssDistros": [{"Id": "{%08d-0000-0000-0000-000000000000}" % i, "Name": d, "Flags": 15,
                                              "BasePath": f"C:\\Users\\{user}\\wsl\\{d}"} for i, d in enumerate(distros)],
        "DockerUninstall": None}
    if wslconfig is not None:
        data = wslconfig.replace("\n", "\r\n").encode()
        p["WslConfig"] = {"LastWriteUtc": written, "Length": len(data), "Base64": b64(data)}
        p["Variants"] = ".wslconfig"
    if backup is not None:
        data = backup.replace("\n", "\r\n").encode()
        # correction made after the first run: Windows' file copy keeps the source's last-write time, so the backup
        # carries the time the OLD content was written (before the VM start), not the time of the backup
        p["WslConfigBackup"] = {"Name": "wslconfig-20261002T093000Z.bak", "LastWriteUtc": BEFORE_VM, "Length": len(data),
                                "Base64": b64(data)}
    if docker:
        settings = {"WslEngineEnabled": True, "VpnkitCIDR": "192.168.65.0/24", "HostNetworkingEnabled": False}
        p["DockerSettings"] = [{"Name": "settings-store.json", "LastWriteUtc": BEFORE_VM, "Base64": b64(json.dumps(settings).encode())}]
    return p


def container(name: str, ports: str, network: str = "bridge") -> dict[str, Any]:
    return {"ID": name + "0123456789", "Names": name, "Image": "nginx:alpine", "State": "running", "Status": "Up 1 hour",
            "Networks": network, "Labels": "", "Ports": ports}


def audit_doc(*, build: str = "22631", ubr: int = 4460, install: str = "Client", ipv6: int | None = None, msi: str | None = "2.6.1.0",
              policy: dict[str, int] | None = None, profiles: list[dict[str, Any]] | None = None, dd_user: str | None = "dev",
              containers: list[dict[str, Any]] | None = None, listen: list[int] | None = None, settings: dict[str, Any] | None = None,
              inspect: list[dict[str, Any]] | None = None, extra_procs: list[dict[str, Any]] | None = None,
              lxss_service: bool = False) -> dict[str, Any]:
    """A whole windows_audit document. ``dd_user``: Docker Desktop runs as ACME\\<dd_user> (None = not installed)."""
    profiles = profiles if profiles is not None else [profile("dev", 1001, docker=True, distros=("Ubuntu", "docker-desktop"))]
    if settings is not None:
        for p in profiles:
            if p["DockerSettings"]:
                p["DockerSettings"][0]["Base64"] = b64(json.dumps(settings).encode())
    procs: list[dict[str, Any]] = [{"Name": "vmmemWSL", "Id": 7000, "UserName": None, "StartUtc": VM_START, "Path": None}]
    docker: dict[str, Any] = {"Reachable": False, "Error": "docker.exe not found", "Version": None, "Info": None, "Ps": None, "Inspect": None}
    dd: dict[str, Any] = {"UninstallHKLM": None, "AdminSettingsBase64": None}
    tcp = [{"LocalAddress": "0.0.0.0", "LocalPort": 135, "OwningProcess": 900, "Process": "svchost", "State": 2}]
    if dd_user is not None:
        dd["UninstallHKLM"] = {"DisplayVersion": "4.48.0", "InstallLocation": "C:\\Program Files\\Docker\\Docker"}
        procs += [{"Name": "Docker Desktop", "Id": 7100, "UserName": f"ACME\\{dd_user}", "StartUtc": "2026-10-02T08:00:05Z", "Path": None},
                  {"Name": "com.docker.backend", "Id": 7101, "UserName": f"ACME\\{dd_user}", "StartUtc": "2026-10-02T08:00:06Z", "Path": None}]
        version = {"Client": {"Version": "28.3.2", "Context": "desktop-linux"},
                   "Server": {"Platform": {"Name": "Docker Desktop 4.48.0 (207573)"}, "Version": "28.3.2",
                              "KernelVersion": "6.6.87.2-microsoft-standard-WSL2", "Os": "linux"}}
        info = {"ServerVersion": "28.3.2", "OperatingSystem": "Docker Desktop", "Name": "docker-desktop",
                "KernelVersion": "6.6.87.2-microsoft-standard-WSL2", "Labels": []}
        docker = {"Reachable": True, "Error": None, "Version": go(version), "Info": go(info),
                  "Ps": "".join(go(c) for c in (containers or [])), "Inspect": json.dumps(inspect) if inspect else None}
        for port in listen or []:
            tcp.append({"LocalAddress": "0.0.0.0", "LocalPort": port, "OwningProcess": 7101, "Process": "com.docker.backend", "State": 2})
    services = [{"Name": "WSLService", "Status": 4, "StartType": 2}] if msi else []
    if lxss_service:
        services.append({"Name": "LxssManager", "Status": 4, "StartType": 3})
    pol: dict[str, int | None] = {"DefaultNetworkingMode": None, "AllowNetworkingModeUserSetting": None, "AllowFirewallUserSetting": None,
           "AllowWSL": None, "AllowInboxWSL": None}
    pol.update(policy or {})
    return {
        "schema": "wsl-docker-audit/1", "collectedUtc": "2026-10-02T10:00:00.0000000Z", "host": "PC-HELD",
        "os": {"CurrentBuild": build, "UBR": ubr, "DisplayVersion": "23H2", "ProductName": "Windows 10 Pro", "EditionID": "Professional",
               "InstallationType": install, "Caption": "Microsoft Windows", "EnvOSVersion": f"10.0.{build}.0",
               "Ipv6DisabledComponents": ipv6},
        "wsl": {"MsiVersion": msi, "MsiInstallLocation": None, "AppxVersion": None, "Policy": pol, "Service": services},
        "wslVersion": None, "profiles": profiles, "dockerDesktop": dd, "docker": docker,
        "processes": procs + (extra_procs or []), "tcpListen": tcp, "udp": [], "wslEvents": None,
        "hypervFirewall": None, "primaryIPv4": "10.20.0.15"}


def windows(doc: dict[str, Any], extra: dict[str, Any] | None = None, enabled: set[str] | None = None):
    facts: dict[str, Any] = {"_errors": {}, "audit": parse_windows_audit(CollectorOutput("audit", json.dumps(doc).encode(), b"", 0,
                                                                                      platform="windows"))}
    facts.update(extra or {})
    variables = dict(WIN_PLAY.vars)
    facts.update(derive_windows(facts, variables))
    ctx = {"facts": facts, "vars": variables, "host": {"name": "h", "address": "127.0.0.1", "groups": [], "platform": "windows"},
           "enabled": set(enabled or ())}
    checks = evaluate_checks(WIN_PLAY.checks, ctx, "windows", set(enabled or ()))
    assert not {c.id: c.message for c in checks if c.status == CheckStatus.error}
    return facts, {c.id: c for c in checks}, windows_verdict(facts, checks, variables)


def text(verdict: Any) -> str:
    return " ".join([verdict.summary, *verdict.remediation, *verdict.notes])


MIRRORED = "[wsl2]\nnetworkingMode=mirrored\n"
WEB = [container("web", "0.0.0.0:8080->80/tcp")]


# --- 1. effective mode from policy ------------------------------------------------------------------

def test_policy_default_mirrored_with_missing_listener_is_confirmed_and_fixed_by_policy():
    doc = audit_doc(policy={"DefaultNetworkingMode": 3}, containers=WEB, listen=[])
    _, _, v = windows(doc)
    assert v.name == "CONFLICT_CONFIRMED"
    assert "DefaultNetworkingMode" in text(v) and ".wslconfig" in text(v) and "cannot help" in text(v)


def test_policy_overrides_users_nat_into_mirrored():
    dev = profile("dev", 1001, wslconfig="[wsl2]\nnetworkingMode=nat\n", docker=True, distros=("Ubuntu", "docker-desktop"))
    doc = audit_doc(policy={"DefaultNetworkingMode": 3, "AllowNetworkingModeUserSetting": 0}, profiles=[dev], containers=WEB,
                    listen=[8080])
    facts, _, v = windows(doc)
    assert facts["relevant"]["effective_mode"] == "mirrored"
    assert v.name == "AT_RISK_MIRRORED_DOCKER" and "policy" in v.remediation[0].lower()


# --- 1b. configured mirrored that cannot be in effect: another cause ---------------------------------

@pytest.mark.parametrize("kwargs, why", [
    ({"build": "19045", "ubr": 5011}, "19045"),
    ({"build": "26100", "ubr": 2033, "install": "Server"}, "Server"),
    ({"msi": "1.2.5.0"}, "2.0.0"),
    ({"msi": None, "lxss_service": True}, "inbox"),
    ({"policy": {"AllowWSL": 0}}, "AllowWSL"),
    ({"ipv6": 0xFF}, "DisabledComponents"),
], ids=["windows10", "server", "old-wsl", "inbox", "allow-wsl-0", "ipv6"])
def test_missing_listener_where_mirrored_cannot_be_in_effect_is_another_cause(kwargs, why):
    dev = profile("dev", 1001, wslconfig=MIRRORED, docker=True, distros=("Ubuntu", "docker-desktop"))
    _, _, v = windows(audit_doc(profiles=[dev], containers=WEB, listen=[], **kwargs))
    assert v.name == "PUBLISH_BROKEN_OTHER_CAUSE", v
    assert why in text(v)


def test_ipv6_disabled_other_than_ff_keeps_mirrored():
    dev = profile("dev", 1001, wslconfig=MIRRORED, docker=True, distros=("Ubuntu", "docker-desktop"))
    _, _, v = windows(audit_doc(profiles=[dev], containers=WEB, listen=[], ipv6=0x20))
    assert v.name == "CONFLICT_CONFIRMED"


def test_nat_with_missing_listener_is_never_healthy():
    _, checks, v = windows(audit_doc(containers=WEB, listen=[]))
    assert checks["W-NET-01"].status == CheckStatus.failed
    assert v.name != "HEALTHY_NAT" and v.name == "PUBLISH_BROKEN_OTHER_CAUSE"


def test_nat_with_listener_is_healthy():
    _, _, v = windows(audit_doc(containers=WEB, listen=[8080]))
    assert v.name == "HEALTHY_NAT"


# --- 2. the running VM beats the file ----------------------------------------------------------------

def test_reverted_file_with_vm_started_mirrored_is_live_conflict_with_restart_pending():
    dev = profile("dev", 1001, wslconfig="[wsl2]\n#networkingMode=mirrored\n", written=AFTER_VM, docker=True,
                  distros=("Ubuntu", "docker-desktop"), backup=MIRRORED)
    facts, checks, v = windows(audit_doc(profiles=[dev], containers=WEB, listen=[]))
    assert checks["W-CFG-05"].status == CheckStatus.failed
    assert v.name == "CONFLICT_CONFIRMED"
    assert "wsl --shutdown" in v.remediation[0] and "dev" in v.remediation[0]


def test_reverted_file_vm_started_mirrored_no_ports_is_at_risk_restart_pending():
    dev = profile("dev", 1001, wslconfig="[wsl2]\n#networkingMode=mirrored\n", written=AFTER_VM, docker=True,
                  distros=("Ubuntu", "docker-desktop"), backup=MIRRORED)
    _, _, v = windows(audit_doc(profiles=[dev], containers=[], listen=[]))
    assert v.name == "AT_RISK_MIRRORED_DOCKER" and "restart pending" in text(v).lower()


def test_pending_change_unknown_start_mode_with_missing_listener_is_inconclusive_not_healthy():
    dev = profile("dev", 1001, wslconfig="[wsl2]\nmemory=8GB\n", written=AFTER_VM, docker=True, distros=("Ubuntu", "docker-desktop"))
    _, _, v = windows(audit_doc(profiles=[dev], containers=WEB, listen=[]))
    assert v.name == "INCONCLUSIVE"


def test_observed_mirrored_beats_nat_file():
    dev = profile("dev", 1001, wslconfig="[wsl2]\nnetworkingMode=nat\n", written=AFTER_VM, docker=True, distros=("Ubuntu", "docker-desktop"))
    out = b"@@wslinfo\r\nmirrored\r\n\r\n@@docker-desktop\r\n@@end\r\n"
    uc = user_context_doc({"User": "ACME\\dev", "Ran": True, "OutputBase64": b64(out), "Cleanup": {"TaskRemoved": True, "FileRemoved": True}})
    _, _, v = windows(audit_doc(profiles=[dev], containers=WEB, listen=[]), {"user_context": uc}, {"user-context"})
    assert v.name == "CONFLICT_CONFIRMED" and v.confidence.value == "high"
    assert "wsl --shutdown" in " ".join(v.remediation)


# --- 3. other container engines in the mirrored VM ---------------------------------------------------

@pytest.mark.parametrize("distros, procs, engine", [
    (("Ubuntu", "podman-machine-default"), [{"Name": "gvproxy", "Id": 8100, "UserName": "ACME\\ann", "StartUtc": VM_START}], "Podman"),
    (("rancher-desktop", "rancher-desktop-data"), [], "Rancher"),
])
def test_other_engines_in_mirrored_vm_are_at_risk(distros, procs, engine):
    ann = profile("ann", 1002, wslconfig=MIRRORED, distros=distros)
    _, _, v = windows(audit_doc(profiles=[ann], dd_user=None, extra_procs=procs))
    assert v.name == "AT_RISK_MIRRORED_ENGINE" and engine in v.summary


@pytest.mark.parametrize("version, expected", [("26.1.4", "AT_RISK_MIRRORED_ENGINE"), ("27.5.1", "MIRRORED_WITHOUT_DOCKER")])
def test_docker_engine_inside_mirrored_distro_by_version(version, expected):
    ann = profile("ann", 1002, wslconfig=MIRRORED, distros=("Ubuntu",))
    out = f"@@wslinfo\r\nmirrored\r\n\r\n@@docker-desktop\r\n@@engine\r\n{version}\r\n@@end\r\n".encode()
    uc = user_context_doc({"User": "ACME\\ann", "Ran": True, "OutputBase64": b64(out), "Cleanup": {"TaskRemoved": True, "FileRemoved": True}})
    _, _, v = windows(audit_doc(profiles=[ann], dd_user=None), {"user_context": uc}, {"user-context"})
    assert v.name == expected


# --- 4. the fix names the right user --------------------------------------------------------------------

def test_other_profiles_mirrored_names_that_profile_not_docker_desktop():
    jo = profile("jo", 1003, wslconfig=MIRRORED)
    dev = profile("dev", 1001, docker=True, distros=("Ubuntu", "docker-desktop"))
    _, _, v = windows(audit_doc(profiles=[dev, jo], containers=WEB, listen=[8080]))
    assert v.name == "AT_RISK_LATENT"
    steps = " ".join(v.remediation)
    assert "C:\\Users\\jo\\.wslconfig" in steps and "jo" in steps
    assert "restart Docker Desktop" not in steps and "Docker Desktop" not in v.remediation[1]


# --- 5. Docker Desktop host networking ---------------------------------------------------------------------

def test_host_network_container_on_docker_desktop_gets_the_edge_finding_with_subnet_from_settings():
    insp = [{"Id": "abc", "Name": "/edge", "State": {"Running": True}, "HostConfig": {"NetworkMode": "host"}, "Config": {"Labels": {}},
             "NetworkSettings": {"Networks": {"host": {}}}}]
    doc = audit_doc(containers=[container("edge", "", "host")], inspect=insp,
                    settings={"WslEngineEnabled": True, "VpnkitCIDR": "192.168.70.0/24", "HostNetworkingEnabled": True})
    facts, checks, _ = windows(doc)
    assert facts["docker_desktop"]["vpnkit_cidr"] == "192.168.70.0/24" and facts["docker_desktop"]["host_networking_enabled"] is True
    failed = [c for c in checks.values() if c.status == CheckStatus.failed and "edge" in c.message]
    assert failed and "192.168.70.0/24" in failed[0].message


# --- edge nodes --------------------------------------------------------------------------------------------

LAN = json.dumps([{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "192.168.5.20", "prefixlen": 24}]}])
ROUTE = json.dumps([{"dst": "default", "gateway": "192.168.5.1", "dev": "eth0"}])


def edge(*, info: dict[str, Any], kernel: str, wslinfo: str, cont_addr: str, loopback0: str = "[]"):
    parsers = {c.name: c.parser for c in EDGE_PLAY.gather["linux"]}
    ver = {"Client": {"Version": info["ServerVersion"], "Context": "default"},
           "Server": {"Platform": {"Name": "Docker Engine - Community"}, "Version": info["ServerVersion"], "KernelVersion": kernel}}
    insp = [{"Id": "e1e1e1e1e1e1", "Name": "/edge-node", "State": {"Running": True}, "HostConfig": {"NetworkMode": "host"},
             "Config": {"Labels": {}}, "NetworkSettings": {"Networks": {"host": {}}}}]
    outputs = {"uname": kernel.encode(), "os_release": b"ID=ubuntu\n", "docker_context": b"default",
               "docker_version": json.dumps(ver).encode(), "docker_info": json.dumps(info).encode(), "docker_ps": b"",
               "docker_inspect": json.dumps(insp).encode(), "host_addr": LAN.encode(), "host_route": ROUTE.encode(),
               "loopback0": loopback0.encode(), "wslinfo": wslinfo.encode(),
               "container_net": f"@@container e1e1e1e1e1e1\n{cont_addr}\n@@route e1e1e1e1e1e1\n{ROUTE}\n".encode()}
    facts: dict[str, Any] = {"_errors": {}}
    for name, data in outputs.items():
        if name not in parsers:
            continue
        try:
            facts[name] = get_parser(parsers[name])(CollectorOutput(name, data, b"", 0))  # type: ignore[misc]
        except ParseError as exc:
            facts["_errors"][name] = str(exc)
    variables = dict(EDGE_PLAY.vars)
    facts.update(derive_edge(facts, variables))
    ctx = {"facts": facts, "vars": variables, "host": {"name": "e", "address": "127.0.0.1", "groups": [], "platform": "linux"}, "enabled": set()}
    checks = evaluate_checks(EDGE_PLAY.checks, ctx, "linux", set())
    return edge_verdict(facts, checks, variables)


def test_edge_ok_in_mirrored_wsl_notes_hyperv_firewall_rule():
    info = {"ServerVersion": "28.0.1", "OperatingSystem": "Ubuntu 24.04 LTS", "Name": "wsl", "KernelVersion": "6.6.87.2-microsoft-standard-WSL2",
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"]}
    v = edge(info=info, kernel="6.6.87.2-microsoft-standard-WSL2", wslinfo="mirrored", cont_addr=LAN)
    assert v.name == "EDGE_OK"
    assert "Hyper-V firewall" in text(v) and "40E0AC32-46A5-438A-A0B2-2B479E8F2E90" in text(v)


def test_rootless_engine_gets_its_own_wording():
    info = {"ServerVersion": "28.0.1", "OperatingSystem": "Debian GNU/Linux 12", "Name": "edge1", "KernelVersion": "6.1.0-25-amd64",
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"]}
    tap = json.dumps([{"ifname": "tap0", "addr_info": [{"family": "inet", "local": "10.0.2.100", "prefixlen": 24}]}])
    v = edge(info=info, kernel="6.1.0-25-amd64", wslinfo="wslinfo: not found", cont_addr=tap)
    assert v.name == "EDGE_NO_LAN_VISIBILITY" and "rootless" in v.summary.lower()
    assert "Docker Desktop" not in v.summary
