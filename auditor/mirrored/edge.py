"""The edge-node deriver ``mirrored.edge``: Linux collector facts -> check-ready facts (pure, never raises)."""

from __future__ import annotations

import re
from typing import Any

from auditor.mirrored.linuxnet import default_gateway, in_subnet, ipv4_addrs
from auditor.mirrored.shapes import as_dict, as_list
from auditor.mirrored.versions import older_than
from auditor.rules import register_deriver

DEFAULT_DD_SUBNET = "192.168.65.0/24"
_BRIDGE_IF = re.compile(r"^(docker\d*|br-|veth|cni|flannel|virbr|lo$)")
MIN_ENGINE_LOOPBACK0_FIX = "27.3"   # moby#48514 backport; exact first release unverified (docs/research/domain.md 2.1)


def host_kind(uname: Any, os_release: Any) -> dict[str, Any]:
    """L-OS-01: native Linux, a WSL distro, or Docker Desktop's own VM, from the kernel release."""
    k = str(uname or "")
    kind = "unknown" if not k else "wsl" if re.search(r"microsoft-standard-wsl2|microsoft", k, re.I) else \
        "docker-desktop-vm" if "linuxkit" in k.lower() else "native"
    osr = as_dict(os_release)
    return {"kind": kind, "kernel": k or None, "os_id": osr.get("ID"), "pretty_name": osr.get("PRETTY_NAME")}


def engine(facts: dict[str, Any]) -> dict[str, Any]:
    """L-DK-01: Docker Desktop (any OS) or a native Engine, with the evidence."""
    ver, info = as_dict(facts.get("docker_version")), as_dict(facts.get("docker_info"))
    ctx = facts.get("docker_context") if isinstance(facts.get("docker_context"), str) else None
    reachable = bool(ver.get("server_reachable")) or (bool(info) and not info.get("errors") and bool(info.get("server_version")))
    evidence = []
    if ctx == "desktop-linux":
        evidence.append("docker context is desktop-linux")
    if info.get("operating_system"):
        evidence.append(f"docker info OperatingSystem: {info['operating_system']}")
    if ver.get("platform"):
        evidence.append(f"server platform: {ver['platform']}")
    is_dd = bool(info.get("is_docker_desktop") or ver.get("is_docker_desktop") or ctx == "desktop-linux")
    kind = "unknown" if not reachable and not is_dd else "docker-desktop" if is_dd else "native"
    return {"reachable": reachable, "kind": kind, "context": ctx, "operating_system": info.get("operating_system"),
            "name": info.get("name"), "kernel": info.get("kernel") or ver.get("kernel"),
            "server_version": ver.get("server_version") or info.get("server_version"),
            "desktop_version": ver.get("desktop_version"), "evidence": evidence,
            "rootless": bool(info.get("rootless")) and not is_dd,
            "errors": info.get("errors", [])}


