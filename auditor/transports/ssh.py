"""The ``ssh`` transport on asyncssh: one connection per host, one channel per script.

Scripts run as ``sh -s`` with the script on stdin. Output is read into bounded buffers; when a
stream passes ``spec.max_output`` the channel is closed (so a never-ending stream cannot pin us)
and the result comes back ``truncated``. A command timeout closes the channel too, so the host
stops running it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import asyncssh

from auditor.transports.base import (
    AuthFailed,
    ConnectFailed,
    ConnectionSpec,
    ExecResult,
    Transport,
    TransportError,
    TransportTimeout,
    bounded_append,
    register_transport,
)
from auditor.transports.known_hosts import lookup
from auditor.transports.sshopts import (
    SshSettings,
    append_known_host,
    mismatch_message,
    ssh_settings,
    unknown_host_message,
)

_SCRIPT_COMMAND = "sh -s"


class _Session(asyncssh.SSHClientSession):
    """Collects a channel's output into bounded buffers and signals when the channel is done."""

    def __init__(self, limit: int):
        self.limit = limit
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.truncated = False
        self.rc: int | None = None
        self.lost: Exception | None = None  # set when the connection died under the command
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.chan: asyncssh.SSHClientChannel | None = None

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def data_received(self, data: bytes, datatype: Any) -> None:
        buf = self.stderr if datatype == asyncssh.EXTENDED_DATA_STDERR else self.stdout
        if bounded_append(buf, data, self.limit) and not self.truncated:
            self.truncated = True
            if self.chan is not None:  # stop the flood: kill the remote command, close its channel
                SshTransport._kill(self.chan)

    def exit_status_received(self, status: int) -> None:
        self.rc = status

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc
        if not self.done.done():
            self.done.set_result(None)


def _cipher_preference() -> list[str]:
    """asyncssh's default ciphers with AES-GCM first: as strong an AEAD as chacha20-poly1305, and
    with AES-NI it costs ~3 ms less CPU per connection in asyncssh (which builds a ChaCha20 context
    per packet), a third of an edge node's SSH cost. Servers without AES-GCM still get chacha20."""
    from asyncssh.encryption import get_default_encryption_algs

    gcm = [b"aes128-gcm@openssh.com", b"aes256-gcm@openssh.com"]
    algs = get_default_encryption_algs()
    return [a.decode() for a in [g for g in gcm if g in algs] + [a for a in algs if a not in gcm]]


CIPHERS = _cipher_preference()


