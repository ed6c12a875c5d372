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
from typing import Any, Callable

#: Upper bound on what one remote invocation may return, per stream. Remote output is untrusted.
DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024


class TransportError(Exception):
    """Something went wrong talking to a host. The message must never contain a secret."""


class ConnectFailed(TransportError):
    """The host could not be reached: refused, no route, DNS, TLS failure, host key rejected."""


class AuthFailed(TransportError):
    """The host was reached but rejected the credentials."""


class TransportTimeout(TransportError):
    """Connecting or a command took longer than allowed."""


class TransportNotAvailable(TransportError):
    """The connection type (or an auth method of it) cannot be used on this machine."""


@dataclass
class ConnectionSpec:
    """Everything a transport needs to reach one host, resolved from inventory variables."""

    name: str                       # inventory hostname
    host: str                       # address to connect to (ansible_host, else name)
    connection: str = "ssh"         # ssh | paramiko | local | winrm
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    # SSH host key policy: "strict" (known_hosts only), "accept-new" (default; add unknown keys to
    # known_hosts_file, reject changed ones), "off" (no verification: explicit opt-out).
    host_key_checking: str = "accept-new"
    known_hosts_file: str | None = None
    max_output: int = DEFAULT_MAX_OUTPUT
    # All host variables (ansible_* and others): transports read their own options from here,
    # e.g. ansible_winrm_transport. Never logged: may hold secrets.
    vars: dict[str, Any] = field(default_factory=dict, repr=False)


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

    async def put_file(self, path: str, data: bytes) -> None:  # pragma: no cover - optional
        raise TransportNotAvailable(f"{type(self).__name__} cannot upload files")

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection. Must not raise."""

    async def __aenter__(self) -> "Transport":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


TransportFactory = Callable[[ConnectionSpec], Transport]
_REGISTRY: dict[str, TransportFactory] = {}
_LAZY: dict[str, str] = {
    "ssh": "auditor.transports.ssh",
    "paramiko": "auditor.transports.paramiko_ssh",
    "local": "auditor.transports.local",
    "winrm": "auditor.transports.winrm",
}


def register_transport(name: str, factory: TransportFactory) -> None:
    _REGISTRY[name] = factory


def transport_module(connection: str) -> str | None:
    """The module that implements ``connection`` (imported by ``get_transport`` on first use)."""
    return _LAZY.get(connection)


def known_connections() -> list[str]:
    return sorted(set(_REGISTRY) | set(_LAZY))


def get_transport(spec: ConnectionSpec) -> Transport:
    """Build the transport for ``spec.connection``, importing its module on first use."""
    name = spec.connection
    if name not in _REGISTRY and name in _LAZY:
        import importlib

        importlib.import_module(_LAZY[name])
    factory = _REGISTRY.get(name)
    if factory is None:
        raise TransportNotAvailable(
            f"connection type {name!r} is not supported (supported: {', '.join(known_connections())})"
        )
    return factory(spec)


def bounded_append(buf: bytearray, data: bytes, limit: int) -> bool:
    """Append ``data`` to ``buf`` up to ``limit`` bytes; return True if anything was cut."""
    room = limit - len(buf)
    if room <= 0:
        return bool(data)
    buf += data[:room]
    return len(data) > room
