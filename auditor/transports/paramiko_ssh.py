"""The ``paramiko`` transport: the alternative SSH client, driven from a bounded thread pool.

Same semantics as ``ssh``: ``sh -s`` with the script on stdin, bounded output, host keys verified
with the same policies and the same known_hosts file (accept-new writes the key down; paramiko's
AutoAddPolicy, which only keeps it in memory, is never used). Blocking calls carry their own
deadlines so a worker thread never outlives its timeout by much.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import paramiko

# paramiko's reader threads log handshake failures we already report as errors; without a handler
# Python's last-resort handler would print them (with tracebacks) on stderr.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

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
    known_hosts_name,
    mismatch_message,
    ssh_settings,
    unknown_host_message,
)

#: Threads shared by every paramiko host (paramiko adds one reader thread per connection itself).
MAX_WORKERS = 64
_executor: ThreadPoolExecutor | None = None
_CHUNK = 65536
T = TypeVar("T")


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="auditor-paramiko")
    return _executor


async def _in_thread(fn: Callable[[], T], on_orphan: Callable[[T], None] | None = None) -> T:
    """Run ``fn`` in the pool. If the caller is cancelled, the thread still finishes (threads cannot
    be interrupted); ``on_orphan`` then receives its result so nothing leaks (e.g. a late connection)."""
    fut = asyncio.get_running_loop().run_in_executor(_pool(), fn)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        if on_orphan is not None:
            fut.add_done_callback(lambda f: None if f.cancelled() or f.exception() else on_orphan(f.result()))
        raise


def _detach_pipe(chan: paramiko.Channel) -> None:
    """Point the channel's buffers at plain events before closing it.

    ``chan.fileno()`` makes paramiko signal arriving data through an OS pipe; ``close()`` closes that
    pipe while the transport thread may still be feeding data (a truncated flood), and the feed's
    write then fails with EBADF inside the transport thread, which kills the whole connection
    (seen as "Socket exception: Bad file descriptor" and the next command's "connection lost").
    Each buffer swaps its event under its own lock, so no feed can reach the pipe afterwards."""
    for buffer in (chan.in_buffer, chan.in_stderr_buffer):
        try:
            buffer.set_event(threading.Event())
        except AttributeError:  # a future paramiko without these buffers: nothing to detach
            pass


def _kill(chan: paramiko.Channel) -> None:
    """Ask the server to SIGKILL the command's process group (RFC 4254 "signal"; OpenSSH >= 7.9).

    paramiko has no public call for this request, so the message is built here."""
    try:
        msg = paramiko.Message()
        msg.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
        msg.add_int(chan.remote_chanid)
        msg.add_string("signal")
        msg.add_boolean(False)
        msg.add_string("KILL")
        chan.transport._send_user_message(msg)  # type: ignore[union-attr]  # paramiko has no public signal API
    except (paramiko.SSHException, OSError, EOFError, AttributeError):
        pass  # best effort: closing the channel follows anyway


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Unknown host: trust its key and append it to the known_hosts file (OpenSSH's accept-new)."""

    def __init__(self, settings: SshSettings):
        self.settings = settings

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        s = self.settings
        append_known_host(s.known_hosts_file, s.host, s.port, f"{key.get_name()} {key.get_base64()}")
        client.get_host_keys().add(hostname, key.get_name(), key)


class _Strict(paramiko.MissingHostKeyPolicy):
    def __init__(self, settings: SshSettings):
        self.settings = settings

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        s = self.settings
        raise ConnectFailed(unknown_host_message(s.host, s.port, s.known_hosts_file))


class _TrustAny(paramiko.MissingHostKeyPolicy):
    """host_key_checking=off: the explicit opt-out; nothing is remembered."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        return None


def _trust_known_keys(client: paramiko.SSHClient, s: SshSettings) -> None:
    """Give ``client`` this host's keys from the known_hosts file. The file is parsed once per change
    (known_hosts.py) instead of once per host by paramiko, which is quadratic on a first accept-new
    scan; asyncssh's matcher also understands wildcards and negations. Revoked keys are left out;
    CA lines are ignored, as paramiko always did."""
    hit = lookup(s.known_hosts_file, s.host, s.port)
    keys, revoked = (hit[1][0], hit[1][2]) if hit else ([], [])
    for key in keys:
        if key not in revoked:
            try:
                pkey = paramiko.PKey.from_type_string(key.get_algorithm(), key.public_data)
            except (ValueError, paramiko.SSHException):  # a key type paramiko does not know: as its loader, skip
                continue
            client.get_host_keys().add(known_hosts_name(s.host, s.port), pkey.get_name(), pkey)


class ParamikoTransport(Transport):
    shell = "sh"

    def __init__(self, spec: ConnectionSpec):
        super().__init__(spec)
        self.settings: SshSettings | None = None
        self._client: paramiko.SSHClient | None = None

    # --- connect ------------------------------------------------------------------------------

    def _connect_blocking(self, s: SshSettings) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        if s.host_key_checking == "off":
            client.set_missing_host_key_policy(_TrustAny())
        else:
            _trust_known_keys(client, s)
            client.set_missing_host_key_policy(_AcceptNew(s) if s.host_key_checking == "accept-new" else _Strict(s))
        password = self.spec.secret_password()
        started = time.monotonic()
        try:
            client.connect(
                s.host, s.port, username=s.user, password=password,
                key_filename=s.key_file,
                timeout=s.connect_timeout, banner_timeout=s.connect_timeout, auth_timeout=s.connect_timeout,
                allow_agent=bool(os.environ.get("SSH_AUTH_SOCK")),
                look_for_keys=s.key_file is None and password is None,
            )
        except ConnectFailed:
            client.close()
            raise
        except paramiko.BadHostKeyException:
            client.close()
            raise ConnectFailed(mismatch_message(s.host, s.port, s.known_hosts_file)) from None
        except paramiko.AuthenticationException:
            client.close()
            raise AuthFailed(f"{s.host}:{s.port} rejected the credentials for user {s.user!r}") from None
        except (socket.timeout, TimeoutError):
            client.close()
            raise TransportTimeout(f"connecting to {s.host}:{s.port} timed out after {s.connect_timeout:g}s") from None
        except paramiko.SSHException as exc:
            client.close()
            # paramiko gives up on a silent server with a generic error once its timeout is spent
            if time.monotonic() - started >= s.connect_timeout:
                raise TransportTimeout(f"{s.host}:{s.port} did not complete the SSH handshake "
                                       f"within {s.connect_timeout:g}s") from None
            raise ConnectFailed(f"cannot connect to {s.host}:{s.port}: {exc}") from None
        except paramiko.ssh_exception.NoValidConnectionsError:
            client.close()
            raise ConnectFailed(f"cannot connect to {s.host}:{s.port}: connection refused") from None
        except (OSError, ValueError, EOFError) as exc:  # refused, no route, unreadable key file
            client.close()
            raise ConnectFailed(f"cannot connect to {s.host}:{s.port}: {exc}") from None
        if s.keepalive_interval:
            transport = client.get_transport()
            if transport is not None:
                transport.set_keepalive(int(s.keepalive_interval))
        return client

    async def connect(self) -> None:
        s = self.settings = ssh_settings(self.spec)
        self._client = await _in_thread(lambda: self._connect_blocking(s), on_orphan=lambda c: c.close())

    # --- run ----------------------------------------------------------------------------------

    def _run_blocking(self, script: str, timeout: float) -> ExecResult:
        assert self._client is not None
        started = time.monotonic()
        deadline = started + timeout
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise TransportError("connection lost")
        try:
            chan = transport.open_session(timeout=timeout)
            chan.exec_command("sh -s")
            chan.sendall(script.encode("utf-8"))
            chan.shutdown_write()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise TransportError(f"cannot start a command: {exc}") from None
        out, err = bytearray(), bytearray()
        limit = self.spec.max_output
        fd = chan.fileno()  # becomes readable when stdout or stderr data (or EOF) arrives
        try:
            while True:
                cut = False
                if chan.recv_ready():
                    cut = bounded_append(out, chan.recv(_CHUNK), limit)
                elif chan.recv_stderr_ready():
                    cut = bounded_append(err, chan.recv_stderr(_CHUNK), limit)
                elif chan.eof_received or chan.closed:
                    break
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        _kill(chan)
                        raise TransportTimeout(f"command did not finish within {timeout:g}s")
                    select.select([fd], [], [], remaining)
                if cut:
                    _kill(chan)
                    return ExecResult(bytes(out), bytes(err), None, True, (time.monotonic() - started) * 1000)
            # EOF came; the exit status follows it (OpenSSH may send it just before or after).
            if not chan.status_event.wait(max(0.0, deadline - time.monotonic())) and not chan.closed:
                _kill(chan)
                raise TransportTimeout(f"command did not finish within {timeout:g}s")
            if not chan.eof_received and not transport.is_active():
                raise TransportError("connection lost during the command")
            rc = chan.exit_status if chan.status_event.is_set() and chan.exit_status >= 0 else None
            return ExecResult(bytes(out), bytes(err), rc, False, (time.monotonic() - started) * 1000)
        finally:
            _detach_pipe(chan)
            chan.close()  # also stops a runaway or timed-out command on the host

    async def run(self, script: str, timeout: float | None = None) -> ExecResult:
        if self._client is None:
            raise TransportError("not connected")
        timeout = self.spec.command_timeout if timeout is None else timeout
        return await _in_thread(lambda: self._run_blocking(script, timeout))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await _in_thread(client.close)
            except Exception:  # close must not raise
                pass


register_transport("paramiko", ParamikoTransport)
