"""``wslconfig``: set, comment out or remove a key in one user's `.wslconfig` (Windows).

Three steps: read the bytes, edit them here with the pure ``edit_wslconfig`` (encoding, BOM and line
endings kept), and, only if they differ and check mode is off, write: the host verifies the file is still
what was read (SHA-256), keeps a copy, writes a temporary file next to it and
swaps it in with ``[IO.File]::Replace`` (atomic on NTFS); the backup is ``wslconfig-<UTC stamp>.bak``. Any failure leaves the original file in place.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Literal

from pydantic import field_validator, model_validator

from auditor.errors import TransportError
from auditor.mirrored.shapes import b64bytes
from auditor.remediate.modules.base import Module, ModuleArgs, ModuleContext, Outcome, register_module
from auditor.remediate.wire import ReplyError, ps_step
from auditor.mirrored.remediation.wslconfig_edit import EditError, edit_wslconfig, validate_request
from auditor.results import TaskStatus

MAX_FILE = 1024 * 1024
_ENCODING_LABEL = {
    "empty": "new file, UTF-8", "utf-8": "UTF-8", "utf-8-bom": "UTF-8 with BOM", "utf-16le-bom": "UTF-16LE with BOM",
    "utf-16be-bom": "UTF-16BE with BOM", "utf-16le-no-bom": "UTF-16LE without BOM", "utf-16be-no-bom": "UTF-16BE without BOM",
}

READ_PS = r"""
$ErrorActionPreference = 'Stop'
$r = [ordered]@{ Exists = $false; Length = 0; Base64 = $null; Error = $null }
try {
  if (Test-Path -LiteralPath $A.path -PathType Leaf) {
    $b = [IO.File]::ReadAllBytes($A.path)
    $r.Exists = $true; $r.Length = $b.Length
    if ($b.Length -le $A.max) { $r.Base64 = [Convert]::ToBase64String($b) }
  }
} catch { $r.Error = $_.Exception.Message }
ConvertTo-Json -InputObject $r -Compress
"""

WRITE_PS = r"""
$ErrorActionPreference = 'Stop'
$r = [ordered]@{ Written = $false; Backup = $null; Error = $null }
$tmp = $null
try {
  $p = $A.path
  $exists = Test-Path -LiteralPath $p -PathType Leaf
  $cur = ''
  if ($exists) { $cur = (Get-FileHash -LiteralPath $p -Algorithm SHA256).Hash }
  if ($cur -ne $A.expect) { throw 'the file changed after it was read; nothing was written' }
  if ($exists -and $A.backup) {
    $bak = $A.backup_path + '.bak'; $i = 1
    while (Test-Path -LiteralPath $bak) { $bak = $A.backup_path + "-$i.bak"; $i++ }
    [IO.File]::Copy($p, $bak, $false)
    $r.Backup = $bak
  }
  $tmp = "$p.auditor-$([guid]::NewGuid().ToString('N')).tmp"
  [IO.File]::WriteAllBytes($tmp, [Convert]::FromBase64String($A.content))
  if ($exists) { [IO.File]::Replace($tmp, $p, [NullString]::Value) } else { [IO.File]::Move($tmp, $p) }
  $tmp = $null
  $r.Written = $true
} catch { $r.Error = $_.Exception.Message }
finally { if ($tmp -and (Test-Path -LiteralPath $tmp)) { Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue } }
ConvertTo-Json -InputObject $r -Compress
"""


class WslconfigArgs(ModuleArgs):
    path: str | None = None          # full path of the file
    profile: str | None = None       # or a profile folder (C:\Users\dev): the file is <profile>\.wslconfig
    section: list[str] = ["wsl2"]
    key: str
    state: Literal["present", "absent", "commented"] = "present"
    value: str | None = None
    merge_list: bool = False         # value is a comma list: add the missing items only (ignoredPorts)
    backup: bool = True
    create: bool = True              # state=present on a missing file creates it

    @field_validator("section", mode="before")
    @classmethod
    def _sections(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: object) -> object:
        if isinstance(v, (list, tuple)):
            return ",".join(str(x) for x in v)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> "WslconfigArgs":
        if bool(self.path) == bool(self.profile):
            raise ValueError("give exactly one of path or profile")
        try:
            validate_request(self.section, self.key, self.state, self.value)
        except EditError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def file(self) -> str:
        if self.path:
            return self.path
        return self.profile.rstrip("\\/") + "\\.wslconfig"  # type: ignore[union-attr]


@register_module
class WslconfigModule(Module):
    name = "wslconfig"
    Args = WslconfigArgs
    platforms = ("windows",)
    description = "set, comment out or remove a key in a user's .wslconfig (backup, atomic replace)"

    async def run(self, ctx: ModuleContext, args: WslconfigArgs) -> Outcome:
        path = args.file
        reply = await ctx.call(ps_step("wslconfig.read", {"path": path, "max": MAX_FILE}, READ_PS), "wslconfig.read")
        if reply.get("Error"):
            return Outcome(TaskStatus.failed, f"cannot read {path}: {str(reply['Error'])[:300]}")
        exists = bool(reply.get("Exists"))
        data = b""
        if exists:
            data = b64bytes(reply.get("Base64")) if reply.get("Base64") else None  # type: ignore[assignment]
            if data is None and reply.get("Length"):
                return Outcome(TaskStatus.failed, f"{path} is larger than {MAX_FILE} bytes (or unreadable): not edited")
            data = data or b""
        if not exists and (args.state != "present" or not args.create):
            return Outcome(TaskStatus.ok, f"{path} does not exist: nothing to {_verb(args.state)}")
        sections = ", ".join(f"[{s}]" for s in args.section)
        try:
            edit = edit_wslconfig(data, sections=args.section, key=args.key, state=args.state, value=args.value,
                                  merge_list=args.merge_list, label=path)
        except EditError as exc:
            return Outcome(TaskStatus.failed, f"{path}: {exc}")
        what = f"{args.key} in {sections} of {path}"
        if args.state == "present":
            what = f"{args.key}={args.value} in {sections} of {path}" + (" (list merged)" if args.merge_list else "")
        notes = ("; " + "; ".join(edit.notes)) if edit.notes else ""
        if not edit.changed:
            return Outcome(TaskStatus.ok, f"already {_done(args.state)}: {what}{notes}")
        kept = f"{_ENCODING_LABEL.get(edit.encoding, edit.encoding)}, {'CRLF' if edit.newline == chr(13) + chr(10) else 'LF'}"
        effect = "; takes effect when the user's WSL VM next starts"
        if ctx.check_mode:
            return Outcome(TaskStatus.changed, f"would be {_done(args.state)}: {what} ({kept}){effect}{notes}", diff=edit.diff)
        write = {"path": path, "expect": hashlib.sha256(data).hexdigest() if exists else "",
                 "content": base64.b64encode(edit.data).decode("ascii"), "backup": args.backup,
                 "backup_path": backup_base(path, ctx.stamp)}
        try:
            reply = await ctx.call(ps_step("wslconfig.write", write, WRITE_PS), "wslconfig.write")
        except (ReplyError, TransportError) as exc:
            # the write was sent: it may have happened. Say so, and where its backup would be
            where = f"{write['backup_path']}.bak (or -N.bak)" if args.backup and exists else "none (no backup was asked for)"
            return Outcome(TaskStatus.failed, f"{path}: the host's answer to the write was lost ({exc}): the file may "
                           f"have changed; backup at {where}. Re-run with --check to see its state.", diff=edit.diff,
                           backup_path=f"{write['backup_path']}.bak" if args.backup and exists else None,
                           data={"_broken": isinstance(exc, TransportError)})
        backup = str(reply["Backup"]) if reply.get("Backup") else None
        if reply.get("Error") or not reply.get("Written"):
            err = str(reply.get("Error") or "the host did not confirm the write")[:300]
            return Outcome(TaskStatus.failed, f"{path} was NOT changed (original kept): {err}", diff=edit.diff,
                           backup_path=backup)
        return Outcome(TaskStatus.changed, f"{_done(args.state)}: {what} ({kept}){effect}{notes}", diff=edit.diff,
                       backup_path=backup, data={"path": path, "backup": backup})


def backup_base(path: str, stamp: str) -> str:
    """``C:\\Users\\dev\\.wslconfig`` -> ``C:\\Users\\dev\\wslconfig-<stamp>`` (+ ``.bak``, or ``-N.bak`` if taken).

    Next to the file, but not named ``.wslconfig*``: the audit reports such files as stray copies."""
    folder, _, name = path.rpartition("\\")
    return f"{folder}\\{name.lstrip('.') or 'wslconfig'}-{stamp}"


def _verb(state: str) -> str:
    return {"present": "set", "absent": "remove", "commented": "comment out"}[state]


def _done(state: str) -> str:
    return {"present": "set", "absent": "removed", "commented": "commented out"}[state]
