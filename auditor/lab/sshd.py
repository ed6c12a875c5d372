"""An in-process SSH server hosting many simulated Linux hosts, each on its own loopback address.

    fleet = SshLabFleet([SshLabHost("edge-01", "127.0.2.1"),
                         SshLabHost("edge-02", "127.0.2.2", faults=SshFaults(hang=True))], port=0)
    async with fleet:
        fleet.host("edge-01").port        # the bound port (port=0 picks a free one)
        fleet.write_inventory(path)       # an Ansible YAML inventory of the fleet
        fleet.write_known_hosts(path)     # pre-trust every host key (strict mode)

Each host answers through a pluggable model (``LinuxHostModel``): ``sh -s`` with a batch from
``auditor.collectors.batch`` on stdin is dispatched collector by collector and framed exactly as
a real shell would; any other input is one command for ``model.run_command``. Fault knobs
(``SshFaults``) make a host reject credentials, refuse connections, stay silent, hang, answer
slowly, speak garbage or reset the connection.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import random
import shlex
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Iterable

import asyncssh
import yaml

from auditor.collectors.batch import BatchItem, frame, parse_sh_batch, sh_nonce

DEFAULT_USER = "auditor"
DEFAULT_PASSWORD = "auditor-lab"
MAX_SCRIPT = 4 * 1024 * 1024  # a simulated host reads at most this much stdin


# --- host models ------------------------------------------------------------------------------


@dataclass
class CommandOutcome:
    stdout: bytes = b""
    stderr: bytes = b""
    rc: int = 0
    delay: float = 0.0  # seconds the simulated command takes before answering


class LinuxHostModel:
    """A minimal Debian-like host. Subclass and override ``run_command`` / ``run_collector``."""

    def __init__(self, hostname: str = "lab-host", kernel: str = "6.1.0-28-amd64",
                 os_release: str | None = None):
        self.hostname = hostname
        self.kernel = kernel
        self.os_release = os_release or (
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
            'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
        )

    def run_command(self, command: str) -> CommandOutcome | Awaitable[CommandOutcome]:
        """Answer one shell command line (may also be a coroutine function in subclasses)."""
        cmd = command.strip()
        if cmd == "uname -r":
            return CommandOutcome(f"{self.kernel}\n".encode())
        if cmd in ("hostname", "uname -n", "cat /etc/hostname"):
            return CommandOutcome(f"{self.hostname}\n".encode())
        if cmd == "cat /etc/os-release":
            return CommandOutcome(self.os_release.encode())
        if cmd in ("true", ":", ""):
            return CommandOutcome()
        if cmd == "false":
            return CommandOutcome(rc=1)
        try:
            words = shlex.split(cmd)
        except ValueError:
            return CommandOutcome(stderr=b"sh: 1: Syntax error: Unterminated quoted string\n", rc=2)
        if words and words[0] == "echo":
            return CommandOutcome((" ".join(words[1:]) + "\n").encode())
        if words and words[0] == "exit" and len(words) <= 2:
            return CommandOutcome(rc=int(words[1]) if len(words) == 2 and words[1].isdigit() else 0)
        name = words[0] if words else cmd
        return CommandOutcome(stderr=f"sh: 1: {name}: not found\n".encode(), rc=127)

    def run_collector(self, name: str, command: str) -> CommandOutcome | Awaitable[CommandOutcome]:
        """Answer one collector of a batch; by default the same as running its command."""
        return self.run_command(command)


async def _resolve(value: CommandOutcome | Awaitable[CommandOutcome]) -> CommandOutcome:
    return await value if inspect.isawaitable(value) else value  # type: ignore[return-value]


# --- hosts and faults -------------------------------------------------------------------------


@dataclass
class SshFaults:
    """What goes wrong on a host. The defaults describe a healthy host."""

    reject_auth: bool = False        # every password and key is refused -> AuthFailed
    closed: bool = False             # nothing listens on the port -> connection refused
    silent: bool = False             # accepts TCP, never speaks SSH -> connect timeout
    hang: bool = False               # starts answering a command, then never finishes
    delay: float = 0.0               # extra seconds before answering each command
    garbage: str | None = None       # "random" bytes | "endless" output | "broken-markers" in a batch
    reset: str | None = None         # "connect" (during the handshake) | "command" (when a command starts)
    hostile: str | None = None       # disconnect after the handshake with this text as the reason

    def __post_init__(self) -> None:
        if self.garbage not in (None, "random", "endless", "broken-markers"):
            raise ValueError(f"garbage must be random, endless or broken-markers, not {self.garbage!r}")
        if self.reset not in (None, "connect", "command"):
            raise ValueError(f"reset must be connect or command, not {self.reset!r}")


@dataclass
class SshLabHost:
    name: str
    address: str = "127.0.0.1"
    model: LinuxHostModel | None = None
    faults: SshFaults = field(default_factory=SshFaults)
    port: int | None = None          # None: the fleet's port; 0: any free port
    # filled in by the fleet when it starts:
    bound_port: int = 0
    host_key: asyncssh.SSHKey | None = field(default=None, repr=False)
    # counted by the server, so tests can check connection reuse:
    connections: int = 0             # SSH connections accepted
    sessions: int = 0                # channels (commands) started

    @property
    def public_key(self) -> str:
        """The host's public key as ``"<type> <base64>"``."""
        assert self.host_key is not None, "the fleet has not started"
        return self.host_key.export_public_key().decode().strip()

    @property
    def known_hosts_line(self) -> str:
        name = self.address if self.bound_port == 22 else f"[{self.address}]:{self.bound_port}"
        return f"{name} {self.public_key}"


