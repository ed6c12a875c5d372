"""``wsl_restart`` and ``docker_desktop_restart``: restart the developer's WSL VM / Docker Desktop (opt-in).

WSL runs one VM per Windows user (docs/research/domain.md section 0): ``wsl --shutdown`` run by the WinRM administrator
stops only the administrator's own session and never touches the developer's VM. So both modules run the
command AS the profile's owner, through a one-shot scheduled task (interactive logon: the user must be logged
on), wait for it, and always unregister it. Both interrupt the developer, so both are opt-in
(``--enable restart``) and, by default, only act when a restart is pending: the process to restart is
running and started before the user's `.wslconfig` last changed. Run again, they report ``ok``.
"""

from __future__ import annotations

import abc
import base64
import re
from datetime import datetime, timezone
from typing import ClassVar

from pydantic import model_validator

from auditor.mirrored.versions import older_than
from auditor.remediate.modules.base import Module, ModuleArgs, ModuleContext, Outcome, register_module
from auditor.remediate.wire import ps_step
from auditor.results import TaskStatus

ADMIN_NOTE = ("The administrator's own `wsl --shutdown` over WinRM would only stop the administrator's WSL session, "
              "not this user's VM (one VM per user).")

STATE_PS = r"""
$ErrorActionPreference = 'Stop'
$r = [ordered]@{ Running = $false; StartUtc = $null; ConfigWriteUtc = $null; LoggedOn = $false; Error = $null }
try {
  $procs = @(Get-Process -IncludeUserName -ErrorAction SilentlyContinue)
  $r.LoggedOn = [bool]($procs | Where-Object { $_.Name -eq 'explorer' -and $_.UserName -eq $A.user })
  # vmmemWSL carries no user name of its own: on a developer machine it is the logged-on developer's VM
  $mine = @($procs | Where-Object { $A.names -contains $_.Name -and ($A.any_owner -or $_.UserName -eq $A.user) })
  if ($mine.Count -gt 0) {
    $r.Running = $true
    $r.StartUtc = (($mine | Sort-Object StartTime | Select-Object -First 1).StartTime).ToUniversalTime().ToString('o')
  }
  if ($A.config -and (Test-Path -LiteralPath $A.config -PathType Leaf)) {
    $r.ConfigWriteUtc = (Get-Item -LiteralPath $A.config).LastWriteTimeUtc.ToString('o')
  }
} catch { $r.Error = $_.Exception.Message }
ConvertTo-Json -InputObject $r -Compress
"""

RUN_AS_USER_PS = r"""
$ErrorActionPreference = 'Stop'
$r = [ordered]@{ Ran = $false; TaskName = $A.task; TaskResult = $null; TaskRemoved = $null; Error = $null }
try {
  $action = New-ScheduledTaskAction -Execute $A.execute -Argument $A.arguments
  $principal = New-ScheduledTaskPrincipal -UserId $A.user -LogonType Interactive -RunLevel Limited
  $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Seconds $A.wait) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
  Register-ScheduledTask -TaskName $A.task -Action $action -Principal $principal -Settings $settings -Force | Out-Null
  Start-ScheduledTask -TaskName $A.task
  $deadline = (Get-Date).AddSeconds($A.wait)
  do { Start-Sleep -Milliseconds 500; $st = (Get-ScheduledTask -TaskName $A.task -ErrorAction SilentlyContinue).State }
  while ((("$st" -eq 'Running') -or ("$st" -eq '4')) -and ((Get-Date) -lt $deadline))
  $r.TaskResult = (Get-ScheduledTaskInfo -TaskName $A.task -ErrorAction SilentlyContinue).LastTaskResult
  $r.Ran = $true
} catch { $r.Error = $_.Exception.Message }
finally {
  try { Unregister-ScheduledTask -TaskName $A.task -Confirm:$false -ErrorAction Stop; $r.TaskRemoved = $true } catch { $r.TaskRemoved = $false }
}
ConvertTo-Json -InputObject $r -Compress
"""


# Docker Desktop before 4.37 has no `docker desktop restart`: quit it (the user's own processes) and start it again.
# Run as the user through the scheduled task, as -EncodedCommand (no quoting through the task's argument string).
DD_QUIT_START_PS = r"""
$ErrorActionPreference = 'Stop'
$exe = '{exe}'
Get-Process -Name 'Docker Desktop' -ErrorAction SilentlyContinue | Stop-Process -Force
$deadline = (Get-Date).AddSeconds(60)
while ((Get-Process -Name 'com.docker.backend' -ErrorAction SilentlyContinue) -and ((Get-Date) -lt $deadline)) { Start-Sleep -Milliseconds 500 }
Start-Process -FilePath $exe
"""
DD_CLI_RESTART = "4.37"   # first Docker Desktop with `docker desktop restart` (Docker Desktop CLI)


