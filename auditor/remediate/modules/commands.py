"""``powershell``, ``command``, ``shell`` (with ``creates`` / ``removes``) and ``debug``.

A command cannot say in advance what it would change, so in check mode it is skipped, unless
``creates``/``removes`` already decide that it would not run (then it is ``ok``, as on a real run).
``command`` runs one program with its arguments taken literally (no pipes, redirections or variables);
``shell`` hands the text to the host's shell (sh, or PowerShell on Windows); ``powershell`` is Windows only.
A command that ran is ``changed`` unless ``changed_when`` says otherwise; rc != 0 is ``failed``.
"""

from __future__ import annotations

import abc
import shlex
from typing import Any

from pydantic import model_validator

from auditor.parsers.decode import decode_output
from auditor.remediate.modules.base import Module, ModuleArgs, ModuleContext, Outcome, register_module
from auditor.remediate.wire import ps_step, sh_step
from auditor.results import TaskStatus

MAX_KEPT_OUTPUT = 64 * 1024
#: the message of a command skipped in check mode (the preview counts such hosts as "may change")
CHECK_SKIP = "check mode: a command's effect cannot be predicted, it was not run"

EXISTS_PS = r"""
$r = [ordered]@{ Exists = [bool](Test-Path -LiteralPath $A.path) }
ConvertTo-Json -InputObject $r -Compress
"""


def _exists_sh(path: str) -> str:
    q = shlex.quote(path)
    return f"""if [ -e {q} ]; then echo '{{"Exists":true}}'; else echo '{{"Exists":false}}'; fi"""


class CommandArgs(ModuleArgs):
    cmd: str
    creates: str | None = None
    removes: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "CommandArgs":
        if not self.cmd.strip():
            raise ValueError("the command is empty")
        return self


def _ps_quote(word: str) -> str:
    return "'" + word.replace("'", "''") + "'"


class _Runner(Module):
    """Shared by the command-like modules: creates/removes, check mode, run, outcome."""

    free_form = "cmd"

    @abc.abstractmethod
    def body(self, ctx: ModuleContext, args: CommandArgs) -> str:
        """The script this module runs for ``args``."""

    async def _exists(self, ctx: ModuleContext, path: str) -> bool:
        if ctx.platform == "windows":
            reply = await ctx.call(ps_step("path.exists", {"path": path}, EXISTS_PS), "path.exists")
        else:
            reply = await ctx.call(sh_step("path.exists", {"path": path}, _exists_sh(path)), "path.exists")
        return bool(reply.get("Exists"))

    async def run(self, ctx: ModuleContext, args: CommandArgs) -> Outcome:
        if args.creates and await self._exists(ctx, args.creates):
            return Outcome(TaskStatus.ok, f"not run: {args.creates} exists (creates)")
        if args.removes and not await self._exists(ctx, args.removes):
            return Outcome(TaskStatus.ok, f"not run: {args.removes} does not exist (removes)")
        if ctx.check_mode:
            return Outcome(TaskStatus.skipped, CHECK_SKIP)
        build = ps_step if ctx.platform == "windows" else sh_step
        section = await ctx.execute(build(f"{self.name}.run", {"cmd": args.cmd}, self.body(ctx, args)))
        stdout = decode_output(section.stdout[:MAX_KEPT_OUTPUT])
        stderr = decode_output(section.stderr[:MAX_KEPT_OUTPUT])
        rc = section.rc
        data: dict[str, Any] = {"rc": rc, "stdout": stdout, "stderr": stderr,
                                "stdout_lines": stdout.splitlines()[:1000]}
        first = next((ln.strip() for ln in (stdout if rc == 0 else stderr or stdout).splitlines() if ln.strip()), "")
        detail = f": {first[:200]}" if first else ""
        if rc != 0:
            return Outcome(TaskStatus.failed, f"rc={rc}{detail}", data=data)
        return Outcome(TaskStatus.changed, f"rc=0{detail}", data=data)


@register_module
class CommandModule(_Runner):
    name = "command"
    Args = CommandArgs
    description = "run one program; arguments are literal (no shell)"

    def body(self, ctx: ModuleContext, args: CommandArgs) -> str:
        try:
            argv = shlex.split(args.cmd, posix=True)
        except ValueError as exc:
            raise ValueError(f"cannot split the command: {exc}") from None
        if ctx.platform == "windows":
            return "& " + " ".join(_ps_quote(w) for w in argv)
        return " ".join(shlex.quote(w) for w in argv)


@register_module
class ShellModule(_Runner):
    name = "shell"
    Args = CommandArgs
    description = "run a command line through the host's shell (sh; PowerShell on Windows)"

    def body(self, ctx: ModuleContext, args: CommandArgs) -> str:
        return args.cmd


@register_module
class PowershellModule(_Runner):
    name = "powershell"
    Args = CommandArgs
    platforms = ("windows",)
    description = "run a Windows PowerShell 5.1 script"

    def body(self, ctx: ModuleContext, args: CommandArgs) -> str:
        return args.cmd


class DebugArgs(ModuleArgs):
    msg: str


@register_module
class DebugModule(Module):
    """Report a message, change nothing (manual steps, e.g. moving an edge node to Docker Engine)."""

    name = "debug"
    Args = DebugArgs
    free_form = "msg"
    description = "report a message; changes nothing"

    async def run(self, ctx: ModuleContext, args: DebugArgs) -> Outcome:
        return Outcome(TaskStatus.ok, args.msg)
