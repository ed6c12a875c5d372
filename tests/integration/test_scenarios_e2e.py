"""Every scenario of the library gets its declared verdict (and confidence, or host status) through the real
transports (WinRS over HTTP with NTLM, the SSH lab) and the real runner, with the shipped playbooks."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from auditor.commands.run import execute_audit
from auditor.lab.cli import PLAYBOOKS, expectation_mismatches
from auditor.lab.fleet import LabFleet
from auditor.lab.generator import name_hosts
from auditor.lab.scenarios import load_library
from auditor.runner import RunOptions

LIBRARY = load_library()


def _audit(scenarios, enabled: set[str], tmp: Path):
    members = name_hosts(scenarios)
    fleet = LabFleet(members, ports="free")
    options = RunOptions(forks=64, connect_timeout=3.0, command_timeout=5.0, host_deadline=6.0, enabled=enabled,
                         include_facts=True)
    with fleet.running():
        inventory, _ = fleet.write_inventory(tmp / "lab.yml")
        run, paths = execute_audit([str(PLAYBOOKS / "mirrored-mode.yml"), str(PLAYBOOKS / "edge-nodes.yml")],
                                   [str(inventory)], limit=None, options=options, formats=["json"], output=tmp / "out",
                                   console=Console(quiet=True), quiet=True)
    return members, fleet, run


def test_library_covers_every_verdict_and_trap():
    win = {s.expect.verdict for s in LIBRARY if s.platform == "windows"}
    edge = {s.expect.verdict for s in LIBRARY if s.platform == "edge"}
    assert {"CONFLICT_CONFIRMED", "AT_RISK_MIRRORED_DOCKER", "AT_RISK_MIRRORED_ENGINE", "AT_RISK_LATENT",
            "PUBLISH_BROKEN_OTHER_CAUSE", "HEALTHY_NAT", "MIRRORED_WITHOUT_DOCKER", "NO_WSL_OR_NO_DOCKER", "INCONCLUSIVE"} <= win
    assert {"EDGE_NO_LAN_VISIBILITY", "EDGE_NOT_HOST_NETWORK", "EDGE_WSL_NAT", "EDGE_OK", "INCONCLUSIVE"} <= edge
    names = {s.name for s in LIBRARY}
    for trap in ("utf16-bom", "duplicate-keys", "semicolon-comment", "wrong-section", "policy-nat", "windows10",
                 "low-ubr", "ipv6-disabled", "owner-differs", "pipe-denied"):
        assert f"win-trap-{trap}" in names


@pytest.mark.parametrize("enabled", [frozenset(), frozenset({"probe"}), frozenset({"user-context"})],
                         ids=["passive", "probe", "user-context"])
def test_every_scenario_gets_its_declared_result(enabled, tmp_path):
    scenarios = [s for s in LIBRARY if set(s.enable) == set(enabled)]
    assert scenarios
    members, fleet, run = _audit(scenarios, set(enabled), tmp_path)
    assert sorted(h.name for h in run.hosts) == sorted(m.name for m in members)
    assert expectation_mismatches(run, {m.name: m.scenario for m in members}) == []
    for host in fleet.hosts:
        if host.platform != "windows" or not host.member.scenario.reachable:
            continue
        actions = host.model.actions  # type: ignore[union-attr]
        if "probe" in enabled:  # the probe really ran on the host and removed its container
            assert any(a.startswith("probe ") and a.endswith("removed") for a in actions)
            assert not any(c.labels.get("wslaudit.probe") for c in host.model.state.docker.containers)  # type: ignore[union-attr]
        if "user-context" in enabled:  # wslinfo really ran as the developer and the task was removed
            assert any(a.startswith("user_context as ") and a.endswith("removed") for a in actions)


def test_remediation_changes_the_next_audit(tmp_path):
    """Models are mutable: comment out mirrored mode and restart the user's WSL -> the conflict is gone."""
    sc = next(s for s in LIBRARY if s.name == "win-conflict-confirmed")
    members = name_hosts([sc])
    fleet = LabFleet(members, ports="free")
    model = fleet.hosts[0].model
    user = model.state.users[0]  # type: ignore[union-attr]
    model.write_wslconfig(user, b"[wsl2]\r\n#networkingMode=mirrored\r\n")  # type: ignore[union-attr]
    model.shutdown_vm(user)  # type: ignore[union-attr]
    model.start_vm(user)  # type: ignore[union-attr]
    options = RunOptions(forks=4, connect_timeout=3.0, command_timeout=5.0, host_deadline=6.0, enabled=set())
    with fleet.running():
        inventory, _ = fleet.write_inventory(tmp_path / "lab.yml")
        run, _ = execute_audit([str(PLAYBOOKS / "mirrored-mode.yml")], [str(inventory)], limit=None, options=options,
                               formats=["json"], output=tmp_path / "out", console=Console(quiet=True), quiet=True)
    assert run.hosts[0].verdicts()[0].name == "HEALTHY_NAT"


