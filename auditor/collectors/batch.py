"""One round trip per host: a play's collectors go out as ONE script and come back split by markers.

Each section of the output is framed by marker lines that carry a random per-run nonce, so a host's
output cannot forge a boundary::

    @@AUDITOR:<nonce>:BEGIN:<name>
    ...collector output...
    @@AUDITOR:<nonce>:END:<name>:<rc>

Markers are written to both stdout and stderr, so each stream splits on its own. A section with
no END marker (the host died or the output was cut) comes back with ``complete=False``.

``parse_sh_batch`` / ``parse_ps_batch`` read a batch script back into its collectors: the
simulated hosts in ``auditor.lab`` use them to answer exactly what was sent.
"""

from __future__ import annotations

import base64
import re
import secrets
import shlex
from dataclasses import dataclass
from typing import Iterator

MARK = b"@@AUDITOR:"
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class BatchItem:
    name: str
    command: str
    timeout: int = 60


@dataclass
class Section:
    name: str
    stdout: bytes = b""
    stderr: bytes = b""
    rc: int | None = None
    complete: bool = False


def new_nonce() -> str:
    return secrets.token_hex(8)


def _check_names(items: list[BatchItem]) -> None:
    for item in items:
        if not NAME_RE.match(item.name):
            raise ValueError(f"collector name {item.name!r} must match {NAME_RE.pattern}")


# --- POSIX sh ---------------------------------------------------------------------------------

_SH_PRELUDE = """\
_aud_m() { printf '\\n@@AUDITOR:%s:%s\\n' '{nonce}' "$1"; printf '\\n@@AUDITOR:%s:%s\\n' '{nonce}' "$1" >&2; }
_aud_run() {
  _aud_m "BEGIN:$1"
  if command -v timeout >/dev/null 2>&1; then timeout "$2" sh -c "$3" </dev/null; else sh -c "$3" </dev/null; fi
  _aud_m "END:$1:$?"
}
"""
_SH_LINE = re.compile(r"^_aud_run ([A-Za-z0-9_.-]+) (\d+) (.*)$")


def build_sh_batch(items: list[BatchItem], nonce: str) -> str:
    """A POSIX sh script (fed to ``sh -s`` on stdin) running every collector in order."""
    _check_names(items)
    lines = [_SH_PRELUDE.replace("{nonce}", nonce)]
    for item in items:
        lines.append(f"_aud_run {item.name} {int(item.timeout)} {shlex.quote(item.command)}")
    return "\n".join(lines) + "\n"


def parse_sh_batch(script: str) -> list[BatchItem] | None:
    """The collectors of a script made by ``build_sh_batch``; None when it is not one."""
    if "_aud_run()" not in script:
        return None
    items = []
    for line in script.splitlines():
        m = _SH_LINE.match(line)
        if m:
            parts = shlex.split(m.group(3))
            items.append(BatchItem(m.group(1), parts[0] if parts else "", int(m.group(2))))
    return items


def sh_nonce(script: str) -> str | None:
    m = re.search(r"printf '\\n@@AUDITOR:%s:%s\\n' '([0-9a-f]+)'", script)
    return m.group(1) if m else None


# --- Windows PowerShell 5.1 -------------------------------------------------------------------

_PS_TEMPLATE = """\
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
function _aud_m([string]$t) {{ [Console]::Out.Write("`n@@AUDITOR:{nonce}:$t`n"); [Console]::Error.Write("`n@@AUDITOR:{nonce}:$t`n") }}
$_aud_items = @(
{items}
)
foreach ($_aud in $_aud_items) {{
  _aud_m "BEGIN:$($_aud.n)"
  $_aud_rc = 0
  try {{
    $global:LASTEXITCODE = 0
    $_aud_sb = [ScriptBlock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($_aud.s)))
    & $_aud_sb | Out-String -Width 8192 | ForEach-Object {{ [Console]::Out.Write($_) }}
    if ($global:LASTEXITCODE) {{ $_aud_rc = $global:LASTEXITCODE }}
  }} catch {{
    [Console]::Error.Write(($_ | Out-String))
    $_aud_rc = 1
  }}
  _aud_m "END:$($_aud.n):$_aud_rc"
}}
"""
_PS_ITEM = re.compile(r"@\{n='([A-Za-z0-9_.-]+)';t=(\d+);s='([A-Za-z0-9+/=]*)'\}")


