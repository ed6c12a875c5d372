"""Host variables -> ``ConnectionSpec``, with Ansible's variable names and defaults."""

from __future__ import annotations

from typing import Any

from auditor.inventory.model import Host
from auditor.transports.base import ConnectionSpec

DEFAULT_PORTS = {"ssh": 22, "paramiko": 22}


def host_platform(vars: dict[str, Any]) -> str:
    """windows or linux: explicit ``auditor_platform``, else from the shell/connection type."""
    explicit = vars.get("auditor_platform")
    if explicit:
        return str(explicit).lower()
    if str(vars.get("ansible_shell_type", "")).lower() in ("powershell", "cmd"):
        return "windows"
    if str(vars.get("ansible_connection", "")).lower() in ("winrm", "psrp"):
        return "windows"
    return "linux"


def connection_spec(host: Host, **overrides: Any) -> ConnectionSpec:
    v = host.vars
    connection = str(v.get("ansible_connection") or "ssh").lower()
    if connection == "smart":
        connection = "ssh"
    port = v.get("ansible_port") or v.get("ansible_ssh_port")
    spec = ConnectionSpec(
        name=host.name,
        host=str(v.get("ansible_host") or v.get("ansible_ssh_host") or host.name),
        connection=connection,
        port=int(port) if port not in (None, "") else DEFAULT_PORTS.get(connection),
        user=_opt_str(v.get("ansible_user") or v.get("ansible_ssh_user")),
        password=_opt_str(v.get("ansible_password") or v.get("ansible_ssh_pass")),
        private_key_file=_opt_str(v.get("ansible_ssh_private_key_file") or v.get("ansible_private_key_file")),
        vars=dict(v),
    )
    for key, value in overrides.items():
        if value is not None:
            setattr(spec, key, value)
    return spec


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