def lab_address(index: int, base: str = "127.0.2") -> str:
    """The ``index``-th (1-based) lab address: 127.0.2.1 ... 127.0.2.254, then 127.0.3.1 ..."""
    second, third = (int(x) for x in base.split(".")[1:3])
    n = second * 256 + third + (index - 1) // 254
    if n >= 256 * 256:
        raise ValueError(f"no loopback address left for lab host {index}")
    return f"127.{n // 256}.{n % 256}.{(index - 1) % 254 + 1}"


# --- the server -------------------------------------------------------------------------------


def _reset(conn: Any) -> None:
    """Drop the TCP connection with a RST, as a crashed host or a middlebox would."""
    sock = conn.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    conn.abort()


class _HostServer(asyncssh.SSHServer):
    def __init__(self, fleet: "SshLabFleet", host: SshLabHost):
        self.fleet, self.host = fleet, host

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.host.connections += 1
        if self.host.faults.reset == "connect":
            asyncio.get_running_loop().call_soon(_reset, conn)


    def begin_auth(self, username: str) -> bool:
        if self.host.faults.hostile is not None:  # the client is told why, in the server's own words
            raise asyncssh.DisconnectError(asyncssh.DISC_BY_APPLICATION, self.host.faults.hostile)
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        if self.host.faults.reject_auth:
            return False
        return username == self.fleet.user and hmac.compare_digest(password.encode(), self.fleet.password.encode())

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        if self.host.faults.reject_auth or username != self.fleet.user:
            return False
        return key.public_data in self.fleet.authorized_key_data