def select_edge(inspect: list[dict[str, Any]], variables: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Which running containers are edge containers (docs/collectors.md, 'Which container is the edge container')."""
    names = [str(n) for n in as_list(variables.get("edge_containers")) if n]
    if names:
        return [c for c in inspect if c.get("name") in names], "edge_containers"
    label = str(variables.get("edge_label") or "auditor.edge")
    labelled = [c for c in inspect if label in as_dict(c.get("labels"))
                and str(c["labels"][label]).strip().lower() not in ("false", "0")]
    if labelled:
        return labelled, f"label {label}"
    pattern = str(variables.get("edge_name_pattern") or "edge").lower()
    return [c for c in inspect if pattern in str(c.get("name") or "").lower()], f"name contains {pattern!r}"


def _net_for(cid: str, nets: dict[str, Any]) -> dict[str, Any] | None:
    exact = as_dict(nets.get(cid))
    if exact:
        return exact
    return next((as_dict(v) for k, v in nets.items() if k.startswith(cid) or cid.startswith(k)), None)


@register_deriver("mirrored.edge")
def derive_edge(facts: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    hk = host_kind(facts.get("uname"), facts.get("os_release"))
    eng = engine(facts)
    host_ifaces = as_list(facts.get("host_addr"))
    host_routes = as_list(facts.get("host_route"))
    gw = default_gateway(host_routes)
    gw_dev = next((r.get("dev") for r in host_routes if as_dict(r).get("gateway") == gw), None)
    # LAN identity: IPv4 of the default-route device; else every address not on a container bridge.
    lan = [a for r in host_ifaces if as_dict(r).get("ifname") == gw_dev for a in ipv4_addrs([r])] or [
        a for r in host_ifaces if not _BRIDGE_IF.match(str(as_dict(r).get("ifname") or "")) for a in ipv4_addrs([r])]
    # The Docker Desktop subnet: configured on the host when we can read it; the documented default otherwise.
    subnet = str(variables.get("docker_desktop_subnet") or as_dict(facts.get("dd_settings")).get("vpnkit_cidr") or DEFAULT_DD_SUBNET)
    inspect = [c for c in as_list(facts.get("docker_inspect")) if isinstance(c, dict)]
    selected, rule = select_edge(inspect, variables)
    nets = as_dict(facts.get("container_net"))
    containers = []
    for c in selected:
        n = _net_for(str(c.get("id") or ""), nets)
        addrs = ipv4_addrs((n or {}).get("addrs"))
        cgw = default_gateway((n or {}).get("routes"))
        mode = c.get("network_mode") or ""
        containers.append({
            "id": str(c.get("id") or "")[:12], "name": c.get("name"), "network_mode": mode,
            "host_mode": mode == "host", "lan_driver": any(as_dict(v).get("driver") in ("macvlan", "ipvlan") for v in as_dict(c.get("networks")).values()),
            "addrs": addrs, "default_gateway": cgw, "net_collected": n is not None and (n.get("addr_format") not in ("none", "invalid")),
            "only_dd_subnet": bool(addrs) and all(in_subnet(a, subnet) for a in addrs),
            "gateway_in_dd_subnet": bool(cgw) and in_subnet(cgw, subnet),
            "sees_host_lan": bool(lan) and all(a in addrs for a in lan),
        })
    wi = as_dict(facts.get("wslinfo"))
    loop0 = bool(as_list(facts.get("loopback0")))
    wsl_mode = wi.get("mode") or ("mirrored" if loop0 else None)
    is_wsl = hk["kind"] == "wsl" or bool(wi.get("available"))
    sv = eng.get("server_version")
    return {
        "host_kind": hk,
        "engine": eng,
        "host_lan": {"addrs": lan, "all_ipv4": ipv4_addrs(host_ifaces), "default_gateway": gw, "default_dev": gw_dev},
        "edge": {"found": bool(containers), "selection": rule, "containers": containers, "dd_subnet": subnet,
                 "all_host_mode": bool(containers) and all(c["host_mode"] for c in containers),
                 "not_host": [c["name"] for c in containers if not c["host_mode"] and not c["lan_driver"]],
                 "no_lan": [c["name"] for c in containers if c["only_dd_subnet"] or (c["host_mode"] and c["net_collected"] and not c["sees_host_lan"])],
                 "dd_gateway": [c["name"] for c in containers if c["gateway_in_dd_subnet"]],
                 "running_count": len(inspect)},
        "wsl_host": {"is_wsl": is_wsl, "mode": wsl_mode if is_wsl else None, "loopback0": loop0,
                     "wslinfo_available": bool(wi.get("available"))},
        "engine_loopback0_fix": {"applies": is_wsl and wsl_mode == "mirrored" and eng["kind"] == "native",
                                 "server_version": sv, "too_old": bool(older_than(sv, MIN_ENGINE_LOOPBACK0_FIX)) if sv else False,
                                 "note": "moby#48514 (backport to 27.x); the exact first release is unverified"},
    }
