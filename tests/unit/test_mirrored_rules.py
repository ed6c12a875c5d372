"""Table tests of the Windows verdict rules (auditor/mirrored/windows_rules.py), one row per rule and branch,
over the deriver's fact shape (pure: no parser, no checks). The full path is covered by test_mirrored_windows.py,
the held-out cases (test_mirrored_heldout.py) and the lab scenarios over WinRS."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from auditor.mirrored.windows_rules import decide
from auditor.mirrored.remediation.restarts import DockerDesktopRestartModule, RestartArgs

REL = {"status": "owner", "identified": True, "user": "CORP\\dev", "account": "CORP\\dev", "sid": "S-1", "path": "C:\\Users\\dev\\.wslconfig",
       "configured_mode": "mirrored", "effective_mode": "mirrored", "mode_source": "file", "adjustments": [], "blocked": None}
BASE: dict[str, Any] = {
    "audit_ok": True, "relevant": REL,
    "profile_configs": [{"sid": "S-1", "user": "dev", "account": "CORP\\dev", "path": "C:\\Users\\dev\\.wslconfig",
                         "configured_mode": "mirrored", "effective_mode": "mirrored", "file_problems": [], "mode_line": 2}],
    "mirrored_profiles": ["dev"], "effective_mirrored_profiles": ["dev"],
    "docker_desktop": {"installed": True, "wsl2_backend": True, "windows_containers": False, "running": True},
    "published_ports": {"docker_reachable": True, "ports": [8080], "missing": [], "foreign": []},
    "pending_restart": {"vm_running": True, "vm_count": 1, "pending": False, "started_mode": "mirrored"},
    "wsl_warnings": {}, "wsl_policy": {}, "wsl_package": {"installed": True}, "engines": [], "host_network_containers": {},
    "effective_observed": None, "probe_result": None,
}
MISSING = [{"port": 8080, "container": "web", "listeners": []}]
FOREIGN = [{"port": 53, "container": "dns", "listeners": [{"process": "svchost"}]}]


def facts(**changes: Any) -> dict[str, Any]:
    f = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = f
        *head, last = path.split("__")
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    return f


NAT: dict[str, Any] = {"relevant__configured_mode": None, "relevant__effective_mode": "nat", "pending_restart__started_mode": "nat",
       "mirrored_profiles": [], "effective_mirrored_profiles": []}
WIN10: dict[str, Any] = {"relevant__effective_mode": "nat", "relevant__mode_source": "fallback", "pending_restart__started_mode": "nat",
         "relevant__adjustments": [{"setting": "wsl2.networkingMode", "reason": "Windows 10 (build 19045.5011) never supports mirrored"}]}
POLICY: dict[str, Any] = {"relevant__configured_mode": None, "relevant__mode_source": "policy", "wsl_policy__allow_networking_mode_user_setting": 0}
PENDING_UNKNOWN: dict[str, Any] = {"relevant__configured_mode": None, "relevant__effective_mode": "nat", "pending_restart__pending": True,
                   "pending_restart__started_mode": None}
PENDING_MIRRORED: dict[str, Any] = {"relevant__configured_mode": None, "relevant__effective_mode": "nat", "pending_restart__pending": True}


@pytest.mark.parametrize("changes, verdict, fix", [
    # 1. probe
    ({"probe_result": {"outcome": "fail", "reasons": ["no listener"]}}, "CONFLICT_CONFIRMED", "revert-nat"),
    ({**WIN10, "probe_result": {"outcome": "fail", "reasons": ["no listener"]}}, "PUBLISH_BROKEN_OTHER_CAUSE", "none"),
    # 2. unknown owner / unreadable file
    ({"relevant__identified": False, "relevant__status": "ambiguous"}, "INCONCLUSIVE", "none"),
    ({"profile_configs__0__file_problems": ["could not read the file: denied"]}, "INCONCLUSIVE", "none"),
    # 3. W-NET-01 fails
    ({"published_ports__missing": MISSING}, "CONFLICT_CONFIRMED", "revert-nat"),
    ({**POLICY, "published_ports__missing": MISSING}, "CONFLICT_CONFIRMED", "policy"),
    ({**PENDING_MIRRORED, "published_ports__missing": MISSING}, "CONFLICT_CONFIRMED", "restart"),
    ({**PENDING_UNKNOWN, "published_ports__missing": MISSING}, "INCONCLUSIVE", "none"),
    ({**WIN10, "published_ports__missing": MISSING}, "PUBLISH_BROKEN_OTHER_CAUSE", "none"),
    ({**NAT, "published_ports__missing": MISSING}, "PUBLISH_BROKEN_OTHER_CAUSE", "none"),
    ({**NAT, "published_ports__foreign": FOREIGN}, "PUBLISH_BROKEN_OTHER_CAUSE", "none"),
    ({"published_ports__foreign": FOREIGN}, "AT_RISK_MIRRORED_DOCKER", "revert-nat"),
    ({"effective_observed": {"mode": "nat"}, "published_ports__missing": MISSING}, "PUBLISH_BROKEN_OTHER_CAUSE", "none"),
    # 4. Docker Desktop in a mirrored VM
    ({}, "AT_RISK_MIRRORED_DOCKER", "revert-nat"),
    (POLICY, "AT_RISK_MIRRORED_DOCKER", "policy"),
    (PENDING_MIRRORED, "AT_RISK_MIRRORED_DOCKER", "restart"),
    ({"pending_restart__pending": True, "pending_restart__started_mode": "nat"}, "AT_RISK_MIRRORED_DOCKER", "revert-nat"),
    ({"wsl_warnings": {"fallback": True}}, "AT_RISK_LATENT", "revert-nat"),
    # 5. other engines
    ({**NAT, "engines": [{"engine": "Podman Desktop", "evidence": "WSL distro podman-machine-default", "user": "ann",
                          "account": "CORP\\ann", "path": "C:\\Users\\ann\\.wslconfig", "mode": "mirrored", "too_old": True,
                          "at_risk": True}]}, "AT_RISK_MIRRORED_ENGINE", "other-profile"),
    # 6. latent
    (WIN10, "AT_RISK_LATENT", "revert-nat"),
    ({**NAT, "profile_configs": [{"sid": "S-2", "user": "jo", "account": "CORP\\jo", "path": "C:\\Users\\jo\\.wslconfig",
                                  "configured_mode": "mirrored", "effective_mode": "mirrored"}],
      "mirrored_profiles": ["jo"]}, "AT_RISK_LATENT", "other-profile"),
    # 7-9
    ({**NAT, "relevant__blocked": "policy AllowWSL=0 disables WSL"}, "NO_WSL_OR_NO_DOCKER", "none"),
    (NAT, "HEALTHY_NAT", "none"),
    ({**NAT, "docker_desktop__installed": False, "mirrored_profiles": ["dev"]}, "MIRRORED_WITHOUT_DOCKER", "none"),
    ({**NAT, "docker_desktop__installed": False}, "NO_WSL_OR_NO_DOCKER", "none"),
])
def test_rules_in_order(changes, verdict, fix):
    d = decide(facts(**changes))
    assert (d.name, d.fix["kind"]) == (verdict, fix), d


def test_policy_fix_says_editing_cannot_help_and_never_edits():
    d = decide(facts(**POLICY, published_ports__missing=MISSING))
    assert "editing .wslconfig cannot help" in d.remediation[0] and d.fix["edits"] == []


def test_restart_pending_names_the_user_and_edits_nothing():
    d = decide(facts(**PENDING_MIRRORED))
    assert "restart pending" in d.summary and "`wsl --shutdown` as dev" in d.summary
    assert d.fix == {"kind": "restart", "edits": [], "user": "CORP\\dev"}


def test_healthy_nat_is_impossible_while_a_port_is_missing():
    for extra in (NAT, WIN10, PENDING_UNKNOWN, PENDING_MIRRORED, POLICY, {}):
        assert decide(facts(**extra, published_ports__missing=MISSING)).name != "HEALTHY_NAT"


@pytest.mark.parametrize("version, program, args", [
    ("4.37.0", "C:\\Program Files\\Docker\\Docker\\resources\\bin\\docker.exe", "desktop restart"),
    ("4.85.0", "C:\\Program Files\\Docker\\Docker\\resources\\bin\\docker.exe", "desktop restart"),
    ("4.36.1", "powershell.exe", "-EncodedCommand"),
    ("4.25.2", "powershell.exe", "-EncodedCommand"),
    (None, "powershell.exe", "-EncodedCommand"),
])
def test_docker_desktop_restart_before_4_37_quits_and_starts(version, program, args):
    execute, arguments = DockerDesktopRestartModule().command(RestartArgs(user="CORP\\dev", version=version))
    assert execute == program and args in arguments


def test_restart_rejects_a_quoting_install_location():
    with pytest.raises(ValueError):
        RestartArgs(user="CORP\\dev", install_location="C:\\x'; Remove-Item C:\\")
