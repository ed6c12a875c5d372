"""Per-host verdicts (docs/research/domain.md section 8): ``mirrored.windows`` and ``mirrored.edge``. First match wins.

Confidence: high when the probe (W-PROBE-01) or the user-context effective mode (W-WSL-03) decided,
medium when configuration plus build prediction decided, low when the relevant user is unknown.
"""

from __future__ import annotations

from typing import Any

from auditor.mirrored.shapes import as_dict, as_list
from auditor.mirrored.windows_rules import decide
from auditor.results import CheckResult, CheckStatus, Confidence, Verdict
from auditor.rules import register_verdict

HYPERV_FIREWALL_NOTE = ("Mirrored WSL: inbound LAN traffic to the distro passes the Hyper-V firewall, whose default inbound action "
                        "is Block (Windows 11 22H2+, WSL 2.0.9+; forced on in mirrored mode): the edge node's listening ports "
                        "need an allow rule on the Windows host (W-NET-03 on that host shows the setting).")
HYPERV_FIREWALL_RULE = ("On the Windows host, as administrator, allow the edge node's ports into the WSL VM: New-NetFirewallHyperVRule "
                        "-Name auditor-edge -DisplayName 'Edge node' -Direction Inbound -VMCreatorId "
                        "'{40E0AC32-46A5-438A-A0B2-2B479E8F2E90}' -Protocol TCP -LocalPorts <port> (or, for every port, "
                        "Set-NetFirewallHyperVVMSetting -Name '{40E0AC32-46A5-438A-A0B2-2B479E8F2E90}' -DefaultInboundAction Allow).")


def _ran(checks: list[CheckResult], *ids: str) -> list[str]:
    """The ids among ``ids`` that produced a result (passed, failed, or waived: a waived check's own result is
    kept): the checks a verdict rests on."""
    have = {c.id for c in checks if c.status in (CheckStatus.passed, CheckStatus.failed, CheckStatus.waived)}
    return [i for i in ids if i in have]


def _v(name: str, conf: str, decided: list[str], summary: str, steps: list[str] | None = None, notes: list[str] | None = None) -> Verdict:
    return Verdict(name=name, confidence=Confidence(conf), decided_by=decided, summary=summary,
                   remediation=steps or [], notes=notes or [])


@register_verdict("mirrored.windows")
def windows_verdict(f: dict[str, Any], checks: list[CheckResult], variables: dict[str, Any]) -> Verdict | None:
    """The rules live in ``windows_rules.decide`` (pure over facts); here they meet the checks that ran."""
    d = decide(f)
    return _v(d.name, d.confidence, _ran(checks, *d.decided_by), d.summary, d.remediation, d.notes)


@register_verdict("mirrored.edge")
def edge_verdict(f: dict[str, Any], checks: list[CheckResult], variables: dict[str, Any]) -> Verdict | None:
    eng, edge, wsl = as_dict(f.get("engine")), as_dict(f.get("edge")), as_dict(f.get("wsl_host"))
    fix = ["Run the edge node on a native Linux Docker Engine with network_mode: host (or macvlan/ipvlan on the LAN).",
           "On Windows: docker-ce inside a mirrored WSL distro (Engine >= 27.3, moby#48514), not Docker Desktop."]
    if not eng.get("reachable"):
        errs = "; ".join(as_list(eng.get("errors"))) or as_dict(f.get("_errors")).get("docker_info") or "no answer"
        return _v("INCONCLUSIVE", "low", _ran(checks, "L-DK-01"), f"Docker is not reachable: {errs}")
    if not edge.get("found"):
        return _v("INCONCLUSIVE", "low", _ran(checks, "L-EDGE-01"),
                  f"No running edge container matched ({edge.get('selection')}; {edge.get('running_count', 0)} running).",
                  ["Set the play var edge_containers (host or group vars) or label the container auditor.edge=true."])
    observed = all(c.get("net_collected") for c in as_list(edge.get("containers")))
    if eng.get("rootless") and (edge.get("no_lan") or edge.get("dd_gateway")):
        return _v("EDGE_NO_LAN_VISIBILITY", "high" if observed else "medium", _ran(checks, "L-DK-01", "L-EDGE-02", "L-EDGE-03"),
                  f"Rootless Docker Engine: network_mode: host of {', '.join(c['name'] for c in edge['containers'])} is "
                  "RootlessKit's own network namespace (slirp4netns/pasta), not the host's, so the edge container does not "
                  "see the LAN.",
                  ["Run the edge engine rootful (network_mode: host then shares the host's interfaces), or macvlan/ipvlan "
                   "from a rootful engine.",
                   "Rootless with pasta networking copies the host's addresses, but inbound LAN traffic still reaches only the "
                   "ports RootlessKit's port driver forwards."])
    if eng.get("kind") == "docker-desktop" or edge.get("no_lan") or edge.get("dd_gateway"):
        notes = [] if observed else ["The container's own addresses could not be read; decided on the engine kind."]
        if eng.get("kind") == "docker-desktop" and edge.get("not_host"):
            notes.append("The edge container is not even in host mode; on Docker Desktop host mode would not help either.")
        return _v("EDGE_NO_LAN_VISIBILITY", "high" if observed else "medium", _ran(checks, "L-DK-01", "L-EDGE-02", "L-EDGE-03"),
                  f"Edge container(s) {', '.join(c['name'] for c in edge['containers'])} see Docker Desktop's network "
                  f"({edge.get('dd_subnet')}), not the LAN.", fix, notes)
    if edge.get("not_host"):
        return _v("EDGE_NOT_HOST_NETWORK", "high", _ran(checks, "L-EDGE-01"),
                  f"Native Engine, but {', '.join(edge['not_host'])} use bridge/default networking.",
                  ["Use network_mode: host (compose) or a macvlan/ipvlan network on the LAN interface."])
    if wsl.get("is_wsl") and wsl.get("mode") in ("nat", None):
        return _v("EDGE_WSL_NAT", "high" if wsl.get("mode") else "medium", _ran(checks, "L-WSL-01", "L-OS-01"),
                  "The edge node runs in a WSL distro in NAT mode: no inbound LAN traffic without portproxy.",
                  ["Set networkingMode=mirrored in that user's .wslconfig (docker-ce in WSL, not Docker Desktop), then wsl --shutdown."],
                  [] if wsl.get("mode") else ["wslinfo is missing and there is no loopback0: NAT assumed (inference)."])
    lan_ok = all(c.get("sees_host_lan") or c.get("lan_driver") for c in as_list(edge.get("containers")))
    notes = [] if lan_ok else ["The container's addresses could not be compared with the host's LAN address."]
    steps: list[str] = []
    if wsl.get("is_wsl") and wsl.get("mode") == "mirrored":
        notes.append(HYPERV_FIREWALL_NOTE)
        steps.append(HYPERV_FIREWALL_RULE)
    if eng.get("rootless"):
        notes.append("Rootless engine: inbound LAN traffic reaches the container only through RootlessKit's port driver "
                     "(the addresses are copied, e.g. by pasta; the host's own network stack is not shared).")
    where = "Docker Engine in a mirrored WSL distro" if wsl.get("is_wsl") else ("Rootless Engine" if eng.get("rootless") else "Native Engine")
    return _v("EDGE_OK", "high" if lan_ok and observed else "medium", _ran(checks, "L-DK-01", "L-EDGE-01", "L-EDGE-02", "L-WSL-01"),
              f"{where}; the edge container shares the host's LAN addresses.", steps, notes)
