"""Docker CLI JSON and Docker Desktop settings files -> facts (pure; shared by Windows and edge parsers)."""

from __future__ import annotations

import re
from typing import Any

from auditor.mirrored.shapes import (
    as_dict, as_list, ci_get, failed, first_json_value, guarded, load_json, to_bool, to_int, to_str,
)
from auditor.parsers.registry import CollectorOutput, ParseError, register_parser

MAX_PORT_RANGE = 1024  # expand at most this many ports of one "8000-9000->..." range
_PORT_RE = re.compile(
    r"^(?:(?P<ip>\[[0-9A-Fa-f:.]*\]|[0-9.]+|[0-9A-Fa-f:]*::[0-9A-Fa-f:]*):)?"
    r"(?:(?P<h1>\d{1,5})(?:-(?P<h2>\d{1,5}))?->)?(?P<c1>\d{1,5})(?:-(?P<c2>\d{1,5}))?/(?P<proto>[a-z]+)$"
)


def docker_desktop_version(platform_name: str | None) -> str | None:
    """'Docker Desktop 4.85.0 (230000)' -> '4.85.0'."""
    m = re.search(r"Docker Desktop\s+(\d+(?:\.\d+)*)", platform_name or "")
    return m.group(1) if m else None


def parse_ports(text: Any) -> list[dict[str, Any]]:
    """docker ps "Ports": '0.0.0.0:8080->80/tcp, [::]:8080->80/tcp, 5432/tcp' -> published/exposed rows."""
    if not isinstance(text, str):
        return []
    rows: list[dict[str, Any]] = []
    for part in text.replace("\\u003e", ">").replace("\u003e", ">").split(","):
        m = _PORT_RE.match(part.strip())
        if not m:
            continue
        ip = m.group("ip")
        if ip and ip.startswith("["):
            ip = ip[1:-1]
        c1 = int(m.group("c1"))
        c2 = int(m.group("c2") or c1)
        if m.group("h1") is None:
            rows.append({"host_ip": None, "host_port": None, "container_port": c1, "proto": m.group("proto")})
            continue
        h1 = int(m.group("h1"))
        h2 = int(m.group("h2") or h1)
        for i in range(min(h2 - h1, MAX_PORT_RANGE - 1) + 1):
            rows.append({"host_ip": ip if ip is not None else "0.0.0.0", "host_port": h1 + i,
                         "container_port": min(c1 + i, c2) if c2 >= c1 else c1, "proto": m.group("proto")})
    return rows


def parse_labels(text: Any) -> dict[str, str]:
    """docker ps "Labels": 'a=1,b=2' (or an inspect dict) -> dict."""
    if isinstance(text, dict):
        return {str(k): str(v) for k, v in text.items()}
    if not isinstance(text, str):
        return {}
    out: dict[str, str] = {}
    for part in text.split(","):
        if part.strip():
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


def version_doc(doc: Any) -> dict[str, Any]:
    """`docker version --format '{{json .}}'` document -> facts."""
    doc = as_dict(doc)
    client, server = as_dict(doc.get("Client")), as_dict(doc.get("Server"))
    platform = to_str(as_dict(server.get("Platform")).get("Name"))
    context = to_str(client.get("Context"))
    return {
        "client_version": to_str(client.get("Version")),
        "context": context,
        "server_reachable": bool(server),
        "server_version": to_str(server.get("Version")),
        "platform": platform,
        "desktop_version": docker_desktop_version(platform),
        "kernel": to_str(server.get("KernelVersion")),
        "os": to_str(server.get("Os")),
        "is_docker_desktop": bool(platform and "docker desktop" in platform.lower()) or context == "desktop-linux",
    }


