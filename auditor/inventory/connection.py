"""Host variables -> ``ConnectionSpec``, with Ansible's variable names, aliases and defaults.

Where Ansible accepts several names for one setting, the one it lists last wins, as in Ansible
(``ansible_ssh_user`` over ``ansible_user``, ``ansible_winrm_port`` over ``ansible_port``).
``!vault`` values among the ``ansible_*`` variables are decrypted here, the only place that needs
them in clear. ``resolve_spec`` then turns the raw request into the frozen, typed ``ConnectionSpec``:
transport options are parsed once (auditor/transports/sshopts.py, winrm_options.py) and the password
becomes a ``Secret``, so nothing raw or clear travels in a plan.

Connection settings come only from ``ansible_*`` and ``auditor_*`` variables, and resolution uses a host's
name and address only by copying them (into the spec, the SSH settings, a Kerberos SPN, a message):
``SpecCache`` relies on both to resolve the hosts of a group once, not one by one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from auditor.errors import BadInputError, TransportError
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
        return _pick(v, setting, connection)

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


def _pick(v: dict[str, Any], setting: str, connection: str) -> Any:
    value = None
    for name in _ALIASES[setting].get(connection, ()):
        if v.get(name) not in (None, ""):
            value = v[name]
    return value


def _clear_vars(host: Host) -> dict[str, Any]:
    """The host's variables with vaulted ``ansible_*`` values decrypted (for the transport only)."""
    out = dict(host.vars)
    for key, value in host.vars.items():
        if isinstance(value, VaultedValue) and str(key).startswith("ansible_"):
            out[key] = _decrypt(host, key, value)
    return out


def _decrypt(host: Host, key: str, value: VaultedValue) -> str:
    try:
        return value.decrypt()
    except VaultError as exc:
        raise BadInputError(f"host {host.name!r}: cannot decrypt {key}: {exc}") from None


def _int(host: Host, what: str, value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadInputError(f"host {host.name!r}: {what} must be a whole number, got {str(value)[:40]!r}") from None


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


# --- resolving many hosts -------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedConnection:
    """A host's resolved connection as a plan holds it: the spec, or why there is none."""

    address: str
    connection: str
    spec: ConnectionSpec | None
    error: str | None = None


def plan_connection(host: Host, cli: ConnectionDefaults) -> PlannedConnection:
    """One host's connection, resolved on its own. Unusable options (``TransportError``) end in ``error``;
    malformed variables raise ``BadInputError`` (the whole inventory is wrong, not one host)."""
    try:
        request = connection_request(host)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"host {host.name!r}: bad connection variables: {exc}") from None
    try:
        return PlannedConnection(request.host, request.connection, resolve_spec(request, cli))
    except TransportError as exc:
        return PlannedConnection(request.host, request.connection, None, str(exc))
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"host {host.name!r}: bad connection variables: {exc}") from None


#: the variables connection settings come from (see the module docstring)
_CONNECTION_PREFIXES = ("ansible_", "auditor_")
#: the variables that name the address to connect to (per host: never part of a cache key)
_ADDRESS_VARS = frozenset(name for names in _ALIASES["host"].values() for name in names)
# placeholders for a host's name and address while a shared template is resolved (no inventory holds NULs)
_NAME, _ADDRESS = "\0auditor-name\0", "\0auditor-address\0"


class _Template:
    """A key's resolved spec, with placeholders for the name and address, ready to be filled in per host."""

    def __init__(self, spec: ConnectionSpec, ssh_address: bool):
        self.connection = spec.connection
        # the constructors' arguments, kept: building a spec from them is ~3x cheaper than dataclasses.replace
        self.spec_args = _init_args(spec)
        self.ssh_args = _init_args(spec.ssh) if ssh_address and spec.ssh is not None else None
        self.ssh_type: Any = type(spec.ssh)  # SshSettings (auditor.transports.sshopts, imported when first used)

    def fill(self, host: Host) -> PlannedConnection:
        connection = self.connection
        v = host.vars
        address = _pick({name: _decrypt(host, name, v[name]) if isinstance(v[name], VaultedValue) else v[name]
                         for name in _ALIASES["host"].get(connection, ()) if name in v}, "host", connection)
        address = str(address or host.name)
        args = {**self.spec_args, "name": host.name, "host": address}
        if self.ssh_args is not None:  # the SSH settings name the address too (no HostName in the ssh args)
            args["ssh"] = self.ssh_type(**{**self.ssh_args, "host": address})
        return PlannedConnection(address, connection, ConnectionSpec(**args))


