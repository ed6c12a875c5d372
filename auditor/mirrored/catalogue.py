"""What the mirrored-mode verdicts mean: registered with the generic catalogue, recorded in every run.

Reports, terminal and store read these from the run result (``RunResult.verdict_catalogue``), never from here.
"""

from __future__ import annotations

from auditor.results import VerdictInfo
from auditor.rules import register_verdict_catalogue


def _v(label: str, tone: str, rank: int, meaning: str, needs_action: bool) -> VerdictInfo:
    return VerdictInfo(label=label, tone=tone, rank=rank, meaning=meaning, needs_action=needs_action)  # type: ignore[arg-type]


VERDICTS: dict[str, VerdictInfo] = {
    "CONFLICT_CONFIRMED": _v("Conflict confirmed", "conflict", 100,
                             "Mirrored networking is breaking Docker Desktop's published ports now.", True),
    "EDGE_NO_LAN_VISIBILITY": _v("Edge node cannot see the LAN", "conflict", 95, "The edge container cannot see the LAN.", True),
    "AT_RISK_MIRRORED_DOCKER": _v("At risk: mirrored + Docker Desktop", "risk", 80,
                                  "Mirrored mode and Docker Desktop on WSL2: the conflict is expected.", True),
    "AT_RISK_MIRRORED_ENGINE": _v("At risk: mirrored + another engine", "risk", 75,
                                  "Podman Desktop, Rancher Desktop or a Docker Engine before 27.3 runs in a mirrored WSL VM: "
                                  "published ports can lose localhost.", True),
    "AT_RISK_LATENT": _v("At risk: latent mirrored", "risk", 70,
                         "Mirrored is configured but not yet effective; it will bite after an update.", True),
    "EDGE_NOT_HOST_NETWORK": _v("Edge node not on host network", "risk", 65,
                                "The edge container does not use host networking.", True),
    "EDGE_WSL_NAT": _v("Edge node in a NAT WSL distro", "risk", 60,
                       "The edge node runs in a WSL distro in NAT mode: no inbound LAN.", True),
    "PUBLISH_BROKEN_OTHER_CAUSE": _v("Published port broken (other cause)", "review", 55,
                                     "A published port has no Windows listener, but mirrored mode is not in effect: "
                                     "another cause, named in the summary.", True),
    "INCONCLUSIVE": _v("Inconclusive", "review", 50, "The evidence does not decide; look at the checks.", True),
    "MIRRORED_WITHOUT_DOCKER": _v("Mirrored, no Docker Desktop", "info", 20,
                                  "Mirrored mode without Docker Desktop on WSL2: fine.", False),
    "HEALTHY_NAT": _v("Healthy (NAT)", "ok", 10, "Docker Desktop on WSL2 with NAT networking: healthy.", False),
    "EDGE_OK": _v("Edge node OK", "ok", 10, "The edge node sees the LAN.", False),
    "NO_WSL_OR_NO_DOCKER": _v("Not relevant", "info", 5, "Neither WSL nor Docker Desktop is relevant here.", False),
}

register_verdict_catalogue(VERDICTS)
