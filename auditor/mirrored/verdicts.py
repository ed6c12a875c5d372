"""Per-host verdicts (domain.md section 8): ``mirrored.windows`` and ``mirrored.edge``. First match wins.

Confidence: high when the probe (W-PROBE-01) or the user-context effective mode (W-WSL-03) decided,
medium when configuration plus build prediction decided, low when the relevant user is unknown.
"""

from __future__ import annotations

from typing import Any

from auditor.mirrored.shapes import as_dict, as_list
from auditor.results import CheckResult, CheckStatus, Confidence, Verdict
from auditor.rules import register_verdict

NOT_PROOF = ("'No Windows listener' alone is not proof that the port is unreachable in mirrored mode "
             "(inference, domain.md 0.5(v)); confirm with --enable probe.")
PREDICTION = ("Effective mode is predicted from .wslconfig, policy, Windows build/UBR and IPv6 settings, not observed; "
              "--enable user-context or --enable probe turn this into an observation.")


def _failed(checks: list[CheckResult]) -> set[str]:
    return {c.id for c in checks if c.status == CheckStatus.failed}


def _ran(checks: list[CheckResult], *ids: str) -> list[str]:
    """The ids among ``ids`` that produced a result (passed or failed): the checks a verdict rests on."""
    have = {c.id for c in checks if c.status in (CheckStatus.passed, CheckStatus.failed)}
    return [i for i in ids if i in have]


def _v(name: str, conf: str, decided: list[str], summary: str, steps: list[str] | None = None, notes: list[str] | None = None) -> Verdict:
    return Verdict(name=name, confidence=Confidence(conf), decided_by=decided, summary=summary,
                   remediation=steps or [], notes=notes or [])


def _nat_steps(f: dict[str, Any]) -> list[str]:
    rel = as_dict(f.get("relevant"))
    who = rel.get("user") or "the Docker Desktop user"
    where = rel.get("path") or "%USERPROFILE%\\.wslconfig"
    line = f" (line {rel['mode_line']}, written as {rel.get('mode_key')})" if rel.get("mode_line") else ""
    ports = as_dict(f.get("published_ports")).get("ports") or []
    alt_ports = ",".join(str(p) for p in ports) or "<the ports Docker Desktop publishes>"
    return [
        f"In {where}{line} comment out networkingMode=mirrored with '#' (not ';') or set networkingMode=nat under [wsl2]; "
        "remove any [experimental] networkingMode too (the first occurrence wins). Keep the file's encoding; keep a backup.",
        f"Restart {who}'s WSL VM as {who}: `wsl --shutdown` run by that user (the WinRM admin's wsl --shutdown does not touch it; "
        "Restart-Service WSLService stops every user's VM), then restart Docker Desktop.",
        "Verify: re-run the audit with --enable probe (published port answers on 127.0.0.1 and the LAN IPv4).",
        f"If {who} needs mirrored for other distros: instead add [experimental] ignoredPorts={alt_ports} (mirrored only, needs a WSL "
        "restart), or switch Docker Desktop to the Hyper-V backend (Pro/Enterprise; images are not migrated).",
        "Fleet-wide: policy HKLM\\SOFTWARE\\Policies\\WSL DefaultNetworkingMode=1 + AllowNetworkingModeUserSetting=0 (ADMX; applies to Store WSL).",
    ]