def _init_args(spec: Any) -> dict[str, Any]:
    return {f.name: getattr(spec, f.name) for f in fields(spec) if f.init}


class SpecCache:
    """``plan_connection`` for the hosts of an inventory, resolved once per distinct set of connection variables.

    Hosts of one group share every variable but their address (and a few of their own, often a port): the
    cache key is the identity of the group variables the host inherits (``Host.inherited``) and the host's
    own ``ansible_*``/``auditor_*`` variables but the address ones. A key's template is resolved with
    placeholders for the name and address, then filled in per host. Where a placeholder would end up anywhere
    but the spec's name and address (a Kerberos SPN, an error message), the hosts of that key are resolved one
    by one, so every host gets exactly what ``plan_connection`` gives it.
    """

    def __init__(self, cli: ConnectionDefaults):
        self.cli = cli
        self._templates: dict[Any, _Template | None] = {}
        self._bases: dict[int, dict[str, Any]] = {}  # keeps the keyed dicts alive: their ids stay theirs

    def resolve(self, host: Host, own: dict[str, Any] | None) -> PlannedConnection:
        """``own``: the host's variables that are not its ``inherited`` ones (None: not known)."""
        base = host.inherited
        if own is None or base is None:
            return plan_connection(host, self.cli)
        key = (id(base), tuple([(k, v) for k, v in own.items()
                                if isinstance(k, str) and k.startswith(_CONNECTION_PREFIXES) and k not in _ADDRESS_VARS]))
        try:
            known = key in self._templates
        except TypeError:  # an unhashable value (a list, a mapping): no key for this host
            return plan_connection(host, self.cli)
        if known:
            template = self._templates[key]
        else:
            self._bases[id(base)] = base
            template = self._templates[key] = self._template(host)
        if template is None:
            return plan_connection(host, self.cli)
        return template.fill(host)

    def _template(self, host: Host) -> _Template | None:
        try:
            request = connection_request(host)
        except (TypeError, ValueError):
            return None  # plan_connection reports it, naming the host
        probe = replace(request, name=_NAME, host=_ADDRESS, vars={
            k: v for k, v in request.vars.items()
            if isinstance(k, str) and k.startswith(_CONNECTION_PREFIXES) and k not in _ADDRESS_VARS})
        try:
            spec = resolve_spec(probe, self.cli)
        except Exception:  # noqa: BLE001 - resolved again host by host, which reports it naming the host
            return None
        ssh_address = spec.ssh is not None and spec.ssh.host == _ADDRESS
        rest = replace(spec, name="", host="", ssh=replace(spec.ssh, host="") if ssh_address and spec.ssh else spec.ssh)
        if _mentions(rest, _NAME) or _mentions(rest, _ADDRESS):
            return None
        return _Template(spec, ssh_address)


def _mentions(value: Any, text: str) -> bool:
    """Whether ``text`` is in any string of ``value`` (dataclasses, tuples, lists, dicts, at any depth)."""
    if isinstance(value, str):
        return text in value
    if is_dataclass(value) and not isinstance(value, type):
        return any(_mentions(getattr(value, f.name), text) for f in fields(value))
    if isinstance(value, (tuple, list)):
        return any(_mentions(v, text) for v in value)
    if isinstance(value, dict):
        return any(_mentions(k, text) or _mentions(v, text) for k, v in value.items())
    return False