class _Session:
    """One command on one simulated host."""

    def __init__(self, host: SshLabHost, model: LinuxHostModel, process: asyncssh.SSHServerProcess):
        self.host, self.model, self.process = host, model, process
        self.faults = host.faults

    async def serve(self) -> None:
        p = self.process
        self.host.sessions += 1
        try:
            if self.faults.reset == "command":
                _reset(p.channel.get_connection())
                return
            command = p.command or "sh -s"
            if command.strip() in ("sh -s", "/bin/sh -s", "sh", "/bin/sh"):
                script = await self._read_stdin()
                rc = await self._script(script)
            else:
                rc = await self._single(command)
            p.exit(rc)
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            pass  # the client went away: nothing to answer
        except Exception as exc:  # a bug in a host model: answer like a crashed shell, keep serving others
            try:
                p.stderr.write(f"auditor lab: host model failed: {type(exc).__name__}: {exc}\n".encode())
                p.exit(255)
            except (asyncssh.Error, OSError):
                pass

    async def _read_stdin(self) -> str:
        buf = bytearray()
        while len(buf) <= MAX_SCRIPT:
            chunk = await self.process.stdin.read(65536)
            if not chunk:
                break
            buf += chunk
        return bytes(buf).decode("utf-8", errors="replace")

    async def _write(self, stdout: bytes = b"", stderr: bytes = b"") -> None:
        if stdout:
            self.process.stdout.write(stdout)
        if stderr:
            self.process.stderr.write(stderr)
        await self.process.stdout.drain()

    async def _prelude(self) -> bool:
        """Apply the timing and garbage faults; True when the command was answered by one."""
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        if self.faults.garbage == "random":
            rng = random.Random(self.host.name)
            await self._write(bytes(rng.getrandbits(8) for _ in range(4096)), b"\xff\xfe garbage\n")
            return True
        if self.faults.garbage == "endless":
            chunk = b"y" * 65535 + b"\n"
            while not self.process.channel.is_closing():
                await self._write(chunk)
            return True
        return False

    async def _hang(self) -> None:
        await self.process.channel.wait_closed()

    async def _single(self, command: str) -> int:
        if await self._prelude():
            return 0
        if self.faults.hang:
            await self._hang()
        outcome = await _resolve(self.model.run_command(command))
        if outcome.delay:
            await asyncio.sleep(outcome.delay)
        await self._write(outcome.stdout, outcome.stderr)
        return outcome.rc

    async def _script(self, script: str) -> int:
        items = parse_sh_batch(script)
        nonce = sh_nonce(script)
        if items is None or nonce is None:
            return await self._single(script)
        if await self._prelude():
            return 0
        for index, item in enumerate(items):
            outcome = await self._collector(item)
            stdout, _ = frame(nonce, item.name, outcome.stdout, outcome.rc)
            stderr, _ = frame(nonce, item.name, outcome.stderr, outcome.rc)
            if self.faults.hang:  # start the first section, then never finish it
                await self._write(stdout[: stdout.index(b"\n", 1) + 1])  # the BEGIN marker line
                await self._hang()
            if self.faults.garbage == "broken-markers":
                stdout, stderr = self._break(stdout, index), self._break(stderr, index)
            await self._write(stdout, stderr)
        return 0

    async def _collector(self, item: BatchItem) -> CommandOutcome:
        outcome = await _resolve(self.model.run_collector(item.name, item.command))
        if outcome.delay:
            await asyncio.sleep(outcome.delay)
        return outcome

    @staticmethod
    def _break(framed: bytes, index: int) -> bytes:
        """Damage a section's markers in one of three ways, in turn."""
        lines = framed.split(b"\n")
        kind = index % 3
        if kind == 0:  # END marker lost
            return b"\n".join(line for line in lines if b":END:" not in line)
        if kind == 1:  # BEGIN marker mangled
            return b"\n".join(line.replace(b"BEGIN", b"BEG1N") for line in lines)
        return framed[: len(framed) // 2]  # cut in the middle


class SshLabFleet:
    """Many simulated SSH hosts served from this process. Use ``async with``."""

    def __init__(self, hosts: Iterable[SshLabHost], *, port: int = 22, user: str = DEFAULT_USER,
                 password: str = DEFAULT_PASSWORD, shared_host_key: bool = False,
                 authorized_keys: Iterable[asyncssh.SSHKey | str] = ()):
        self.hosts = list(hosts)
        names = [h.name for h in self.hosts]
        if len(set(names)) != len(names):
            raise ValueError("lab host names must be unique")
        self.port = port
        self.user = user
        self.password = password
        self.shared_host_key = shared_host_key
        #: a key pair every host accepts for ``user``; ``write_client_key`` saves it for key auth
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.authorized_key_data = {self.client_key.public_data}
        for key in authorized_keys:
            parsed = asyncssh.import_public_key(key) if isinstance(key, str) else key
            self.authorized_key_data.add(parsed.public_data)
        self._servers: list[Any] = []
        self._holders: list[socket.socket] = []

    def host(self, name: str) -> SshLabHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    async def __aenter__(self) -> "SshLabFleet":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        shared = asyncssh.generate_private_key("ssh-ed25519") if self.shared_host_key else None
        try:
            for host in self.hosts:
                host.host_key = shared or asyncssh.generate_private_key("ssh-ed25519")
                await self._start_host(host)
        except BaseException:
            await self.stop()
            raise

    async def _start_host(self, host: SshLabHost) -> None:
        port = self.port if host.port is None else host.port
        if host.faults.closed:
            # Bound but not listening: connections are refused, and the port stays ours (no race).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host.address, port))
            host.bound_port = sock.getsockname()[1]
            self._holders.append(sock)
            return
        if host.faults.silent:
            server = await asyncio.start_server(self._silent, host.address, port)
        else:
            model = host.model or LinuxHostModel(hostname=host.name)
            server = await asyncssh.create_server(
                lambda h=host: _HostServer(self, h), host.address, port,
                server_host_keys=[host.host_key], encoding=None, reuse_address=True,
                process_factory=lambda proc, h=host, m=model: _Session(h, m, proc).serve(),
                keepalive_interval=0, login_timeout=30,
            )
        if not server.sockets:  # asyncssh logs a failed bind (e.g. no file descriptor left) and returns no socket
            server.close()
            raise OSError(f"cannot listen on {host.address}:{port} for lab host {host.name} "
                          "(no socket bound: out of file descriptors, or the address is unavailable)")
        host.bound_port = server.sockets[0].getsockname()[1]
        self._servers.append(server)

    @staticmethod
    async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # say nothing until the client gives up
        writer.close()

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            try:
                await asyncio.wait_for(server.wait_closed(), timeout=5)
            except (asyncio.TimeoutError, OSError):
                pass
        for sock in self._holders:
            sock.close()
        self._holders = []

    # --- what tests and inventories need ------------------------------------------------------

    def known_hosts_lines(self) -> list[str]:
        return [h.known_hosts_line for h in self.hosts if h.host_key is not None and not h.faults.closed]

    def write_known_hosts(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(line + "\n" for line in self.known_hosts_lines()))
        return out

    def write_client_key(self, path: str | Path) -> Path:
        """Save the fleet's client private key (mode 0600) for ``ansible_ssh_private_key_file``."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.touch(mode=0o600)
        out.write_bytes(self.client_key.export_private_key())
        return out

    def inventory(self, group: str = "lab_linux", key_file: str | Path | None = None,
                  extra_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        """An Ansible YAML inventory (as a dict): password auth, or key auth with ``key_file``."""
        hosts: dict[str, Any] = {}
        for h in self.hosts:
            entry: dict[str, Any] = {"ansible_host": h.address, "ansible_port": h.bound_port,
                                     "ansible_user": self.user}
            if key_file is not None:
                entry["ansible_ssh_private_key_file"] = str(key_file)
            else:
                entry["ansible_password"] = self.password
            hosts[h.name] = entry
        group_vars: dict[str, Any] = {"ansible_connection": "ssh"}
        group_vars.update(extra_vars or {})
        return {"all": {"children": {group: {"hosts": hosts, "vars": group_vars}}}}

    def write_inventory(self, path: str | Path, **kwargs: Any) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(self.inventory(**kwargs), sort_keys=False))
        return out
