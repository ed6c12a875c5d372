"""Host variables -> ``ConnectionSpec``, with Ansible's variable names, aliases and defaults.

Where Ansible accepts several names for one setting, the one it lists last wins, as in Ansible
(``ansible_ssh_user`` over ``ansible_user``, ``ansible_winrm_port`` over ``ansible_port``).
``!vault`` values among the ``ansible_*`` variables are decrypted here, the only place that needs
them in clear. ``resolve_spec`` then turns the raw request into the frozen, typed ``ConnectionSpec``:
transport options are parsed once (auditor/transports/sshopts.py, winrm_options.py) and the password
becomes a ``Secret``, so nothing raw or clear travels in a plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from auditor.errors import BadInputError
from auditor.inventory.model import Host
from auditor.inventory.vault import VaultedValue, VaultError
from auditor.secrets import Secret
from auditor.transports.base import ConnectionRequest, ConnectionSpec

DEFAULT_PORTS = {"ssh": 22, "paramiko": 22}

#: ansible_connection values (short and FQCN) -> auditor transport names
CONNECTIONS = {
    "ssh": "ssh", "smart": "ssh", "ansible.builtin.ssh": "ssh",
    "paramiko": "paramiko", "paramiko_ssh": "paramiko", "ansible.builtin.paramiko_ssh": "paramiko",
    "winrm": "winrm", "ansible.builtin.winrm": "winrm",
    "local": "local", "ansible.builtin.local": "local",
}

#: for each setting and connection, the variables Ansible reads, lowest precedence first
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "host": {"ssh": ("ansible_host", "ansible_ssh_host"),
             "paramiko": ("ansible_host", "ansible_ssh_host", "ansible_paramiko_host"),
             "winrm": ("ansible_host", "ansible_winrm_host")},
    "port": {"ssh": ("ansible_port", "ansible_ssh_port"),
             "paramiko": ("ansible_port", "ansible_ssh_port", "ansible_paramiko_port"),
             "winrm": ("ansible_port", "ansible_winrm_port")},
    "user": {"ssh": ("ansible_user", "ansible_ssh_user"),
             "paramiko": ("ansible_user", "ansible_ssh_user", "ansible_paramiko_user"),
             "winrm": ("ansible_user", "ansible_winrm_user")},
    "password": {"ssh": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
                 "paramiko": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password",
                              "ansible_paramiko_pass", "ansible_paramiko_password"),
                 "winrm": ("ansible_password", "ansible_winrm_pass", "ansible_winrm_password")},
    "private_key_file": {"ssh": ("ansible_private_key_file", "ansible_ssh_private_key_file"),
                         "paramiko": ("ansible_private_key_file", "ansible_ssh_private_key_file",
                                      "ansible_paramiko_private_key_file")},
    "timeout": {"ssh": ("ansible_timeout", "ansible_ssh_timeout"),
                "paramiko": ("ansible_timeout", "ansible_ssh_timeout", "ansible_paramiko_timeout"),
                "winrm": ("ansible_winrm_connection_timeout",)},
}


def host_platform(vars: dict[str, Any]) -> str:
    """windows or linux: explicit ``auditor_platform``, else from the shell/connection type."""
    explicit = vars.get("auditor_platform")
    if explicit:
        return str(explicit).lower()
    if str(vars.get("ansible_shell_type", "")).lower() in ("powershell", "cmd"):
        return "windows"
    if str(vars.get("ansible_connection", "")).lower() in ("winrm", "psrp", "ansible.builtin.winrm"):
        return "windows"
    return "linux"


def connection_type(host: Host) -> str:
    """The auditor transport for ``ansible_connection``; a clear error for ones auditor cannot use."""
    raw = host.vars.get("ansible_connection")
    if raw in (None, ""):
        return "ssh"
    name = CONNECTIONS.get(str(raw).strip().lower())
    if name is None:
        supported = "ssh, paramiko, winrm, local"
        raise BadInputError(f"host {host.name!r}: ansible_connection={str(raw)[:60]!r} is not supported "
                            f"(supported: {supported})")
    return name


@dataclass(frozen=True)
class ConnectionDefaults:
    """Connection settings from the command line; ``None`` means "not given", so the host's own wins."""

    connect_timeout: float | None = None
    command_timeout: float | None = None
    host_key_checking: str | None = None
    known_hosts_file: str | None = None


DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_COMMAND_TIMEOUT = 60.0


def connection_request(host: Host) -> ConnectionRequest:
    """What the inventory says about reaching ``host`` (raw, vaulted ``ansible_*`` values decrypted)."""
    connection = connection_type(host)
    v = _clear_vars(host)

    def pick(setting: str) -> Any:
        value = None
        for name in _ALIASES[setting].get(connection, ()):
            if v.get(name) not in (None, ""):
                value = v[name]
        return value

    port = pick("port")
    timeout = pick("timeout")
    return ConnectionRequest(
        name=host.name,
        host=str(pick("host") or host.name),
        connection=connection,
        port=_int(host, "port", port) if port is not None else DEFAULT_PORTS.get(connection),
        user=_opt_str(pick("user")),
        password=_opt_str(pick("password")),
        private_key_file=_opt_str(pick("private_key_file")),
        connect_timeout=float(_int(host, "timeout", timeout)) if timeout is not None else DEFAULT_CONNECT_TIMEOUT,
        vars=v,
    )


def resolve_spec(request: ConnectionRequest, cli: ConnectionDefaults = ConnectionDefaults()) -> ConnectionSpec:
    """The one place connection settings are decided. Precedence, for every setting: an explicit command-line
    value > the host's own (inventory variable, ``-o`` option in its ssh args) > the default.

    Raises the transport's ``TransportError`` subclass when a host's options are unusable (the runner reports
    that host as an error and goes on with the others).
    """
    if cli.host_key_checking is not None:
        request = replace(request, host_key_checking=cli.host_key_checking)
    ssh = winrm = None
    connect_timeout = request.connect_timeout
    if request.connection in ("ssh", "paramiko"):
        from auditor.transports.sshopts import resolve_settings

        ssh = resolve_settings(request)
        connect_timeout = ssh.connect_timeout
        if cli.connect_timeout is not None:
            ssh = replace(ssh, connect_timeout=cli.connect_timeout)
        if cli.host_key_checking is not None:
            ssh = replace(ssh, host_key_checking=cli.host_key_checking)
        if cli.known_hosts_file is not None:
            ssh = replace(ssh, known_hosts_file=os.path.expanduser(cli.known_hosts_file))
    elif request.connection == "winrm":
        from auditor.transports.winrm_options import winrm_options

        winrm = winrm_options(request)
    if cli.connect_timeout is not None:
        connect_timeout = cli.connect_timeout
    return ConnectionSpec(
        name=request.name, host=request.host, connection=request.connection, port=request.port, user=request.user,
        password=Secret(request.password) if request.password is not None else None,
        private_key_file=request.private_key_file, connect_timeout=connect_timeout,
        command_timeout=cli.command_timeout if cli.command_timeout is not None else request.command_timeout,
        max_output=request.max_output, ssh=ssh, winrm=winrm,
    )


def _clear_vars(host: Host) -> dict[str, Any]:
    """The host's variables with vaulted ``ansible_*`` values decrypted (for the transport only)."""
    out = dict(host.vars)
    for key, value in host.vars.items():
        if isinstance(value, VaultedValue) and str(key).startswith("ansible_"):
            try:
                out[key] = value.decrypt()
            except VaultError as exc:
                raise BadInputError(f"host {host.name!r}: cannot decrypt {key}: {exc}") from None
    return out


def _int(host: Host, what: str, value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadInputError(f"host {host.name!r}: {what} must be a whole number, got {str(value)[:40]!r}") from None


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