class RestartArgs(ModuleArgs):
    user: str                          # DOMAIN\user, the profile's owner
    config: str | None = None          # that user's .wslconfig: changed after the start = restart pending
    config_changed: bool = False       # an earlier task changed (or, in check mode, would change) it
    only_if_pending: bool = True
    wait: int = 90                     # seconds the task may run
    version: str | None = None         # docker_desktop_restart: Docker Desktop's version (4.37+ has `docker desktop restart`)
    install_location: str | None = None  # docker_desktop_restart: where Docker Desktop is installed

    @model_validator(mode="after")
    def _check(self) -> "RestartArgs":
        if "\\" not in self.user or any(c in self.user for c in "\"'\r\n"):
            raise ValueError(f"user must look like DOMAIN\\name, got {self.user!r}")
        if not 5 <= self.wait <= 600:
            raise ValueError("wait must be between 5 and 600 seconds")
        if self.install_location is not None and any(c in self.install_location for c in "'\"\r\n`$"):
            raise ValueError(f"install_location must be a plain path, got {self.install_location!r}")
        return self


class _UserRestart(Module):
    note: ClassVar[str] = ADMIN_NOTE
    platforms = ("windows",)
    opt_in = "restart"
    step: ClassVar[str]
    processes: ClassVar[list[str]]
    any_owner: ClassVar[bool]
    what: ClassVar[str]
    Args = RestartArgs

    @abc.abstractmethod
    def command(self, args: RestartArgs) -> tuple[str, str]:
        """(program, arguments) to run as the profile's owner."""

    async def run(self, ctx: ModuleContext, args: RestartArgs) -> Outcome:
        state = await ctx.call(ps_step(f"{self.step}.state", {"user": args.user, "names": self.processes,
                                                             "any_owner": self.any_owner, "config": args.config},
                                       STATE_PS), f"{self.step}.state")
        if state.get("Error"):
            return Outcome(TaskStatus.failed, f"cannot read {self.what} state: {str(state['Error'])[:300]}")
        if not state.get("Running"):
            return Outcome(TaskStatus.ok, f"{self.what} of {args.user} is not running: the new settings apply at its next start")
        started, written = _time(state.get("StartUtc")), _time(state.get("ConfigWriteUtc"))
        pending = args.config_changed or bool(started and written and written > started)
        if args.only_if_pending and not pending:
            return Outcome(TaskStatus.ok, f"{self.what} of {args.user} started after the last .wslconfig change: no restart needed")
        if not state.get("LoggedOn"):
            return Outcome(TaskStatus.failed, f"{args.user} is not logged on interactively: the scheduled task cannot run "
                                              f"in their session; ask the user to restart {self.what}. {self.note}")
        if ctx.check_mode:
            return Outcome(TaskStatus.changed, f"would restart {self.what} of {args.user} through a one-shot scheduled task "
                                               f"in that user's context. {self.note}")
        execute, arguments = self.command(args)
        task = f"auditor-{self.step.replace('_', '-')}-{ctx.stamp.lower()}"
        reply = await ctx.call(ps_step(f"{self.step}.run", {"user": args.user, "task": task, "execute": execute,
                                                           "arguments": arguments, "wait": args.wait},
                                       RUN_AS_USER_PS), f"{self.step}.run")
        removed = "task removed" if reply.get("TaskRemoved") else "WARNING: the task could not be removed"
        if reply.get("Error") or not reply.get("Ran"):
            return Outcome(TaskStatus.failed, f"{self.what} of {args.user} NOT restarted: "
                                              f"{str(reply.get('Error') or 'the task did not run')[:300]} ({removed})")
        rc = reply.get("TaskResult")
        if rc not in (0, None):
            return Outcome(TaskStatus.failed, f"the restart task for {args.user} ended with {rc} ({removed})")
        return Outcome(TaskStatus.changed, f"restarted {self.what} of {args.user} through the one-shot scheduled task "
                                           f"{task} in that user's context ({removed}). {self.note}",
                       data={"task": task})


@register_module
class WslRestartModule(_UserRestart):
    name = "wsl_restart"
    step = "wsl_restart"
    processes = ["vmmemWSL", "vmmem"]
    any_owner = True
    what = "the WSL VM"
    description = "wsl --shutdown as the profile's owner (opt-in: --enable restart)"

    def command(self, args: RestartArgs) -> tuple[str, str]:
        return "wsl.exe", "--shutdown"


@register_module
class DockerDesktopRestartModule(_UserRestart):
    name = "docker_desktop_restart"
    step = "docker_desktop_restart"
    processes = ["com.docker.backend", "Docker Desktop"]
    any_owner = False
    what = "Docker Desktop"
    note = "Run as the administrator, it would start a second Docker Desktop in the administrator's session instead."
    description = ("docker desktop restart (4.37+; older: quit and start Docker Desktop) as the profile's owner "
                   "(opt-in: --enable restart)")

    def command(self, args: RestartArgs) -> tuple[str, str]:
        loc = (args.install_location or "C:\\Program Files\\Docker\\Docker").rstrip("\\")
        if args.version and older_than(args.version, DD_CLI_RESTART) is False:
            return f"{loc}\\resources\\bin\\docker.exe", "desktop restart"
        script = DD_QUIT_START_PS.replace("{exe}", f"{loc}\\Docker Desktop.exe")
        encoded = base64.b64encode(script.encode("utf-16-le")).decode()
        return "powershell.exe", f"-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {encoded}"


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?", value)
    if not m:
        return None
    # PowerShell's 'o' format has 7 fractional digits; Python takes at most 6
    return datetime.fromisoformat(m.group(1) + "." + (m.group(2) or "0")[:6].ljust(6, "0")).replace(tzinfo=timezone.utc)
