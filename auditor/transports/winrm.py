"""The ``winrm`` transport: pywinrm's ``Protocol`` in a bounded thread pool, one shell per host.

pywinrm is synchronous (requests), so every WS-Management call runs in a module-level thread pool
(``configure_pool``; default 64 threads, or ``$AUDITOR_WINRM_THREADS``). ``connect`` opens ONE
WinRS shell; every ``run`` reuses it (pywinrm's ``Session.run_cmd`` opens a shell and an HTTP
connection per call, which costs 2-3x more per command).

A script runs as ``powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand
<base64 UTF-16LE>``. cmd.exe, which WinRS starts commands through, caps a command line at 8191
characters; a longer script is sent on stdin instead: a small fixed bootstrap goes in
``-EncodedCommand`` and the script follows as base64 lines through WinRS ``Send``.

Transient faults (connection reset, read timeout, the WinRM operations quota) are retried a
bounded number of times (``auditor_winrm_retries``, default 2) within the command's deadline,
with a fresh shell. See docs/winrm.md for the options and outcomes.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import math
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

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
from auditor.transports.winrm_clixml import clixml_to_text
from auditor.transports.winrm_options import WinrmOptions, winrm_options

T = TypeVar("T")

QUOTA_MAX_OPERATIONS = 2150859174  # ERROR_WSMAN_QUOTA_MAX_OPERATIONS
CMDLINE_LIMIT = 8191               # cmd.exe's command-line limit
SEND_CHUNK = 64 * 1024             # base64 bytes of script per WinRS Send (well under MaxEnvelopeSize)
PS_PREFIX = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass"]
# Reads base64 lines from stdin, decodes them as UTF-8 and runs the result as a script block.
STDIN_BOOTSTRAP = (
    "$_aud_b64 = (@($input) -join '').Trim(); "
    "$_aud_src = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($_aud_b64)); "
    "& ([ScriptBlock]::Create($_aud_src))"
)

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


def encode_command(script: str) -> tuple[list[str], bytes | None]:
    """(powershell arguments, stdin or None) for ``script``."""
    b64 = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    args = [*PS_PREFIX, "-EncodedCommand", b64]
    if len("powershell " + " ".join(args)) <= CMDLINE_LIMIT:
        return args, None
    boot = base64.b64encode(STDIN_BOOTSTRAP.encode("utf-16-le")).decode("ascii")
    data = base64.b64encode(script.encode("utf-8"))
    return [*PS_PREFIX, "-EncodedCommand", boot], data


class _Transient(Exception):
    """A fault worth one more try on a fresh shell; ``final`` is raised when tries run out."""

    def __init__(self, final: TransportError, new_session: bool):
        super().__init__(str(final))
        self.final = final
        self.new_session = new_session


def _root_errno(exc: BaseException) -> int | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return seen.errno
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, OSError) and arg.errno:
                return arg.errno
        seen = seen.__cause__ or seen.__context__
    return None


class WinrmTransport(Transport):
    shell = "powershell"

    def __init__(self, spec: ConnectionSpec):
        super().__init__(spec)
        self.opts: WinrmOptions | None = None
        self._proto: Protocol | None = None
        self._shell_id: str | None = None

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self.spec.host}:{self.opts.port if self.opts else '?'}"

    def _scrub(self, text: str) -> str:
        pw = self.spec.password
        return text.replace(pw, "********") if pw else text

    def _new_protocol(self) -> Protocol:
        o = self.opts
        assert o is not None
        try:
            proto = Protocol(
                endpoint=o.endpoint(self.spec.host), transport=o.auth,  # type: ignore[arg-type]
                username=self.spec.user, password=self.spec.password,
                server_cert_validation=o.cert_validation,  # type: ignore[arg-type]
                ca_trust_path=o.ca_trust_path,  # type: ignore[arg-type]
                cert_pem=o.cert_pem, cert_key_pem=o.cert_key_pem,
                read_timeout_sec=o.read_timeout, operation_timeout_sec=o.operation_timeout,
                message_encryption=o.message_encryption,  # type: ignore[arg-type]
                proxy=None,  # never pick a proxy up from the environment
            )
        except (WinRMError, InvalidCredentialsError) as exc:
            raise TransportError(f"WinRM to {self._where}: {self._scrub(str(exc))}") from None
        return proto

    async def _call(self, proto: Protocol, fn: Callable[[], T], deadline: float) -> T:
        """Run a blocking pywinrm call in the pool; map its failures to transport errors."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportTimeout(f"WinRM to {self._where}: deadline passed")
        assert self.opts is not None
        # requests' own timeouts end the thread soon after the deadline, so no pool thread (and no
        # process exit, which joins them) waits out the full read timeout of a hung host.
        proto.transport.read_timeout_sec = (  # type: ignore[assignment]
            min(self.spec.connect_timeout, remaining + 0.5), min(self.opts.read_timeout, remaining + 1.5))
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(_pool(), fn)
        try:
            return await asyncio.wait_for(fut, timeout=remaining)
        except asyncio.TimeoutError:
            self._drop()  # the thread may still be inside the session: never reuse it
            raise TransportTimeout(f"WinRM to {self._where}: no answer within the deadline") from None
        except WinRMOperationTimeoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - every pywinrm/requests failure is mapped here
            raise self._map(exc) from None

    def _map(self, exc: Exception) -> Exception:
        where = self._where
        if isinstance(exc, InvalidCredentialsError):
            return AuthFailed(f"WinRM to {where}: the host rejected the credentials ({self.opts.auth if self.opts else ''} auth)")
        if isinstance(exc, requests.exceptions.SSLError):
            hint = ""
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                hint = (" (certificate not trusted: set ansible_winrm_ca_trust_path to the CA that signed it, "
                        "or ansible_winrm_server_cert_validation=ignore to skip the check)")
            m = re.search(r"\[SSL: [A-Z_]+\] ([^(')\]]+)", str(exc))
            reason = m.group(1).strip() if m else _short(exc)
            return ConnectFailed(f"WinRM TLS handshake with {where} failed: {self._scrub(reason)}{hint}")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return TransportTimeout(f"WinRM to {where}: connecting timed out after {self.spec.connect_timeout:g}s")
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return _Transient(TransportTimeout(
                f"WinRM to {where}: no reply within ansible_winrm_read_timeout_sec"), new_session=True)
        if isinstance(exc, requests.exceptions.ConnectionError):
            code = _root_errno(exc)
            if code == errno.ECONNREFUSED or "refused" in str(exc).lower():
                return ConnectFailed(f"WinRM to {where}: connection refused")
            if code in (errno.ECONNRESET, errno.EPIPE) or "reset" in str(exc).lower() or "aborted" in str(exc).lower():
                return _Transient(ConnectFailed(f"WinRM to {where}: connection reset by peer"), new_session=True)
            return ConnectFailed(f"WinRM to {where}: cannot connect: {self._scrub(_short(exc))}")
        if isinstance(exc, WSManFaultError):
            if exc.wsman_fault_code == QUOTA_MAX_OPERATIONS or exc.wmierror_code == QUOTA_MAX_OPERATIONS:
                return _Transient(TransportError(f"WinRM on {where}: operations quota exceeded"), new_session=False)
            return TransportError(f"WinRM fault from {where}: {self._scrub(str(exc.reason))[:300]}")
        if isinstance(exc, WinRMTransportError):
            return TransportError(f"WinRM to {where}: HTTP {exc.code} from the server")
        if isinstance(exc, (WinRMError, requests.exceptions.RequestException)):
            return TransportError(f"WinRM to {where}: {self._scrub(_short(exc))}")
        return TransportError(f"WinRM to {where}: {type(exc).__name__}: {self._scrub(_short(exc))}")

    def _drop(self) -> None:
        """Forget the session and shell (a thread may still use them; they are not closed here)."""
        self._proto = None
        self._shell_id = None

    async def _open(self, deadline: float) -> None:
        if self._proto is None:
            self._proto = self._new_protocol()
        if self._shell_id is None:
            proto = self._proto
            self._shell_id = await self._call(
                proto, lambda: proto.open_shell(codepage=65001, noprofile=True), deadline)

    async def _with_retries(self, attempt: Callable[[float], Any], deadline: float) -> Any:
        assert self.opts is not None
        tries = 0
        while True:
            try:
                return await attempt(deadline)
            except _Transient as t:
                tries += 1
                if tries > self.opts.retries or time.monotonic() + 0.1 * tries >= deadline:
                    self._drop()
                    raise t.final from None
                if t.new_session:
                    self._drop()
                else:
                    await self._close_shell_quietly()
                await asyncio.sleep(0.1 * tries)  # brief back-off before the next try

    async def _close_shell_quietly(self) -> None:
        proto, shell_id = self._proto, self._shell_id
        self._shell_id = None
        if proto is not None and shell_id is not None:
            try:
                await self._call(proto, lambda: proto.close_shell(shell_id, close_session=False),
                                 time.monotonic() + 5)
            except Exception:  # noqa: BLE001 - the shell is being replaced anyway
                pass

    # --- the Transport interface ---------------------------------------------------------------

    async def connect(self) -> None:
        self.opts = winrm_options(self.spec)
        deadline = time.monotonic() + self.spec.connect_timeout
        await self._with_retries(self._open, deadline)

    async def run(self, script: str, timeout: float | None = None) -> ExecResult:
        if self.opts is None:
            await self.connect()
        timeout = self.spec.command_timeout if timeout is None else timeout
        started = time.monotonic()
        deadline = started + timeout
        args, stdin = encode_command(script)
        result: ExecResult = await self._with_retries(lambda d: self._run_once(args, stdin, d), deadline)
        result.duration_ms = (time.monotonic() - started) * 1000
        return result

    async def _run_once(self, args: list[str], stdin: bytes | None, deadline: float) -> ExecResult:
        await self._open(deadline)
        proto, shell_id = self._proto, self._shell_id
        assert proto is not None and shell_id is not None
        command_id = await self._call(
            proto, lambda: proto.run_command(shell_id, "powershell", args, console_mode_stdin=stdin is None),
            deadline)
        if stdin is not None:
            for i in range(0, len(stdin), SEND_CHUNK):
                piece, end = stdin[i:i + SEND_CHUNK], i + SEND_CHUNK >= len(stdin)
                await self._call(
                    proto, lambda: proto.send_command_input(shell_id, command_id, piece + b"\r\n", end), deadline)
        out, err = bytearray(), bytearray()
        truncated, rc = False, None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await self._stop_command(proto, shell_id, command_id)
                raise TransportTimeout(f"WinRM command on {self._where} did not finish in time")
            assert self.opts is not None
            # Each Receive waits at most the time left, so the deadline holds.
            proto.operation_timeout_sec = max(1, min(self.opts.operation_timeout, math.ceil(remaining)))
            try:
                o, e, code, done = await self._call(
                    proto, lambda: proto.get_command_output_raw(shell_id, command_id), deadline)
            except WinRMOperationTimeoutError:
                continue  # still running: ask again until the deadline
            cut = bounded_append(out, o, self.spec.max_output)
            cut = bounded_append(err, e, self.spec.max_output) or cut
            if cut:
                truncated = True
                await self._stop_command(proto, shell_id, command_id)
                break
            if done:
                # A finished command needs no Signal(terminate): closing the shell frees it, and
                # skipping it saves one HTTP round trip (about a tenth of a host's requests).
                rc = code
                break
        return ExecResult(bytes(out), clixml_to_text(bytes(err)), rc, truncated)

    async def _stop_command(self, proto: Protocol, shell_id: str, command_id: str) -> None:
        """Signal terminate (frees the command on the host); best effort, briefly."""
        try:
            await self._call(proto, lambda: proto.cleanup_command(shell_id, command_id), time.monotonic() + 5)
        except Exception:  # noqa: BLE001 - the result is already known
            pass

    async def close(self) -> None:
        proto, shell_id = self._proto, self._shell_id
        self._drop()
        if proto is None:
            return
        try:
            if shell_id is not None:
                await self._call(proto, lambda: proto.close_shell(shell_id, close_session=True),
                                 time.monotonic() + 5)
            else:
                proto.transport.close_session()
        except Exception:  # noqa: BLE001 - close must not raise
            pass


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= 240 else text[:237] + "..."


register_transport("winrm", WinrmTransport)
