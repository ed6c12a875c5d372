"""What a simulated Windows host answers: the host-model protocol and a base model.

The WinRS server hands every command to ``WindowsHostModel.run`` (in a worker thread, so a slow
model never blocks other hosts). ``run`` decodes ``powershell ... -EncodedCommand`` itself and routes:

* PowerShell scripts -> ``run_powershell(script)``; batch scripts from
  ``auditor.collectors.batch.build_ps_batch`` are split and each collector goes to
  ``run_collector(name, script)``, whose outputs are framed the way the real batch frames them;
* anything else -> ``run_cmd(cmdline)`` (what cmd.exe would run).

Richer models (the mirrored-mode scenarios) subclass ``WindowsHostModel`` and override
``run_collector`` (and, if needed, ``run_powershell`` / ``run_cmd``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from auditor.collectors.batch import frame, parse_ps_batch, ps_nonce
from auditor.lab.winrs.clixml import clixml_error, not_recognized

CRLF = "\r\n"


@dataclass
class CommandOutcome:
    """What one command produced. ``delay`` seconds pass (off the event loop) before it is done."""

    stdout: bytes = b""
    stderr: bytes = b""
    rc: int = 0
    delay: float = 0.0


_PS_EXE = re.compile(r"^(?:[\w:\\ ().-]*\\)?(powershell|pwsh)(?:\.exe)?$", re.I)
_STATEMENT_SPLIT = re.compile(r"""((?:[^;\r\n'"]|'[^']*'|"[^"]*")+)""")


def split_cmdline(cmdline: str) -> list[str]:
    """Windows-style argument split (double quotes group; good enough for the lab)."""
    return [m.group(1) if m.group(1) is not None else m.group(2)
            for m in re.finditer(r'"([^"]*)"|(\S+)', cmdline)]


def powershell_script(argv: list[str]) -> str | None:
    """The script a ``powershell.exe`` command line runs, or None when argv is not PowerShell.

    Understands ``-EncodedCommand``/``-enc``/``-e`` (base64 of UTF-16LE) and ``-Command``;
    ``-Command -`` returns ``"-"`` (script on stdin).
    """
    if not argv or not _PS_EXE.match(argv[0]):
        return None
    args = argv[1:]
    for i, arg in enumerate(args):
        low = arg.lower()
        if low.startswith("-e") and "-encodedcommand".startswith(low) and low not in ("-ex", "-exe", "-exec"):
            if i + 1 >= len(args):
                return ""
            try:
                return base64.b64decode(args[i + 1]).decode("utf-16-le", errors="replace")
            except (binascii.Error, ValueError):
                return ""
        if low.startswith("-c") and "-command".startswith(low):
            return " ".join(args[i + 1:])
        if low in ("-executionpolicy", "-ep", "-ex", "-exec", "-windowstyle", "-inputformat", "-outputformat"):
            continue
    return ""


class WindowsHostModel:
    """A Windows 10/11 developer machine as WinRM sees it; override hooks to enrich it."""

    ps_version = "5.1.19041.4648"
    os_build = "10.0.19045"

    def __init__(self, hostname: str = "WIN-LAB01", user: str = "auditor", domain: str | None = None,
                 ipv4: str = "10.20.0.11"):
        self.hostname = hostname.upper()
        self.user = user
        self.domain = (domain or self.hostname).lower()
        self.ipv4 = ipv4

    # --- entry point used by the server ---------------------------------------------------------

    def wants_stdin(self, command: str, arguments: list[str]) -> bool:
        """True when the command reads its input (the server then starts it once stdin is closed)."""
        script = powershell_script(split_cmdline(" ".join([command, *arguments])))
        return script is not None and (script == "-" or "$input" in script.lower())

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandOutcome:
        cmdline = " ".join([command, *arguments]).strip()
        script = powershell_script(split_cmdline(cmdline))
        if script is None:
            return self.run_cmd(cmdline)
        if script == "-" or "$input" in script.lower():
            script = self._script_from_stdin(script, stdin)
        return self.run_powershell(script)

    @staticmethod
    def _script_from_stdin(bootstrap: str, stdin: bytes) -> str:
        # A bootstrap that base64-decodes its pipeline input (auditor's long-script path), or
        # ``-Command -`` which reads the script text itself.
        text = stdin.decode("utf-8", errors="replace")
        if "frombase64string" in bootstrap.lower():
            try:
                return base64.b64decode("".join(text.split())).decode("utf-8", errors="replace")
            except (binascii.Error, ValueError):
                return ""
        return text

    # --- hooks ----------------------------------------------------------------------------------

    def run_powershell(self, script: str) -> CommandOutcome:
        items = parse_ps_batch(script)
        nonce = ps_nonce(script)
        if items is None or nonce is None:
            return self.run_statements(script)
        out, err, delay = bytearray(), bytearray(), 0.0
        for item in items:
            res = self.run_collector(item.name, item.command)
            out += frame(nonce, item.name, res.stdout, res.rc)[0]
            err += frame(nonce, item.name, res.stderr, res.rc)[0]
            delay += res.delay
        return CommandOutcome(bytes(out), bytes(err), 0, delay)

    def run_collector(self, name: str, script: str) -> CommandOutcome:
        """One collector of a batch. The base model runs it as ordinary PowerShell."""
        return self.run_statements(script)

    def run_cmd(self, cmdline: str) -> CommandOutcome:
        argv = split_cmdline(cmdline)
        if not argv:
            return CommandOutcome()
        name = argv[0].lower()
        if name in ("cmd", "cmd.exe") and len(argv) > 2 and argv[1].lower() == "/c":
            return self.run_cmd(" ".join(argv[2:]))
        if name == "exit" and len(argv) > 1:
            rc_text = argv[-1]
            return CommandOutcome(rc=int(rc_text) if rc_text.lstrip("-").isdigit() else 0)
        if name == "echo":
            return CommandOutcome(_text(" ".join(argv[1:]) + CRLF))
        common = self._common(name, argv[1:])
        if common is not None:
            return CommandOutcome(_text(common))
        msg = (f"'{argv[0]}' is not recognized as an internal or external command,{CRLF}"
               f"operable program or batch file.{CRLF}")
        return CommandOutcome(stderr=_text(msg), rc=1)

    # --- a tiny PowerShell ----------------------------------------------------------------------

    def run_statements(self, script: str) -> CommandOutcome:
        """Statements separated by newlines or ``;``; exit code like ``powershell -Command``."""
        out, errors, delay, ok = [], [], 0.0, True
        for m in _STATEMENT_SPLIT.finditer(script):
            stmt = m.group(1).strip()
            if not stmt or stmt.startswith("#"):
                continue
            low = stmt.lower()
            exit_m = re.fullmatch(r"exit(?:\s+(-?\d+))?", low)
            if exit_m:
                rc = int(exit_m.group(1) or 0)
                return CommandOutcome(_text("".join(out)), self._errors(errors), rc, delay)
            sleep_m = re.fullmatch(r"start-sleep(?:\s+-s(?:econds)?)?\s+(\d+(?:\.\d+)?)", low)
            ms_m = re.fullmatch(r"start-sleep\s+-m(?:illiseconds)?\s+(\d+)", low)
            if sleep_m or ms_m:
                delay += float(sleep_m.group(1)) if sleep_m else int(ms_m.group(1)) / 1000  # type: ignore[union-attr]
                ok = True
                continue
            text, error = self._statement(stmt)
            if text:
                out.append(text)
            if error:
                errors.append(error)
            ok = error is None
        return CommandOutcome(_text("".join(out)), self._errors(errors), 0 if ok else 1, delay)

    def _statement(self, stmt: str) -> tuple[str, str | None]:
        """(stdout text, error text or None) for one statement."""
        low = stmt.lower()
        argv = split_cmdline(stmt)
        head = argv[0].lower() if argv else ""
        literal = re.fullmatch(r"""'([^']*)'|"([^"]*)\"""", stmt)
        if literal:
            return (literal.group(1) or literal.group(2) or "") + CRLF, None
        if head in ("write-output", "echo", "write-host"):
            return _unquote(stmt[len(argv[0]):].strip()) + CRLF, None
        if head == "write-error":
            msg = _unquote(re.sub(r"^-message\s+", "", stmt[len(argv[0]):].strip(), flags=re.I))
            return "", (f"{stmt} : {msg}\n    + CategoryInfo          : NotSpecified: (:) [Write-Error], "
                        "WriteErrorException\n    + FullyQualifiedErrorId : "
                        "Microsoft.PowerShell.Commands.WriteErrorException")
        if low == "$psversiontable":
            return self._psversiontable(), None
        if low in ("$psversiontable.psversion.tostring()", "$psversiontable.psversion.major"):
            return (self.ps_version if low.endswith("tostring()") else self.ps_version.split(".")[0]) + CRLF, None
        if low == "$env:computername":
            return self.hostname + CRLF, None
        if head.startswith("$"):
            return "", None  # assignments and other expressions: no output in the lab
        if head in ("cmd", "cmd.exe"):
            res = self.run_cmd(stmt)
            return res.stdout.decode(), res.stderr.decode() if res.rc else None
        common = self._common(head.removesuffix(".exe"), argv[1:])
        if common is not None:
            return common, None
        return "", not_recognized(argv[0] if argv else stmt, stmt)

    def _common(self, name: str, args: list[str]) -> str | None:
        """Native programs both shells can start."""
        name = name.removesuffix(".exe")
        if name == "hostname":
            return self.hostname + CRLF
        if name == "whoami":
            return f"{self.domain}\\{self.user.lower()}{CRLF}"
        if name == "ipconfig":
            return self._ipconfig()
        return None

    def _ipconfig(self) -> str:
        gw = ".".join(self.ipv4.split(".")[:3] + ["1"])
        lines = [
            "", "Windows IP Configuration", "", "",
            "Ethernet adapter Ethernet:", "",
            "   Connection-specific DNS Suffix  . : lab.example",
            "   Link-local IPv6 Address . . . . . : fe80::1c2d:3e4f:5a6b:7c8d%12",
            f"   IPv4 Address. . . . . . . . . . . : {self.ipv4}",
            "   Subnet Mask . . . . . . . . . . . : 255.255.255.0",
            f"   Default Gateway . . . . . . . . . : {gw}", "",
        ]
        return CRLF.join(lines) + CRLF

    def _psversiontable(self) -> str:
        rows = [
            ("PSVersion", self.ps_version), ("PSEdition", "Desktop"),
            ("PSCompatibleVersions", "{1.0, 2.0, 3.0, 4.0...}"), ("BuildVersion", self.ps_version),
            ("CLRVersion", "4.0.30319.42000"), ("WSManStackVersion", "3.0"),
            ("PSRemotingProtocolVersion", "2.3"), ("SerializationVersion", "1.1.0.1"),
        ]
        body = [f"{k:<30}{v}" for k, v in rows]
        return CRLF.join(["", f"{'Name':<30}Value", f"{'----':<30}-----", *body, "", ""])

    @staticmethod
    def _errors(errors: list[str]) -> bytes:
        return clixml_error("\n".join(errors)) if errors else b""


def _text(s: str) -> bytes:
    return s.encode("utf-8")


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s