# issue 13: the verdict says WHY (which cause, which user, which fix), through the real transport
SAYS = {
    "win-policy-mirrored-default": ("DefaultNetworkingMode=3", "cannot help"),
    "win-policy-mirrored-override": ("AllowNetworkingModeUserSetting=0", "editing .wslconfig cannot help"),
    "win-other-cause-windows10": ("Windows 10", "another cause"),
    "win-other-cause-server": ("Windows Server", "another cause"),
    "win-other-cause-old-wsl": ("WSL 1.2.5 predates networkingMode", "another cause"),
    "win-other-cause-inbox-wsl": ("inbox WSL", "another cause"),
    "win-wsl-disabled-policy": ("AllowWSL=0",),
    "win-nat-port-excluded": ("50000", "excludedportrange"),
    "win-restart-pending-conflict": ("restart pending", "`wsl --shutdown` run by that user", "rosa"),
    "win-restart-pending-unknown": ("changed after the VM started", "--enable user-context"),
    "win-restart-pending-observed": ("`wsl --shutdown` run by that user", "vera"),
    "win-podman-mirrored": ("Podman Desktop", "gvproxy"),
    "win-rancher-mirrored": ("Rancher Desktop", "rancher-desktop"),
    "win-docker-ce-old-in-distro": ("Docker Engine 26.1.4", "27.3"),
    "win-docker-ce-new-in-distro": ("Engine >= 27.3",),
    "win-dd-host-network": ("192.168.70.0/24", "edge-node"),
    "edge-rootless": ("Rootless", "RootlessKit"),
    "edge-docker-desktop-custom-subnet": ("192.168.70.0/24",),
    "edge-wsl-mirrored": ("Hyper-V firewall", "New-NetFirewallHyperVRule"),
}


def test_new_scenarios_say_which_cause_user_and_fix(tmp_path):
    library = {s.name: s for s in LIBRARY}
    groups: dict[frozenset[str], list] = {}
    for name in SAYS:
        groups.setdefault(frozenset(library[name].enable), []).append(library[name])
    for i, (enabled, scenarios) in enumerate(groups.items()):
        members, _, run = _audit(scenarios, set(enabled), tmp_path / str(i))
        by_scenario = {m.scenario.name: m.name for m in members}
        hosts = {h.name: h for h in run.hosts}
        for sc in scenarios:
            host = hosts[by_scenario[sc.name]]
            verdict = host.verdicts()[0]
            text = " ".join([verdict.summary, *verdict.remediation, *verdict.notes,
                             *(c.message for c in host.all_checks() if c.status.value == "failed")])
            for needle in SAYS[sc.name]:
                assert needle in text, (sc.name, needle, text)


def test_wrong_users_docker_desktop_is_never_the_fix(tmp_path):
    """Mirrored for jane, Docker Desktop runs as kim: the steps edit jane's file and restart jane's VM only."""
    sc = next(s for s in LIBRARY if s.name == "win-trap-owner-differs")
    _, _, run = _audit([sc], set(), tmp_path)
    steps = run.hosts[0].verdicts()[0].remediation
    assert "C:\\Users\\jane\\.wslconfig" in steps[0] and "Restart jane's WSL VM as jane" in steps[1]
    assert not any("kim" in s or "Docker Desktop" in s for s in steps)