@register_verdict("mirrored.windows")
def windows_verdict(f: dict[str, Any], checks: list[CheckResult], variables: dict[str, Any]) -> Verdict | None:
    if not f.get("audit_ok"):
        err = as_dict(f.get("_errors")).get("audit") or "no audit facts"
        return _v("INCONCLUSIVE", "low", [], f"The Windows audit collector gave nothing usable: {err}",
                  ["Check the WinRM account is a local administrator and re-run."])
    failed = _failed(checks)
    rel, dd = as_dict(f.get("relevant")), as_dict(f.get("docker_desktop"))
    pkg, warn = as_dict(f.get("wsl_package")), as_dict(f.get("wsl_warnings"))
    probe = as_dict(f.get("probe_result"))
    observed = as_dict(f.get("effective_observed")).get("mode")
    conf_mode, eff_mode = rel.get("configured_mode"), rel.get("effective_mode")
    dd_wsl2 = bool(dd.get("installed")) and dd.get("wsl2_backend") is not False and not dd.get("windows_containers")
    notes: list[str] = []
    if dd_wsl2 and dd.get("wsl2_backend") is None:
        notes.append("Docker Desktop's backend could not be read; the WSL2 backend (the default) is assumed.")
    if rel.get("status") == "single-candidate":
        notes.append(f"Docker Desktop is not running; the relevant user was inferred: {rel.get('reason')}.")
    base = "medium" if rel.get("identified") else "low"

    # 1. CONFLICT_CONFIRMED
    if probe.get("outcome") == "fail":
        return _v("CONFLICT_CONFIRMED", "high", ["W-PROBE-01"] + _ran(checks, "W-CFG-02", "W-DD-02"),
                  "The active probe reproduced the conflict: " + "; ".join(probe.get("reasons") or []), _nat_steps(f), notes)
    mirrored_now = observed == "mirrored" or (observed is None and conf_mode == "mirrored")
    if "W-NET-01" in failed and as_dict(f.get("published_ports")).get("missing") and mirrored_now and dd_wsl2:
        ports = ", ".join(str(r.get("port")) for r in as_list(as_dict(f.get("published_ports")).get("missing")))
        return _v("CONFLICT_CONFIRMED", "high" if observed == "mirrored" else base,
                  ["W-NET-01"] + _ran(checks, "W-CFG-02", "W-DD-02", "W-WSL-03"),
                  f"Running containers publish {ports} but nothing listens on Windows, with mirrored mode for "
                  f"{rel.get('user') or 'the Docker Desktop user'}.", _nat_steps(f), notes + [NOT_PROOF])
    # 2. INCONCLUSIVE: whose config matters is unknown and the profiles disagree / cannot be read
    mirrored_profiles = as_list(f.get("mirrored_profiles"))
    if dd.get("installed") and not rel.get("identified") and mirrored_profiles:
        return _v("INCONCLUSIVE", "low", _ran(checks, "W-CFG-04", "W-CFG-02"),
                  f"Docker Desktop's user is unknown ({rel.get('reason')}) and mirrored mode is configured for "
                  f"{', '.join(map(str, mirrored_profiles))}.",
                  ["Re-run while the developer is logged on with Docker Desktop running, or with --enable user-context."], notes)
    rel_file = next((c for c in as_list(f.get("profile_configs")) if c.get("sid") == rel.get("sid")), {})
    if rel.get("identified") and any(p.startswith("could not read") for p in rel_file.get("file_problems", [])):
        return _v("INCONCLUSIVE", "low", _ran(checks, "W-CFG-01"), f"The relevant .wslconfig could not be read: {rel_file.get('path')}.")
    # 3. AT_RISK_MIRRORED_DOCKER
    predicted = conf_mode == "mirrored" and eff_mode == "mirrored" and not warn.get("fallback")
    if dd_wsl2 and (observed == "mirrored" or (observed is None and predicted)):
        return _v("AT_RISK_MIRRORED_DOCKER", "high" if observed == "mirrored" else base,
                  _ran(checks, "W-DD-02", "W-CFG-02", "W-OS-01", "W-OS-02", "W-WSL-02", "W-NET-02", "W-WSL-03"),
                  f"Docker Desktop (WSL2 backend) runs in {rel.get('user') or 'its user'}'s WSL VM, which is set to mirrored "
                  "networking: published ports can lose their Windows listener.",
                  _nat_steps(f), notes + ([] if observed else [PREDICTION]))
    # 4. AT_RISK_LATENT
    others = [u for u in mirrored_profiles if u != (rel.get("user") or "").replace("/", "\\").rsplit("\\", 1)[-1]]
    if dd_wsl2 and (conf_mode == "mirrored" or others):
        if conf_mode == "mirrored":
            why = [a.get("reason") for a in as_list(rel.get("adjustments")) if a.get("setting") == "wsl2.networkingMode"]
            if warn.get("fallback"):
                why.append("WSL logged a mirrored-mode fallback warning")
            if observed and observed != "mirrored":
                why.append(f"the VM runs in {observed} mode")
            summary = f"Mirrored is configured for {rel.get('user')} but not in effect ({'; '.join(filter(None, why)) or 'predicted fallback'}): it will bite after a Windows/WSL change."
        else:
            summary = f"Mirrored is configured for {', '.join(map(str, others))}, not Docker Desktop's user: it bites if they run Docker Desktop."
        return _v("AT_RISK_LATENT", "high" if observed else base,
                  _ran(checks, "W-CFG-02", "W-OS-01", "W-OS-02", "W-WSL-02", "W-NET-02", "W-CFG-04"), summary, _nat_steps(f), notes)
    # 5. NO_WSL: Docker Desktop's WSL2 backend without a WSL package
    if not pkg.get("installed") and not mirrored_profiles:
        return _v("NO_WSL_OR_NO_DOCKER", base if dd.get("installed") else "medium", _ran(checks, "W-WSL-01", "W-DD-01"),
                  "No Store/MSI WSL package" + (" although Docker Desktop is installed (W-WSL-01)." if dd.get("installed") else "."),
                  ["Install WSL (`wsl --install --no-distribution`) if Docker Desktop should use the WSL2 backend."] if dd.get("installed") else [])
    # 6. HEALTHY_NAT
    if dd_wsl2:
        conf = "high" if observed or probe.get("outcome") == "pass" else base
        if probe.get("outcome") == "warn":
            notes.append("The probe saw degraded publishing: " + "; ".join(probe.get("reasons") or []))
        mode = observed or eff_mode or "nat"
        if mode != "nat":
            notes.append(f"The relevant VM is in {mode} mode (not mirrored, not NAT).")
        return _v("HEALTHY_NAT", conf, _ran(checks, "W-DD-02", "W-CFG-02", "W-WSL-02", "W-WSL-03", "W-PROBE-01"),
                  f"Docker Desktop (WSL2 backend) and {rel.get('user') or 'its user'}'s WSL VM use {mode} networking.", [], notes)
    # 7. MIRRORED_WITHOUT_DOCKER
    if mirrored_profiles:
        why = "not installed" if not dd.get("installed") else "on the Hyper-V backend or Windows containers"
        return _v("MIRRORED_WITHOUT_DOCKER", "medium", _ran(checks, "W-CFG-02", "W-DD-01", "W-DD-02"),
                  f"Mirrored mode is configured ({', '.join(map(str, mirrored_profiles))}) and Docker Desktop is {why}: no conflict.")
    return _v("NO_WSL_OR_NO_DOCKER", "medium", _ran(checks, "W-WSL-01", "W-DD-01"),
              "Neither Docker Desktop on WSL2 nor mirrored mode is present.")


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
    return _v("EDGE_OK", "high" if lan_ok and observed else "medium", _ran(checks, "L-DK-01", "L-EDGE-01", "L-EDGE-02", "L-WSL-01"),
              "Native Engine; the edge container shares the host's LAN addresses.", [],
              [] if lan_ok else ["The container's addresses could not be compared with the host's LAN address."])
