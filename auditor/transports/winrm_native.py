"""The native engine of the ``winrm`` transport: ``wsman.WinrsClient`` on the event loop.

No threads: each host is one HTTP connection and a few coroutines. Every exchange is bounded by
the time left and by ``ansible_winrm_read_timeout_sec``; when either fires the connection is closed
(a reply may be half read) and the next try starts on a fresh, re-authenticated connection.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import ssl
import time
from typing import Awaitable, TypeVar

from auditor.transports.base import AuthFailed, ConnectFailed, ConnectionSpec, TransportError, TransportTimeout
from auditor.transports.winrm_engine import Engine, StillRunning, Transient, short
from auditor.transports.winrm_options import WinrmOptions, spn_host
from auditor.transports.wsman import auth as wsauth
from auditor.transports.wsman import messages
from auditor.transports.wsman.kerberos import KerberosFailure
from auditor.transports.wsman.client import HttpStatusError, WinrsClient
from auditor.transports.wsman.http import HttpConnection, HttpError

T = TypeVar("T")

# The largest reply accepted: Receive replies carry at most MaxEnvelopeSize of base64 on Windows;
# anything far beyond is not a WinRM service.
MAX_REPLY = 16 * 1024 * 1024


def ssl_context(opts: WinrmOptions) -> ssl.SSLContext:
    """Validating by default (system store, or ``ca_trust_path`` as a file or directory); client
    certificate when configured. One context per distinct setting, shared by every host that uses it:
    loading the system CA store costs ~27 ms of CPU, which per host would dwarf the rest of a connection."""
    return _ssl_context(opts.cert_validation, opts.ca_trust_path, opts.cert_pem, opts.cert_key_pem)


@functools.lru_cache(maxsize=64)
def _ssl_context(cert_validation: str, ca_trust_path: str | None, cert_pem: str | None,
                 cert_key_pem: str | None) -> ssl.SSLContext:
    if cert_validation == "ignore":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_trust_path and os.path.isdir(ca_trust_path):
        ctx = ssl.create_default_context(capath=ca_trust_path)
    else:
        ctx = ssl.create_default_context(cafile=ca_trust_path)
    if cert_pem and cert_key_pem:
        ctx.load_cert_chain(cert_pem, cert_key_pem)
    return ctx


def authenticator(spec: ConnectionSpec, o: WinrmOptions) -> wsauth.Authenticator:
    """The authenticator ``o.auth`` calls for; the context-based ones seal over HTTP (``message_encryption``)."""
    if o.auth == "basic":
        return wsauth.basic(spec.user or "", spec.secret_password() or "")
    if o.auth == "certificate":
        return wsauth.certificate()
    seal = o.message_encryption == "always" or (o.message_encryption == "auto" and o.scheme == "http")
    if o.auth == "kerberos":
        assert o.kerberos is not None
        return wsauth.KerberosAuthenticator(o.kerberos, seal)
    if o.auth == "credssp":
        return wsauth.CredSSPAuthenticator(spec.user or "", spec.secret_password() or "", spn_host(spec), seal,
                                           o.credssp_mechanism)
    return wsauth.NtlmAuthenticator(spec.user or "", spec.secret_password() or "", spec.host, seal)


class NativeEngine(Engine):
    _client: WinrsClient | None = None  # set per instance when the session opens

    def _new_client(self) -> WinrsClient:
        o, spec = self.opts, self.spec
        try:
            tls = ssl_context(o) if o.scheme == "https" else None
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"WinRM to {self.where}: cannot load the TLS settings: {self.scrub(short(exc))}") from None
        http = HttpConnection(spec.host, o.port, tls, max_body=MAX_REPLY)
        return WinrsClient(http, authenticator(spec, o), o.endpoint(spec.host), o.path, o.operation_timeout)

    @property
    def client(self) -> WinrsClient:
        if self._client is None:
            self._client = self._new_client()
        return self._client

    async def _call(self, work: Awaitable[T], deadline: float, read_bound: bool = True) -> T:
        """Await one exchange within the deadline (and the read timeout); map every failure."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            getattr(work, "close", lambda: None)()
            raise TransportTimeout(f"WinRM to {self.where}: deadline passed")
        http = self.client.http
        connecting = not http.connected
        limit = min(remaining, self.opts.read_timeout) if read_bound else remaining
        try:
            return await asyncio.wait_for(work, timeout=limit)
        except asyncio.TimeoutError:
            came_up = http.connected
            self.drop()
            if connecting and not came_up:  # no TCP/TLS connection came up in time
                raise self.connect_timed_out() from None
            if limit < remaining:
                raise self.read_timed_out() from None
            raise TransportTimeout(f"WinRM to {self.where}: no answer within the deadline") from None
        except messages.Fault as fault:
            if fault.code == messages.OPERATION_TIMEOUT:
                raise StillRunning() from None
            raise self.fault(fault.code, fault.reason) from None
        except wsauth.AuthRejected as exc:
            self.drop()
            raise AuthFailed(f"WinRM to {self.where}: the host rejected the credentials ({self.opts.auth} auth): "
                             f"{self.scrub(str(exc))}") from None
        except KerberosFailure as exc:
            self.drop()
            raise self.auth_failed(exc.outcome, exc.message) from None
        except ssl.SSLCertVerificationError as exc:
            self.drop()
            raise self.tls_failed(f"certificate verify failed: {exc.verify_message or short(exc)}", True) from None
        except ssl.SSLError as exc:
            self.drop()
            raise self.tls_failed(exc.reason or short(exc), False) from None
        except ConnectionRefusedError:
            self.drop()
            raise ConnectFailed(f"WinRM to {self.where}: connection refused") from None
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, asyncio.IncompleteReadError):
            self.drop()
            raise Transient(ConnectFailed(f"WinRM to {self.where}: connection reset by peer"), new_session=True) from None
        except OSError as exc:
            self.drop()
            if exc.errno in (errno.ECONNRESET, errno.EPIPE):
                raise Transient(ConnectFailed(f"WinRM to {self.where}: connection reset by peer"),
                                new_session=True) from None
            raise ConnectFailed(f"WinRM to {self.where}: cannot connect: {self.scrub(short(exc))}") from None
        except HttpStatusError as exc:
            raise self.http_status(exc.status, exc.text) from None
        except (HttpError, messages.ProtocolError, ValueError) as exc:
            self.drop()
            raise TransportError(f"WinRM to {self.where}: {self.scrub(short(exc))}") from None

    def drop(self) -> None:
        client, self._client = self._client, None
        self.shell_id = None
        if client is not None:
            client.http.close()

    async def authenticate(self, deadline: float) -> None:
        """Connect and authenticate only (``auditor doctor``'s credential test)."""
        await self._call(self.client.authenticate(), deadline)

    async def read_config(self, resource: str, deadline: float) -> dict[str, str]:
        """The service's settings under ``resource`` (``auditor doctor``'s quota read)."""
        return await self._call(self.client.get_config(resource), deadline)

    async def open_shell(self, deadline: float) -> None:
        self.shell_id = await self._call(self.client.open_shell(), deadline)

    async def command(self, arguments: list[str], console_mode_stdin: bool, deadline: float) -> str:
        assert self.shell_id is not None
        return await self._call(self.client.command(self.shell_id, "powershell", arguments, console_mode_stdin),
                                deadline)

    async def send(self, command_id: str, data: bytes, end: bool, deadline: float) -> None:
        assert self.shell_id is not None
        await self._call(self.client.send(self.shell_id, command_id, data, end), deadline)

    async def receive(self, command_id: str, operation_timeout: int,
                      deadline: float) -> tuple[bytes, bytes, int | None, bool]:
        assert self.shell_id is not None
        # the service holds a Receive up to the operation timeout: the read timeout covers it
        out = await self._call(self.client.receive(self.shell_id, command_id, operation_timeout), deadline)
        return out.stdout, out.stderr, out.exit_code, out.done

    async def signal_terminate(self, command_id: str, deadline: float) -> None:
        assert self.shell_id is not None
        await self._call(self.client.signal_terminate(self.shell_id, command_id), deadline)

    async def delete_shell(self, deadline: float) -> None:
        shell_id, self.shell_id = self.shell_id, None
        if shell_id is not None and self._client is not None:
            await self._call(self.client.delete_shell(shell_id), deadline)

    async def close(self, deadline: float) -> None:
        client = self._client
        try:
            if self.shell_id is not None and client is not None:
                await self.delete_shell(deadline)
        finally:
            self._client = None
            self.shell_id = None
            if client is not None:
                await client.close()
