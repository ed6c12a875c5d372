"""Docker CLI output as the real CLI prints it, shared by the Windows and edge models.

``docker ... --format '{{json .}}'`` uses Go's encoding/json, which escapes ``<``, ``>`` and ``&`` as
``\\u003c``, ``\\u003e``, ``\\u0026`` (so ``0.0.0.0:80->80/tcp`` arrives as ``0.0.0.0:80-\\u003e80/tcp``).
``docker inspect`` prints an indented JSON array.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


def go_json(value: Any, indent: int | None = None) -> str:
    """JSON the way Go's encoding/json writes it (HTML-escaped)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=(",", ": ") if indent else (",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def container_id(host: str, name: str) -> str:
    """A stable 64-hex container id (the same host and name always get the same id)."""
    return hashlib.sha256(f"{host}/{name}".encode()).hexdigest()


@dataclass
class PsRow:
    """What ``docker ps`` and ``docker inspect`` need to know about one container."""

    id: str
    name: str
    image: str
    created: datetime
    now: datetime
    ports: list[tuple[str, int, int, str]] = field(default_factory=list)  # host_ip, host_port, cport, proto
    labels: dict[str, str] = field(default_factory=dict)
    network_mode: str = "bridge"
    command: str = "\"/docker-entrypoint.sh nginx -g 'daemon off;'\""
    ip: str = ""
    gateway: str = ""


def _ago(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hours" if hours > 1 else "About an hour"
    return f"{max(1, int(delta.total_seconds() // 60))} minutes"


def _ports_text(ports: list[tuple[str, int, int, str]]) -> str:
    parts = []
    for host_ip, host_port, cport, proto in ports:
        shown = f"[{host_ip}]" if ":" in host_ip else host_ip
        parts.append(f"{shown}:{host_port}->{cport}/{proto}")
    return ", ".join(parts)


def ps_line(row: PsRow) -> str:
    """One line of ``docker ps --no-trunc --format '{{json .}}'``."""
    ago = _ago(row.now - row.created)
    doc = {
        "Command": row.command,
        "CreatedAt": row.created.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
        "ID": row.id,
        "Image": row.image,
        "Labels": ",".join(f"{k}={v}" for k, v in row.labels.items()),
        "LocalVolumes": "0",
        "Mounts": "",
        "Names": row.name,
        "Networks": row.network_mode if row.network_mode != "default" else "bridge",
        "Ports": _ports_text(row.ports),
        "RunningFor": f"{ago} ago",
        "Size": "0B",
        "State": "running",
        "Status": f"Up {ago}",
    }
    return go_json(doc)


def inspect_doc(row: PsRow) -> dict[str, Any]:
    """One element of ``docker inspect``'s array (the fields auditors read, in Docker's layout)."""
    bindings: dict[str, list[dict[str, str]]] = {}
    for host_ip, host_port, cport, proto in row.ports:
        bindings.setdefault(f"{cport}/{proto}", []).append({"HostIp": host_ip, "HostPort": str(host_port)})
    net_name = row.network_mode if row.network_mode not in ("default",) else "bridge"
    endpoint = {
        "IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "" if net_name == "host" else "02:42:ac:11:00:02",
        "DriverOpts": None, "GwPriority": 0, "NetworkID": hashlib.sha256(net_name.encode()).hexdigest(),
        "EndpointID": hashlib.sha256((row.id + net_name).encode()).hexdigest(),
        "Gateway": row.gateway, "IPAddress": row.ip, "IPPrefixLen": 16 if row.ip else 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }
    return {
        "Id": row.id,
        "Created": row.created.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
        "Path": "/docker-entrypoint.sh",
        "Args": ["nginx", "-g", "daemon off;"],
        "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False, "OOMKilled": False,
                  "Dead": False, "Pid": 4242, "ExitCode": 0, "Error": "",
                  "StartedAt": row.created.strftime("%Y-%m-%dT%H:%M:%S.%f") + "456Z",
                  "FinishedAt": "0001-01-01T00:00:00Z"},
        "Image": "sha256:" + hashlib.sha256(row.image.encode()).hexdigest(),
        "Name": "/" + row.name,
        "RestartCount": 0,
        "Driver": "overlayfs",
        "HostConfig": {"NetworkMode": row.network_mode, "PortBindings": bindings, "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
        "Config": {"Hostname": row.id[:12], "Image": row.image, "Labels": dict(row.labels)},
        "NetworkSettings": {"Ports": {k: v for k, v in bindings.items()}, "Networks": {net_name: endpoint}},
    }


def inspect_text(rows: list[PsRow]) -> str:
    return go_json([inspect_doc(r) for r in rows], indent=4) + "\n"


def version_doc(client: str, server: dict[str, Any] | None, context: str, client_os: str) -> dict[str, Any]:
    return {
        "Client": {"Version": client, "ApiVersion": "1.51", "DefaultAPIVersion": "1.51", "GitCommit": "578ccf6",
                   "GoVersion": "go1.24.5", "Os": client_os, "Arch": "amd64", "BuildTime": "Wed Jul  9 16:12:50 2025",
                   "Context": context},
        "Server": server,
    }


def server_doc(platform: str, version: str, kernel: str) -> dict[str, Any]:
    return {
        "Platform": {"Name": platform},
        "Components": [{"Name": "Engine", "Version": version,
                        "Details": {"ApiVersion": "1.51", "Arch": "amd64", "KernelVersion": kernel, "Os": "linux"}},
                       {"Name": "containerd", "Version": "1.7.27", "Details": {"GitCommit": "05044ec0a9a75232cad458027ca83437aae3f4da"}}],
        "Version": version, "ApiVersion": "1.51", "MinAPIVersion": "1.24", "GitCommit": "e77ff99",
        "GoVersion": "go1.24.5", "Os": "linux", "Arch": "amd64", "KernelVersion": kernel,
        "BuildTime": "2025-07-09T16:13:55.000000000+00:00",
    }


def info_doc(name: str, os_name: str, kernel: str, version: str, running: int, labels: list[str]) -> dict[str, Any]:
    return {
        "ID": hashlib.sha256(name.encode()).hexdigest()[:36], "Containers": running, "ContainersRunning": running,
        "ContainersPaused": 0, "ContainersStopped": 0, "Images": running + 2, "Driver": "overlayfs",
        "DockerRootDir": "/var/lib/docker", "KernelVersion": kernel, "OperatingSystem": os_name, "OSVersion": "",
        "OSType": "linux", "Architecture": "x86_64", "NCPU": 8, "MemTotal": 16624656384, "Name": name,
        "Labels": labels, "ServerVersion": version, "ExperimentalBuild": False, "LiveRestoreEnabled": False,
        "Warnings": None,
    }