def info_doc(doc: Any) -> dict[str, Any]:
    """`docker info --format '{{json .}}'` document -> facts."""
    doc = as_dict(doc)
    labels = [str(x) for x in as_list(doc.get("Labels")) if isinstance(x, (str, int, float))]
    osname = to_str(doc.get("OperatingSystem"))
    name = to_str(doc.get("Name"))
    return {
        "operating_system": osname,
        "name": name,
        "kernel": to_str(doc.get("KernelVersion")),
        "server_version": to_str(doc.get("ServerVersion")),
        "labels": labels,
        "errors": [str(e) for e in as_list(doc.get("ServerErrors")) if isinstance(e, str)],
        "security_options": [str(o) for o in as_list(doc.get("SecurityOptions")) if isinstance(o, str)][:20],
        "rootless": any(str(o).split(",")[0].strip() == "name=rootless" for o in as_list(doc.get("SecurityOptions"))),
        "is_docker_desktop": (osname or "").lower().startswith("docker desktop")
        or name == "docker-desktop"
        or any(lbl.startswith("com.docker.desktop.address=") for lbl in labels),
    }


def ps_lines(text: str) -> list[dict[str, Any]]:
    """`docker ps --format '{{json .}}'` NDJSON -> container rows (lines that are not JSON objects: error)."""
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        obj = load_json(line, f"one JSON object per line (line {n})")
        if not isinstance(obj, dict):
            raise ParseError(f"expected one JSON object per line: line {n} is {type(obj).__name__}")
        names = to_str(obj.get("Names")) or ""
        rows.append({
            "id": to_str(obj.get("ID")) or "",
            "name": names.split(",")[0],
            "image": to_str(obj.get("Image")),
            "state": (to_str(obj.get("State")) or "").lower() or None,
            "status": to_str(obj.get("Status")),
            "networks": [n.strip() for n in (to_str(obj.get("Networks")) or "").split(",") if n.strip()],
            "labels": parse_labels(obj.get("Labels")),
            "ports": parse_ports(obj.get("Ports")),
        })
    return rows


def inspect_doc(doc: Any) -> list[dict[str, Any]]:
    """`docker inspect` JSON array -> per-container network facts."""
    out = []
    for c in as_list(doc):
        if not isinstance(c, dict):
            continue
        hc, cfg = as_dict(c.get("HostConfig")), as_dict(c.get("Config"))
        nets = as_dict(as_dict(c.get("NetworkSettings")).get("Networks"))
        bindings = []
        for cport, hosts in as_dict(hc.get("PortBindings")).items():
            for b in as_list(hosts):
                b = as_dict(b)
                bindings.append({"container": str(cport), "host_ip": to_str(b.get("HostIp")) or "0.0.0.0",
                                 "host_port": to_int(b.get("HostPort"))})
        out.append({
            "id": to_str(c.get("Id")) or "",
            "name": (to_str(c.get("Name")) or "").lstrip("/"),
            "running": to_bool(as_dict(c.get("State")).get("Running")),
            "network_mode": to_str(hc.get("NetworkMode")),
            "networks": {str(k): {"ip": to_str(as_dict(v).get("IPAddress")) or None,
                                  "gateway": to_str(as_dict(v).get("Gateway")) or None,
                                  "driver": to_str(as_dict(v).get("Driver"))} for k, v in nets.items()},
            "labels": parse_labels(cfg.get("Labels") or {}),
            "port_bindings": bindings,
        })
    return out


# --- Docker Desktop settings files ------------------------------------------------------------

def desktop_settings(doc: Any, file_name: str = "settings-store.json") -> dict[str, Any]:
    """settings-store.json (PascalCase, >= 4.35) or legacy settings.json (camelCase): keys read case-insensitively."""
    doc = as_dict(doc)
    distros = ci_get(doc, "IntegratedWslDistros")
    return {
        "file": file_name,
        "wsl_engine_enabled": to_bool(ci_get(doc, "WslEngineEnabled")),
        "use_windows_containers": to_bool(ci_get(doc, "UseWindowsContainers")),
        "host_networking_enabled": to_bool(ci_get(doc, "HostNetworkingEnabled")),
        "kernel_for_udp": to_bool(ci_get(doc, "KernelForUDP")),
        "vpnkit_cidr": to_str(ci_get(doc, "VpnkitCIDR")),
        "network_type": to_str(ci_get(doc, "NetworkType")),
        "integrated_wsl_distros": [str(d) for d in as_list(distros) if isinstance(d, str)],
        "integration_with_default_distro": to_bool(ci_get(doc, "EnableIntegrationWithDefaultWslDistro")),
        "settings_version": to_int(ci_get(doc, "SettingsVersion")),
    }


