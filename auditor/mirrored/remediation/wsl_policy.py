"""``wsl_policy``: the machine policy values under ``HKLM\\SOFTWARE\\Policies\\WSL`` (Windows).

``DefaultNetworkingMode`` (DWORD: 0 None, 1 NAT, 3 Mirrored, 4 Consomme; 2 Bridged is rejected by WSL) and
``AllowNetworkingModeUserSetting`` (0 = a user's ``networkingMode`` is overridden by the default) force NAT
for every user of the machine at their next WSL start (docs/research/domain.md section 7; ADMX: Store WSL only).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from auditor.remediate.modules.base import Module, ModuleArgs, ModuleContext, Outcome, register_module
from auditor.remediate.wire import ps_step
from auditor.results import TaskStatus

KEY = r"HKLM:\SOFTWARE\Policies\WSL"
MODES = {"none": 0, "nat": 1, "mirrored": 3, "consomme": 4}
MODE_NAMES = {v: k for k, v in MODES.items()}

READ_PS = r"""
$ErrorActionPreference = 'Stop'
$r = [ordered]@{ Values = [ordered]@{}; Error = $null }
try {
  foreach ($n in $A.names) {
    $v = $null
    try { $v = (Get-ItemProperty -LiteralPath $A.key -Name $n -ErrorAction Stop).$n } catch { }
    $r.Values[$n] = $v
  }
} catch { $r.Error = $_.Exception.Message }
ConvertTo-Json -InputObject $r -Compress
"""

WRITE_PS = r"""
$ErrorActionPreference = 'Stop'
$r = [ordered]@{ Written = $false; Error = $null }
try {
  if (-not (Test-Path -LiteralPath $A.key)) { New-Item -Path $A.key -Force | Out-Null }
  foreach ($p in $A.set.PSObject.Properties) {
    New-ItemProperty -LiteralPath $A.key -Name $p.Name -Value ([int]$p.Value) -PropertyType DWord -Force | Out-Null
  }
  foreach ($n in $A.remove) { Remove-ItemProperty -LiteralPath $A.key -Name $n -ErrorAction SilentlyContinue }
  $r.Written = $true
} catch { $r.Error = $_.Exception.Message }
ConvertTo-Json -InputObject $r -Compress
"""


class WslPolicyArgs(ModuleArgs):
    default_networking_mode: Literal["none", "nat", "mirrored", "consomme"] | None = None
    allow_networking_mode_user_setting: bool | None = None
    allow_firewall_user_setting: bool | None = None
    state: Literal["present", "absent"] = "present"   # absent: delete the named values (back to WSL defaults)

    @model_validator(mode="after")
    def _some(self) -> "WslPolicyArgs":
        if not self.wanted():
            raise ValueError("give at least one of default_networking_mode, allow_networking_mode_user_setting, "
                             "allow_firewall_user_setting")
        return self

    def wanted(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.default_networking_mode is not None:
            out["DefaultNetworkingMode"] = MODES[self.default_networking_mode]
        if self.allow_networking_mode_user_setting is not None:
            out["AllowNetworkingModeUserSetting"] = int(self.allow_networking_mode_user_setting)
        if self.allow_firewall_user_setting is not None:
            out["AllowFirewallUserSetting"] = int(self.allow_firewall_user_setting)
        return out


def _show(name: str, value: object) -> str:
    if value is None:
        return "(not set)"
    if name == "DefaultNetworkingMode" and isinstance(value, int) and value in MODE_NAMES:
        return f"{value} ({MODE_NAMES[value]})"
    return str(value)


@register_module
class WslPolicyModule(Module):
    name = "wsl_policy"
    Args = WslPolicyArgs
    platforms = ("windows",)
    description = r"HKLM\SOFTWARE\Policies\WSL values (force NAT for every user)"

    async def run(self, ctx: ModuleContext, args: WslPolicyArgs) -> Outcome:
        wanted = args.wanted()
        reply = await ctx.call(ps_step("wsl_policy.read", {"key": KEY, "names": sorted(wanted)}, READ_PS), "wsl_policy.read")
        if reply.get("Error"):
            return Outcome(TaskStatus.failed, f"cannot read {KEY}: {str(reply['Error'])[:300]}")
        raw = reply.get("Values")
        values: dict[str, Any] = raw if isinstance(raw, dict) else {}
        current = {n: _int(values.get(n)) for n in wanted}
        if args.state == "present":
            todo = {n: v for n, v in wanted.items() if current[n] != v}
            remove: list[str] = []
        else:
            todo, remove = {}, [n for n in wanted if current[n] is not None]
        lines = [f"-{KEY}\\{n} = {_show(n, current[n])}\n+{KEY}\\{n} = {_show(n, todo.get(n))}\n"
                 for n in sorted(set(todo) | set(remove))]
        diff = f"--- before: {KEY}\n+++ after: {KEY}\n" + "".join(lines) if lines else None
        summary = ", ".join(f"{n}={_show(n, v)}" for n, v in sorted(wanted.items())) if args.state == "present" \
            else ", ".join(sorted(wanted)) + " removed"
        if not lines:
            return Outcome(TaskStatus.ok, f"policy already in place: {summary}")
        effect = "; applies to every user of this machine at their next WSL start"
        if ctx.check_mode:
            return Outcome(TaskStatus.changed, f"would set policy {summary}{effect}", diff=diff)
        reply = await ctx.call(ps_step("wsl_policy.write", {"key": KEY, "set": todo, "remove": remove}, WRITE_PS),
                               "wsl_policy.write")
        if reply.get("Error") or not reply.get("Written"):
            return Outcome(TaskStatus.failed, f"policy not written: {str(reply.get('Error') or 'no confirmation')[:300]}",
                           diff=diff)
        return Outcome(TaskStatus.changed, f"policy set: {summary}{effect}", diff=diff)


def _int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
