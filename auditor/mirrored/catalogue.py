"""What the mirrored-mode verdicts mean: registered with the generic catalogue, recorded in every run.

Reports, terminal and store read these from the run result (``RunResult.verdict_catalogue``), never from here.
"""

from __future__ import annotations

from auditor.results import VerdictFix, VerdictInfo
from auditor.rules import register_verdict_catalogue

#: The kinds of fix: reports group the hosts that need action by these (one command per playbook fix).
REVERT_NAT = VerdictFix(
    kind="revert-nat", title="Revert WSL to NAT networking for Docker Desktop's user",
    playbook="remediate-revert-nat.yml", options=["--enable", "restart"],
    note="Comments out networkingMode in that user's .wslconfig (a backup is kept next to it) and restarts the user's "
         "WSL VM and Docker Desktop; without --yes it shows what would change and asks first. It acts only where the "
         "audit found that user's own file makes the VM mirrored: a VM made mirrored by machine policy needs "
         "remediate-force-nat-policy.yml.")
EDGE_ENGINE = VerdictFix(
    kind="edge-engine", title="Move the edge node to a native Docker Engine (manual)",
    playbook="remediate-edge-docker-engine.yml",
    note="Changes nothing: lists, host by host, the containers to move off Docker Desktop and the steps (install "
         "docker-ce, redeploy with network_mode: host). A rootless engine needs a rootful one instead.")
ENGINE = VerdictFix(
    kind="engine", title="Update the engine in the WSL distro, or keep its user on NAT (manual)",
    note="Docker Engine 27.3 or later inside the distro, or networkingMode=nat in that user's .wslconfig; the host's "
         "details list the steps.")
EDGE_NETWORK = VerdictFix(
    kind="edge-network", title="Put the edge container on the host network (manual)",
    note="network_mode: host in the compose file, or a macvlan/ipvlan network on the LAN interface.")
EDGE_WSL = VerdictFix(
    kind="edge-wsl-nat", title="Give the edge node's WSL distro mirrored networking (manual)",
    note="networkingMode=mirrored in that user's .wslconfig (docker-ce in WSL, not Docker Desktop), then wsl --shutdown.")
REVIEW = VerdictFix(
    kind="review", title="Look at the evidence (manual)",
    note="The audit could not name the cause: each host's details say what is missing or what else breaks the ports.")


def _v(label: str, tone: str, rank: int, meaning: str, needs_action: bool, fix: VerdictFix | None = None) -> VerdictInfo:
    return VerdictInfo(label=label, tone=tone, rank=rank, meaning=meaning, needs_action=needs_action,  # type: ignore[arg-type]
                       fix=fix)


VERDICTS: dict[str, VerdictInfo] = {
    "CONFLICT_CONFIRMED": _v("Conflict confirmed", "conflict", 100,
                             "Mirrored networking is breaking Docker Desktop's published ports now.", True, REVERT_NAT),
    "EDGE_NO_LAN_VISIBILITY": _v("Edge node cannot see the LAN", "conflict", 95, "The edge container cannot see the LAN.", True, EDGE_ENGINE),
    "AT_RISK_MIRRORED_DOCKER": _v("At risk: mirrored + Docker Desktop", "risk", 80,
                                  "Mirrored mode and Docker Desktop on WSL2: the conflict is expected.", True, REVERT_NAT),
    "AT_RISK_MIRRORED_ENGINE": _v("At risk: mirrored + another engine", "risk", 75,
                                  "Podman Desktop, Rancher Desktop or a Docker Engine before 27.3 runs in a mirrored WSL VM: "
                                  "published ports can lose localhost.", True, ENGINE),
    "AT_RISK_LATENT": _v("At risk: latent mirrored", "risk", 70,
                         "Mirrored is configured but not yet effective; it will bite after an update.", True, REVERT_NAT),
    "EDGE_NOT_HOST_NETWORK": _v("Edge node not on host network", "risk", 65,
                                "The edge container does not use host networking.", True, EDGE_NETWORK),
    "EDGE_WSL_NAT": _v("Edge node in a NAT WSL distro", "risk", 60,
                       "The edge node runs in a WSL distro in NAT mode: no inbound LAN.", True, EDGE_WSL),
    "PUBLISH_BROKEN_OTHER_CAUSE": _v("Published port broken (other cause)", "review", 55,
                                     "A published port has no Windows listener, but mirrored mode is not in effect: "
                                     "another cause, named in the summary.", True, REVIEW),
    "INCONCLUSIVE": _v("Inconclusive", "review", 50, "The evidence does not decide; look at the checks.", True, REVIEW),
    "MIRRORED_WITHOUT_DOCKER": _v("Mirrored, no Docker Desktop", "info", 20,
                                  "Mirrored mode without Docker Desktop on WSL2: fine.", False),
    "HEALTHY_NAT": _v("Healthy (NAT)", "ok", 10, "Docker Desktop on WSL2 with NAT networking: healthy.", False),
    "EDGE_OK": _v("Edge node OK", "ok", 10, "The edge node sees the LAN.", False),
    "NO_WSL_OR_NO_DOCKER": _v("Not relevant", "info", 5, "Neither WSL nor Docker Desktop is relevant here.", False),
}

register_verdict_catalogue(VERDICTS)