class SshTransport(Transport):
    shell = "sh"

    def __init__(self, spec: ConnectionSpec):
        super().__init__(spec)
        self.settings: SshSettings | None = None
        self._conn: asyncssh.SSHClientConnection | None = None

    def _known_hosts_arg(self, s: SshSettings) -> tuple[Any, bool]:
        """(known_hosts argument for asyncssh, whether to record the key after connecting)."""
        if s.host_key_checking == "off":
            return None, False
        hit = lookup(s.known_hosts_file, s.host, s.port)
        if hit is not None:
            return hit[0], False
        if s.host_key_checking == "strict":
            return ([], [], []), False  # nothing trusted: any key is rejected
        return None, True  # accept-new: take the key, then write it down

    async def connect(self) -> None:
        s = self.settings = ssh_settings(self.spec)
        known_hosts, record = self._known_hosts_arg(s)
        options = connect_options(s, self.spec.secret_password(), known_hosts, self.spec.password is not None)
        try:
            self._conn = await asyncio.wait_for(
                asyncssh.connect(s.host, s.port, **options), timeout=s.connect_timeout + 1.0
            )
        except asyncio.TimeoutError:
            raise TransportTimeout(f"connecting to {s.host}:{s.port} timed out after {s.connect_timeout:g}s") from None
        except asyncssh.PermissionDenied:
            raise AuthFailed(f"{s.host}:{s.port} rejected the credentials for user {s.user!r}") from None
        except asyncssh.HostKeyNotVerifiable:
            if known_hosts == ([], [], []):
                raise ConnectFailed(unknown_host_message(s.host, s.port, s.known_hosts_file)) from None
            raise ConnectFailed(mismatch_message(s.host, s.port, s.known_hosts_file)) from None
        except asyncssh.DisconnectError as exc:
            raise ConnectFailed(f"{s.host}:{s.port} closed the connection: {exc.reason}") from None
        except (OSError, asyncssh.Error, ValueError) as exc:  # refused, no route, unreadable key file...
            raise ConnectFailed(f"cannot connect to {s.host}:{s.port}: {exc}") from None
        if record:
            key = self._conn.get_server_host_key()
            if key is not None:
                try:
                    append_known_host(s.known_hosts_file, s.host, s.port, key.export_public_key().decode().strip())
                except OSError as exc:
                    self._conn.abort()
                    raise ConnectFailed(f"cannot record host key in {s.known_hosts_file}: {exc}") from None

    async def run(self, script: str, timeout: float | None = None) -> ExecResult:
        if self._conn is None:
            raise TransportError("not connected")
        timeout = self.spec.command_timeout if timeout is None else timeout
        started = time.perf_counter()
        try:
            chan, session = await asyncio.wait_for(
                self._conn.create_session(lambda: _Session(self.spec.max_output), _SCRIPT_COMMAND, encoding=None),
                timeout=timeout,
            )
        except asyncio.TimeoutError:
            raise TransportTimeout(f"opening a channel timed out after {timeout:g}s") from None
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(f"cannot start a command: {exc}") from None
        assert isinstance(session, _Session)
        try:
            chan.write(script.encode("utf-8"))
            chan.write_eof()
            await asyncio.wait_for(asyncio.shield(session.done), timeout=timeout - (time.perf_counter() - started))
        except asyncio.TimeoutError:
            self._kill(chan)
            raise TransportTimeout(f"command did not finish within {timeout:g}s") from None
        except (asyncssh.Error, OSError, BrokenPipeError) as exc:
            self._kill(chan)
            raise TransportError(f"connection lost during the command: {exc}") from None
        except asyncio.CancelledError:
            self._kill(chan)
            raise
        if session.lost is not None and not session.truncated:
            raise TransportError(f"connection lost during the command: {session.lost}")
        return ExecResult(
            stdout=bytes(session.stdout),
            stderr=bytes(session.stderr),
            rc=None if session.truncated else session.rc,
            truncated=session.truncated,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    @staticmethod
    def _kill(chan: asyncssh.SSHClientChannel) -> None:
        try:
            chan.send_signal("KILL")  # OpenSSH >= 7.9 delivers it to the remote shell
        except (asyncssh.Error, OSError):
            pass
        chan.close()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), timeout=2.0)
            except (asyncio.TimeoutError, asyncssh.Error, OSError):
                conn.abort()


register_transport("ssh", SshTransport)


def connect_options(s: SshSettings, password: str | None, known_hosts: Any, has_password: bool) -> dict[str, Any]:
    """asyncssh's ``connect`` arguments for one host's settings."""
    options: dict[str, Any] = dict(
        username=s.user,
        password=password,
        known_hosts=known_hosts,
        config=None,  # ~/.ssh/config is not read: the inventory is the single source of settings
        connect_timeout=s.connect_timeout,
        login_timeout=s.connect_timeout,
        keepalive_interval=s.keepalive_interval,
        keepalive_count_max=s.keepalive_count_max,
        agent_path=os.environ.get("SSH_AUTH_SOCK") or None,
        encryption_algs=CIPHERS,
    )
    if not s.gssapi:  # asyncssh tries Kerberos whenever python-gssapi is installed (~0.2 ms of CPU a host)
        options["gss_host"] = None
    if s.key_file:
        options["client_keys"] = [s.key_file]
    elif has_password:
        options["client_keys"] = None  # do not spend the server's MaxAuthTries on default keys
    return options