def _admin_value(doc: dict[str, Any], *path: str) -> dict[str, Any] | None:
    node: Any = doc
    for part in path:
        node = ci_get(node, part)
        if node is None:
            return None
    if isinstance(node, dict) and ("value" in node or "locked" in node):
        return {"value": node.get("value"), "locked": bool(to_bool(node.get("locked")))}
    return {"value": node, "locked": False}


def admin_settings(doc: Any) -> dict[str, Any]:
    """admin-settings.json: ``{"setting": {"locked": bool, "value": ...}}``, some under ``linuxVM``."""
    doc = as_dict(doc)
    return {
        "wsl_engine_enabled": _admin_value(doc, "linuxVM", "wslEngineEnabled") or _admin_value(doc, "wslEngineEnabled"),
        "vpnkit_cidr": _admin_value(doc, "linuxVM", "vpnkitCIDR") or _admin_value(doc, "vpnkitCIDR"),
        "port_binding_behavior": _admin_value(doc, "portBindingBehavior"),
        "default_networking_mode": _admin_value(doc, "defaultNetworkingMode"),  # Docker's IP family, not WSL's
        "expose_docker_api_on_tcp_2375": _admin_value(doc, "exposeDockerAPIOnTCP2375"),
        "host_networking_enabled": _admin_value(doc, "hostNetworkingEnabled"),
        "locked_keys": sorted(k for k, v in _flatten_locked(doc)),
    }


def _flatten_locked(doc: dict[str, Any], prefix: str = "") -> list[tuple[str, bool]]:
    out = []
    for k, v in doc.items():
        if isinstance(v, dict) and "locked" in v:
            if to_bool(v.get("locked")):
                out.append((prefix + str(k), True))
        elif isinstance(v, dict):
            out.extend(_flatten_locked(v, prefix + str(k) + "."))
    return out


# --- registered parsers -------------------------------------------------------------------------

def _json_object(out: CollectorOutput, command: str) -> dict[str, Any]:
    text = out.text()
    if not text.strip():
        raise failed(out, command)
    doc = load_json(first_json_value(text), f"the JSON of `{command} --format '{{{{json .}}}}'`")
    if not isinstance(doc, dict):
        raise ParseError(f"expected a JSON object from {command}")
    return doc


@register_parser("mirrored.docker_version")
@guarded
def parse_docker_version(out: CollectorOutput) -> dict[str, Any]:
    return version_doc(_json_object(out, "docker version"))


@register_parser("mirrored.docker_info")
@guarded
def parse_docker_info(out: CollectorOutput) -> dict[str, Any]:
    return info_doc(_json_object(out, "docker info"))


@register_parser("mirrored.docker_ps")
@guarded
def parse_docker_ps(out: CollectorOutput) -> list[dict[str, Any]]:
    text = out.text()
    if not text.strip() and out.rc not in (0, None):
        raise failed(out, "docker ps")
    return ps_lines(text)


@register_parser("mirrored.docker_inspect")
@guarded
def parse_docker_inspect(out: CollectorOutput) -> list[dict[str, Any]]:
    text = out.text()
    if not text.strip():
        if out.rc not in (0, None):
            raise failed(out, "docker inspect")
        return []  # no running container: xargs -r ran nothing
    doc = load_json(first_json_value(text), "the JSON array of `docker inspect`")
    if not isinstance(doc, (list, dict)):
        raise ParseError("expected a JSON array from docker inspect")
    return inspect_doc(doc)


@register_parser("mirrored.docker_settings")
@guarded
def parse_docker_settings(out: CollectorOutput) -> dict[str, Any]:
    return desktop_settings(load_json(out.text(), "Docker Desktop settings JSON"))


@register_parser("mirrored.docker_admin_settings")
@guarded
def parse_docker_admin_settings(out: CollectorOutput) -> dict[str, Any]:
    return admin_settings(load_json(out.text(), "Docker Desktop admin-settings.json"))
