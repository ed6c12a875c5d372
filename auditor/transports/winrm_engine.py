"""What the ``winrm`` transport needs from a WS-Management client, and the error wording both share.

Two engines implement ``Engine``: ``winrm_native`` (asyncio, the default) and ``winrm_pywinrm``
(pywinrm in a thread pool, on request). Each maps its own failures to the transport
errors here, so a host ends with the same outcome and message whichever engine ran.
"""

from __future__ import annotations

import abc

from auditor.transports.base import AuthFailed, ConnectFailed, ConnectionSpec, TransportError, TransportTimeout
from auditor.transports.winrm_options import WinrmOptions

# WSManFault codes (wsmerror.h) that have a fix worth naming
QUOTA_MAX_OPERATIONS = 2150859174  # ERROR_WSMAN_QUOTA_MAX_OPERATIONS
QUOTA_MAX_SHELLS = 2150859173      # ERROR_WSMAN_QUOTA_MAX_SHELLS
ACCESS_DENIED = 5                  # ERROR_ACCESS_DENIED
FAULT_FIXES = {
    QUOTA_MAX_SHELLS: "the account has too many shells open on the host: close them, or raise the quota "
                      "(Set-Item WSMan:\\localhost\\Shell\\MaxShellsPerUser 50)",
    ACCESS_DENIED: "the account may not use WinRM on the host: make it a local administrator "
                   "(or a member of Remote Management Users)",
}


class Transient(Exception):
    """A fault worth one more try (on a fresh session when ``new_session``); ``final`` is raised
    when tries run out."""

    def __init__(self, final: TransportError, new_session: bool):
        super().__init__(str(final))
        self.final = final
        self.new_session = new_session


class StillRunning(Exception):
    """A Receive came back empty-handed after the operation timeout: the command runs on; ask again."""


def root_errno(exc: BaseException) -> int | None:
    """The first OS error number in ``exc``'s chain (or its args), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return seen.errno
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, OSError) and arg.errno:
                return arg.errno
        seen = seen.__cause__ or seen.__context__
    return None


def short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= 240 else text[:237] + "..."


class Engine(abc.ABC):
    """One host's WinRS session: a shell, commands on it. Every method takes an absolute
    ``time.monotonic()`` deadline and raises only ``TransportError``s, ``Transient`` or ``StillRunning``."""

    def __init__(self, spec: ConnectionSpec, opts: WinrmOptions):
        self.spec, self.opts = spec, opts
        self.shell_id: str | None = None

    # --- shared wording -------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"{self.spec.host}:{self.opts.port}"

    def scrub(self, text: str) -> str:
        pw = self.spec.secret_password()
        return text.replace(pw, "********") if pw else text

    def tls_failed(self, reason: str, untrusted: bool) -> TransportError:
        hint = (" (certificate not trusted: set ansible_winrm_ca_trust_path to the CA that signed it, "
                "or ansible_winrm_server_cert_validation=ignore to skip the check)") if untrusted else ""
        return ConnectFailed(f"WinRM TLS handshake with {self.where} failed: {self.scrub(reason)}{hint}")

    def connect_timed_out(self) -> TransportError:
        return TransportTimeout(f"WinRM to {self.where}: connecting timed out after {self.spec.connect_timeout:g}s")

    def read_timed_out(self) -> Transient:
        return Transient(TransportTimeout(f"WinRM to {self.where}: no reply within ansible_winrm_read_timeout_sec"),
                         new_session=True)

    def fault(self, code: int | None, reason: str) -> Exception:
        if code == QUOTA_MAX_OPERATIONS:
            return Transient(TransportError(f"WinRM on {self.where}: operations quota exceeded"), new_session=False)
        fix = FAULT_FIXES.get(code or 0)
        text = " ".join(self.scrub(reason).split())[:300]
        return TransportError(f"WinRM fault from {self.where}: {text}" + (f" ({fix})" if fix else ""))

    def http_status(self, status: int, text: str = "") -> TransportError:
        """A non-200 reply without a SOAP fault, with the fix where the status names one."""
        if status == 413:
            return TransportError(
                f"WinRM to {self.where}: HTTP 413, the request is larger than the host's MaxEnvelopeSizekb: "
                f"raise it on the host (Set-Item WSMan:\\localhost\\MaxEnvelopeSizekb 2048)")
        if status == 502:
            return TransportError(f"WinRM to {self.where}: HTTP 502 from a proxy in the path: reach the host "
                                  f"directly (no_proxy)")
        body = " ".join(self.scrub(text).split())[:200]
        return TransportError(f"WinRM to {self.where}: HTTP {status} from the server" + (f": {body}" if body else ""))

    def auth_failed(self, outcome: str, message: str) -> TransportError:
        """An authentication failure by its meaning: auth (rejected), unreachable (no KDC) or config."""
        text = f"WinRM to {self.where}: {self.scrub(message)}"
        if outcome == "unreachable":
            return ConnectFailed(text)
        if outcome == "config":
            return TransportError(text)
        return AuthFailed(text)

    # --- the session ----------------------------------------------------------------------------

    @abc.abstractmethod
    def drop(self) -> None:
        """Forget the connection and shell without a word to the host (after a timeout)."""

    @abc.abstractmethod
    async def open_shell(self, deadline: float) -> None:
        """Open a WinRS shell (and the connection, authenticated) into ``self.shell_id``."""

    @abc.abstractmethod
    async def command(self, arguments: list[str], console_mode_stdin: bool, deadline: float) -> str:
        """Start ``powershell <arguments>`` in the shell; its CommandId."""

    @abc.abstractmethod
    async def send(self, command_id: str, data: bytes, end: bool, deadline: float) -> None:
        """Write ``data`` to the command's stdin (``end`` closes it)."""

    @abc.abstractmethod
    async def receive(self, command_id: str, operation_timeout: int,
                      deadline: float) -> tuple[bytes, bytes, int | None, bool]:
        """(stdout, stderr, exit code, done) of one Receive; ``StillRunning`` after the operation timeout."""

    @abc.abstractmethod
    async def signal_terminate(self, command_id: str, deadline: float) -> None:
        """Stop the command (frees it on the host)."""

    @abc.abstractmethod
    async def delete_shell(self, deadline: float) -> None:
        """Delete the shell, keep the connection."""

    @abc.abstractmethod
    async def close(self, deadline: float) -> None:
        """Delete the shell (if any) and close the connection."""
