"""The transport interface: connect once, run scripts, close.

A transport knows how to reach one host and run a script there; it knows nothing about checks,
playbooks or WSL. The runner talks to every transport through ``Transport`` only, so a new
connection type (``winrm``) registers itself with ``register_transport`` and slots in unchanged.

Errors are mapped to host outcomes by their class: ``ConnectFailed`` -> unreachable,
``AuthFailed`` -> auth_failed, ``TransportTimeout`` -> timed_out, any other ``TransportError`` -> error.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

from auditor.errors import AuthFailed, ConnectFailed, TransportError, TransportNotAvailable, TransportTimeout
from auditor.plugins import Registry
from auditor.secrets import Secret, reveal

if TYPE_CHECKING:  # resolved option types, defined next to the transports that use them
    from auditor.transports.sshopts import SshSettings
    from auditor.transports.winrm_options import WinrmOptions

__all__ = ["AuthFailed", "ConnectFailed", "TransportError", "TransportNotAvailable", "TransportTimeout",
           "ConnectionRequest", "ConnectionSpec", "ExecResult", "Transport", "get_transport", "register_transport", "bounded_append"]

#: Upper bound on what one remote invocation may return, per stream. Remote output is untrusted.
DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024


#: The transports auditor has (``ansible_connection`` values are mapped onto these).
ConnectionType = Literal["ssh", "paramiko", "local", "winrm"]
#: SSH host key policy: "strict" (known_hosts only), "accept-new" (add unknown keys to the known_hosts file,
#: reject changed ones), "off" (no verification: an explicit opt-out).
HostKeyPolicy = Literal["strict", "accept-new", "off"]


@dataclass
class ConnectionRequest:
    """What the inventory says about reaching one host, before it is resolved: raw variables included.

    Lives only while planning (and in transport tests): ``auditor.inventory.connection.resolve_spec`` turns
    it into the frozen ``ConnectionSpec`` the transports take. Never stored in a plan: ``vars`` may hold
    secrets in clear.
    """

    name: str                       # inventory hostname
    host: str                       # address to connect to (ansible_host, else name)
    connection: str = "ssh"
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    host_key_checking: str = "accept-new"
    known_hosts_file: str | None = None
    max_output: int = DEFAULT_MAX_OUTPUT
    vars: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ConnectionSpec:
    """Everything a transport needs to reach one host, resolved once: typed options, secrets as ``Secret``.

    Pickles without any secret (``Secret`` pickles as an id), so plans can go to worker processes.
    ``ssh`` is set for the ssh and paramiko transports, ``winrm`` for winrm.
    """

    name: str
    host: str
    connection: str = "ssh"
    port: int | None = None
    user: str | None = None
    password: Secret | None = None
    private_key_file: str | None = None
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    max_output: int = DEFAULT_MAX_OUTPUT
    ssh: SshSettings | None = None
    winrm: WinrmOptions | None = None

    def secret_password(self) -> str | None:
        return reveal(self.password)


@dataclass
class ExecResult:
    stdout: bytes
    stderr: bytes
    rc: int | None
    truncated: bool = False
    duration_ms: float = 0.0


class Transport(abc.ABC):
    """One connection to one host. Not shared between hosts; used by one task at a time."""

    #: the shell the host's scripts are written for: "sh" or "powershell"
    shell: str = "sh"

    def __init__(self, spec: ConnectionSpec):
        self.spec = spec

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection (and authenticate) within ``spec.connect_timeout``."""

    @abc.abstractmethod
    async def run(self, script: str, timeout: float | None = None) -> ExecResult:
        """Run ``script`` in the host's shell; raise ``TransportTimeout`` after ``timeout`` seconds.

        Output is bounded by ``spec.max_output`` per stream (``truncated`` set when cut).
        A non-zero exit code is not an error: it comes back in ``rc``.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection. Must not raise."""

    async def __aenter__(self) -> "Transport":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


TransportFactory = Callable[[ConnectionSpec], Transport]
#: connection type -> transport factory; each transport module registers itself when imported, and is
#: imported only when a host uses it (paramiko and pywinrm stay unloaded otherwise)
TRANSPORTS: Registry[TransportFactory] = Registry("transport", lazy={
    "ssh": "auditor.transports.ssh",
    "paramiko": "auditor.transports.paramiko_ssh",
    "local": "auditor.transports.local",
    "winrm": "auditor.transports.winrm",
})


def register_transport(name: str, factory: TransportFactory) -> None:
    TRANSPORTS.add(name, factory)


def transport_module(connection: str) -> str | None:
    """The module that implements ``connection`` (imported by ``get_transport`` on first use)."""
    return TRANSPORTS.lazy_module(connection)


def known_connections() -> list[str]:
    return TRANSPORTS.names()


def get_transport(spec: ConnectionSpec) -> Transport:
    """Build the transport for ``spec.connection``, importing its module on first use."""
    factory = TRANSPORTS.get(spec.connection)
    if factory is None:
        raise TransportNotAvailable(
            f"connection type {spec.connection!r} is not supported (supported: {', '.join(known_connections())})"
        )
    return factory(spec)


def bounded_append(buf: bytearray, data: bytes, limit: int) -> bool:
    """Append ``data`` to ``buf`` up to ``limit`` bytes; return True if anything was cut."""
    room = limit - len(buf)
    if room <= 0:
        return bool(data)
    buf += data[:room]
    return len(data) > room