def build_ps_batch(items: list[BatchItem], nonce: str) -> str:
    """A Windows PowerShell 5.1 script running every collector (each a script block) in order."""
    _check_names(items)
    rows = []
    for item in items:
        b64 = base64.b64encode(item.command.encode("utf-8")).decode("ascii")
        rows.append(f"  @{{n='{item.name}';t={int(item.timeout)};s='{b64}'}}")
    return _PS_TEMPLATE.format(nonce=nonce, items=",\n".join(rows))


def parse_ps_batch(script: str) -> list[BatchItem] | None:
    """The collectors of a script made by ``build_ps_batch``; None when it is not one."""
    if "$_aud_items" not in script:
        return None
    return [
        BatchItem(m.group(1), base64.b64decode(m.group(3)).decode("utf-8", errors="replace"), int(m.group(2)))
        for m in _PS_ITEM.finditer(script)
    ]


def ps_nonce(script: str) -> str | None:
    m = re.search(r"@@AUDITOR:([0-9a-f]+):\$t", script)
    return m.group(1) if m else None


def build_batch(shell: str, items: list[BatchItem], nonce: str) -> str:
    if shell == "powershell":
        return build_ps_batch(items, nonce)
    return build_sh_batch(items, nonce)


def frame(nonce: str, name: str, stdout: bytes, rc: int) -> tuple[bytes, bytes]:
    """The framed (stdout, stderr) a host returns for one section; used by simulated hosts."""
    begin = f"\n@@AUDITOR:{nonce}:BEGIN:{name}\n".encode()
    end = f"\n@@AUDITOR:{nonce}:END:{name}:{rc}\n".encode()
    return begin + stdout + end, begin + end


# --- splitting the output ---------------------------------------------------------------------


# What follows "@@AUDITOR:<nonce>:" in a marker line. The nonce is found with bytes.find: compiling a
# pattern per nonce (one per host) cost ~0.4 ms a stream, and past re's cache of 512 it recompiled
# for every host.
_MARKER_REST = re.compile(rb"(BEGIN|END):([A-Za-z0-9_.-]+)(?::(-?\d+))?\r?\n")


def _markers(data: bytes, nonce: str) -> Iterator[tuple[int, int, bytes, str, int | None]]:
    """(start, end, kind, name, rc) of each marker line of ``nonce``; start includes the newline
    (and carriage return) the marker writes before itself."""
    head = b"@@AUDITOR:" + nonce.encode() + b":"
    floor = 0  # the end of the previous marker: its line end is never taken again
    pos = data.find(head)
    while pos >= 0:
        m = _MARKER_REST.match(data, pos + len(head))
        if m is None:
            pos = data.find(head, pos + 1)
            continue
        start = pos
        if start > floor and data[start - 1] == 0x0A:
            start -= 1
        if start > floor and data[start - 1] == 0x0D:
            start -= 1
        rc = int(m.group(3)) if m.group(3) is not None else None
        yield start, m.end(), m.group(1), m.group(2).decode(), rc
        floor = m.end()
        pos = data.find(head, floor)


def _split_stream(data: bytes, nonce: str) -> dict[str, tuple[bytes, int | None, bool]]:
    out: dict[str, tuple[bytes, int | None, bool]] = {}
    current: str | None = None
    start = 0
    for m_start, m_end, kind, name, rc in _markers(data, nonce):
        if kind == b"BEGIN":
            if current is not None:  # previous section never ended
                out[current] = (data[start:m_start], None, False)
            current, start = name, m_end
        elif current == name:
            out[name] = (data[start:m_start], rc, True)
            current = None
    if current is not None:
        out[current] = (data[start:], None, False)
    return out


def split_batch_output(stdout: bytes, stderr: bytes, nonce: str, names: list[str]) -> dict[str, Section]:
    """Split a batch's output into one ``Section`` per collector name (missing ones incomplete)."""
    so = _split_stream(stdout, nonce)
    se = _split_stream(stderr, nonce)
    sections: dict[str, Section] = {}
    for name in names:
        sec = Section(name)
        if name in so:
            sec.stdout, sec.rc, sec.complete = so[name]
        if name in se:
            sec.stderr = se[name][0]
        sections[name] = sec
    return sections
