"""Error types and the documented exit codes.

Every error a user can cause is an ``AuditorError`` carrying where it happened (file, line, column)
and what was expected; the CLI prints it as one line and exits with its code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (documented in ``auditor --help`` and docs/exit-codes.md)."""

    OK = 0                 # every selected host reached, every check passed (or skipped / not applicable)
    CHECKS_FAILED = 2      # at least one check failed or errored on a reached host
    HOSTS_UNREACHABLE = 3  # at least one host unreachable, auth failed, timed out or errored (wins over 2)
    BAD_INPUT = 4          # malformed playbook, inventory, scenario or vars file; missing file
    USAGE = 5              # bad command-line options
    INTERRUPTED = 99       # interrupted by the user (Ctrl-C); partial reports are still written
    INTERNAL = 250         # a bug in auditor: please report it


@dataclass
class Location:
    file: str
    line: int | None = None   # 1-based
    column: int | None = None  # 1-based

    def __str__(self) -> str:
        out = self.file
        if self.line is not None:
            out += f":{self.line}"
            if self.column is not None:
                out += f":{self.column}"
        return out


class AuditorError(Exception):
    """A user-facing error: printed as a single line, mapped to an exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is not None:
            return f"{self.location}: {self.message}"
        return self.message


class BadInputError(AuditorError):
    """A playbook, inventory or other input file is malformed or missing."""

    exit_code = ExitCode.BAD_INPUT


class UsageError(AuditorError):
    """The command line is wrong (unknown option value, missing argument)."""

    exit_code = ExitCode.USAGE


# --- talking to hosts ----------------------------------------------------------------------------
# Not AuditorErrors: they end one host (its HostResult says which), never the run. The runner maps them by
# class: ConnectFailed -> unreachable, AuthFailed -> auth_failed, TransportTimeout -> timed_out, others -> error.


class TransportError(Exception):
    """Something went wrong talking to a host. The message must never contain a secret."""


class ConnectFailed(TransportError):
    """The host could not be reached: refused, no route, DNS, TLS failure, host key rejected."""


class AuthFailed(TransportError):
    """The host was reached but rejected the credentials."""


class TransportTimeout(TransportError, TimeoutError):
    """Connecting or a command took longer than allowed."""


class TransportNotAvailable(TransportError):
    """The connection type (or an auth method of it) cannot be used on this machine."""
