"""The pywinrm engine of the ``winrm`` transport: pywinrm's ``Protocol`` in a bounded thread pool.

Used when an inventory asks for it
(``auditor_winrm_client: pywinrm``). pywinrm is synchronous (requests), so every WS-Management call
runs in a module-level pool (``configure_pool``; default 64 threads, or ``$AUDITOR_WINRM_THREADS``).
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from auditor.transports.base import AuthFailed, ConnectFailed, TransportError, TransportTimeout
from auditor.transports.winrm_engine import Engine, StillRunning, Transient, root_errno, short
from auditor.transports.wsman import kerberos
from auditor.transports.wsman.auth import not_offered

T = TypeVar("T")

# requests (trust_env) wraps every proxy lookup in a temporary os.environ["no_proxy"] that it deletes
# afterwards when the variable did not exist before; two pool threads doing that at once raise
# KeyError('no_proxy') (seen in the 1,000-host benchmark). With the variable present requests only
# ever restores it, never deletes it. auditor never uses a proxy for WinRM (proxy=None below), so "*"
# changes nothing else.
os.environ.setdefault("no_proxy", "*")

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = int(os.environ.get("AUDITOR_WINRM_THREADS", "64") or 64)


def configure_pool(max_workers: int) -> None:
    """Size the shared pool of threads that run pywinrm calls (takes effect for new pools)."""
    global _POOL, _POOL_SIZE
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    _POOL_SIZE = max_workers
    if _POOL is not None:
        _POOL.shutdown(wait=False)
        _POOL = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_POOL_SIZE, thread_name_prefix="winrm")
    return _POOL


class PywinrmEngine(Engine):
    _proto: Protocol | None = None  # set per instance when the session opens

    _ccache: str | None = None  # Kerberos: the private ticket cache (None: the user's own)

    def _new_protocol(self) -> Protocol:
        o = self.opts
        extra: dict[str, object] = {}
        if o.kerberos is not None:  # pywinrm's Kerberos (pykerberos) with the same principal and SPN
            k = o.kerberos
            extra = {"username": k.principal, "password": None, "kerberos_delegation": k.delegate,
                     "kerberos_hostname_override": k.spn_host, "service": k.service, "send_cbt": k.send_cbt}
        try:
            proto = Protocol(**{  # type: ignore[arg-type]
                "endpoint": o.endpoint(self.spec.host), "transport": o.auth,
                "username": self.spec.user, "password": self.spec.secret_password(),
                "server_cert_validation": o.cert_validation, "ca_trust_path": o.ca_trust_path,
                "cert_pem": o.cert_pem, "cert_key_pem": o.cert_key_pem,
                "read_timeout_sec": o.read_timeout, "operation_timeout_sec": o.operation_timeout,
                "message_encryption": o.message_encryption,
                "proxy": None,  # never pick a proxy up from the environment
                **extra})
        except (WinRMError, InvalidCredentialsError) as exc:
            raise TransportError(f"WinRM to {self.where}: {self.scrub(str(exc))}") from None
        if o.auth == "credssp":  # the Transport has it, Protocol does not pass it on: never "auto" (see options)
            proto.transport.credssp_auth_mechanism = o.credssp_mechanism
        return proto

    def _kerberos_ready(self) -> None:
        """In the pool thread: the ticket (managed kinit), this thread's default cache pointed at it
        (MIT's gss_krb5_ccache_name is per thread, and pykerberos uses the default cache), and a first
        context made here, so a failure is classified exactly as the native engine does."""
        k = self.opts.kerberos
        assert k is not None
        import gssapi.raw

        self._ccache = kerberos.ticket_cache(k)
        gssapi.raw.krb5_ccache_name(self._ccache.encode() if self._ccache else None)
        kerberos.service_context(k, self._ccache)

    async def _call(self, fn: Callable[[Protocol], T], deadline: float) -> T:
        """Run a blocking pywinrm call in the pool; map its failures to transport errors."""
        fresh = self._proto is None
        if self._proto is None:
            self._proto = self._new_protocol()
        proto = self._proto
        if self.opts.kerberos is not None:
            inner, ccache = fn, self._ccache

            def fn(p: Protocol) -> T:
                import gssapi.raw

                if fresh:
                    self._kerberos_ready()
                else:  # pool threads serve every host: point this one at our cache for this call
                    gssapi.raw.krb5_ccache_name(ccache.encode() if ccache else None)
                try:
                    return inner(p)
                except InvalidCredentialsError:
                    raise self._rejection_probe() or InvalidCredentialsError("rejected") from None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportTimeout(f"WinRM to {self.where}: deadline passed")
        # requests' own timeouts end the thread soon after the deadline, so no pool thread (and no
        # process exit, which joins them) waits out the full read timeout of a hung host.
        proto.transport.read_timeout_sec = (  # type: ignore[assignment]
            min(self.spec.connect_timeout, remaining + 0.5), min(self.opts.read_timeout, remaining + 1.5))
        if self.opts.kerberos is None:
            plain = fn

            def fn(p: Protocol) -> T:
                try:
                    return plain(p)
                except InvalidCredentialsError:
                    raise self._rejection_probe() or InvalidCredentialsError("rejected") from None
        fut = asyncio.get_running_loop().run_in_executor(_pool(), fn, proto)
        try:
            return await asyncio.wait_for(fut, timeout=remaining)
        except asyncio.TimeoutError:
            self.drop()  # the thread may still be inside the session: never reuse it
            raise TransportTimeout(f"WinRM to {self.where}: no answer within the deadline") from None
        except WinRMOperationTimeoutError:
            raise StillRunning() from None
        except Exception as exc:  # noqa: BLE001 - every pywinrm/requests failure is mapped here
            raise self._map(exc) from None

    def _rejection_probe(self) -> Exception | None:
        """After a rejection, what the native engine reads from the 401 itself (pywinrm keeps it): one
        unauthenticated request for the offered methods and, for Kerberos, the host's clock (``Date``)."""
        o = self.opts
        verify: bool | str = False if o.cert_validation == "ignore" else (o.ca_trust_path or True)
        try:
            with requests.Session() as session:
                session.trust_env = False
                reply = session.post(o.endpoint(self.spec.host), data=b"", verify=verify,
                                     timeout=(self.spec.connect_timeout, 5))
        except requests.exceptions.RequestException:
            return None
        scheme = {"basic": "Basic", "credssp": "CredSSP"}.get(o.auth, "Negotiate")
        offered = [part.strip().split(" ", 1)[0] for part in reply.headers.get("WWW-Authenticate", "").split(",")
                   if part.strip() and "=" not in part.strip().split(" ", 1)[0]]
        problem = not_offered(scheme, offered) if reply.status_code == 401 else None
        if problem:
            return AuthFailed(f"WinRM to {self.where}: the host rejected the credentials ({o.auth} auth): {problem}")
        return kerberos.skew_failure(o.kerberos, reply.headers.get("Date")) if o.kerberos is not None else None

    def _map(self, exc: Exception) -> Exception:
        where = self.where
        if isinstance(exc, kerberos.KerberosFailure):
            self.drop()
            return self.auth_failed(exc.outcome, exc.message)
        if isinstance(exc, AuthFailed):  # from the rejection probe, already worded
            self.drop()
            return exc
        if self.opts.kerberos is not None and type(exc).__name__ in ("KerberosExchangeError",
                                                                     "MutualAuthenticationError"):
            self.drop()
            failure = kerberos.classify_text(str(exc), self.opts.kerberos)
            return self.auth_failed(failure.outcome, failure.message)
        if isinstance(exc, InvalidCredentialsError):
            return AuthFailed(f"WinRM to {where}: the host rejected the credentials ({self.opts.auth} auth)")
        if isinstance(exc, requests.exceptions.SSLError):
            m = re.search(r"\[SSL: [A-Z_]+\] ([^(')\]]+)", str(exc))
            return self.tls_failed(m.group(1).strip() if m else short(exc), "CERTIFICATE_VERIFY_FAILED" in str(exc))
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return self.connect_timed_out()
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return self.read_timed_out()
        if isinstance(exc, requests.exceptions.ConnectionError):
            code = root_errno(exc)
            text = str(exc).lower()
            if code == errno.ECONNREFUSED or "refused" in text:
                return ConnectFailed(f"WinRM to {where}: connection refused")
            if code in (errno.ECONNRESET, errno.EPIPE) or "reset" in text or "aborted" in text:
                return Transient(ConnectFailed(f"WinRM to {where}: connection reset by peer"), new_session=True)
            return ConnectFailed(f"WinRM to {where}: cannot connect: {self.scrub(short(exc))}")
        if isinstance(exc, WSManFaultError):
            code = exc.wsman_fault_code or exc.wmierror_code
            return self.fault(code, str(exc.reason))
        if isinstance(exc, WinRMTransportError):
            return self.http_status(exc.code, str(exc.response_text or ""))
        if isinstance(exc, (WinRMError, requests.exceptions.RequestException)):
            return TransportError(f"WinRM to {where}: {self.scrub(short(exc))}")
        return TransportError(f"WinRM to {where}: {type(exc).__name__}: {self.scrub(short(exc))}")

    def drop(self) -> None:
        self._proto = None
        self.shell_id = None

    async def open_shell(self, deadline: float) -> None:
        self.shell_id = await self._call(lambda p: p.open_shell(codepage=65001, noprofile=True), deadline)

    def _shell(self) -> str:
        if self.shell_id is None:
            raise TransportError("no WinRM shell is open")
        return self.shell_id

    async def command(self, arguments: list[str], console_mode_stdin: bool, deadline: float) -> str:
        shell_id = self._shell()
        return await self._call(
            lambda p: p.run_command(shell_id, "powershell", arguments, console_mode_stdin=console_mode_stdin), deadline)

    async def send(self, command_id: str, data: bytes, end: bool, deadline: float) -> None:
        shell_id = self._shell()
        await self._call(lambda p: p.send_command_input(shell_id, command_id, data, end), deadline)

    async def receive(self, command_id: str, operation_timeout: int, deadline: float) -> tuple[bytes, bytes, int | None, bool]:
        shell_id = self._shell()

        def call(p: Protocol) -> tuple[bytes, bytes, int, bool]:
            p.operation_timeout_sec = operation_timeout
            return p.get_command_output_raw(shell_id, command_id)
        return await self._call(call, deadline)

    async def signal_terminate(self, command_id: str, deadline: float) -> None:
        shell_id = self._shell()
        await self._call(lambda p: p.cleanup_command(shell_id, command_id), deadline)

    async def delete_shell(self, deadline: float) -> None:
        shell_id, self.shell_id = self.shell_id, None
        if shell_id is not None and self._proto is not None:
            await self._call(lambda p: p.close_shell(shell_id, close_session=False), deadline)

    async def close(self, deadline: float) -> None:
        proto, shell_id = self._proto, self.shell_id
        if proto is None:
            return
        try:
            if shell_id is not None:
                await self._call(lambda p: p.close_shell(shell_id, close_session=True), deadline)
            else:
                proto.transport.close_session()
        finally:
            self.drop()
