"""What a remediation module is, and the registry the schema and executor look modules up in.

A module turns validated arguments into at most a few round trips: read the remote state, decide
(purely, here in Python), and write only when something differs and check mode is off. Every
module must be idempotent: run twice, the second run reports ``ok``.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from auditor.collectors.batch import BatchItem, Section, build_batch, new_nonce, split_batch_output
from auditor.plugins import Registry
from auditor.remediate.wire import ReplyError, read_reply
from auditor.results import TaskStatus
from auditor.transports.base import ExecResult, Transport

STEP_SECTION = "step"


class ModuleArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class ModuleContext:
    transport: Transport
    platform: str  # the host platform: windows or linux
    check_mode: bool
    timeout: float
    host: str
    stamp: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))

    async def execute(self, script: str) -> Section:
        """Run one script framed like a collector batch (one item), so a banner, a profile script or a
        forged marker cannot be mistaken for its output; the section carries the script's own rc."""
        nonce = new_nonce()
        batch = build_batch(self.transport.shell, [BatchItem(STEP_SECTION, script, int(max(1, self.timeout)))], nonce)
        result = await self.transport.run(batch, timeout=self.timeout)
        section = split_batch_output(result.stdout, result.stderr, nonce, [STEP_SECTION])[STEP_SECTION]
        if not section.complete:
            raise ReplyError("the host's answer was cut off or malformed (no complete output section)"
                             + (" - output limit reached" if result.truncated else ""))
        return section

    async def call(self, script: str, step: str) -> dict[str, Any]:
        """Run one step and return its JSON reply (ReplyError when there is none)."""
        section = await self.execute(script)
        return read_reply(ExecResult(section.stdout, section.stderr, section.rc), step)


@dataclass
class Outcome:
    status: TaskStatus
    message: str = ""
    diff: str | None = None
    backup_path: str | None = None
    data: dict[str, Any] = field(default_factory=dict)   # what `register` exposes besides status/message

    @property
    def changed(self) -> bool:
        return self.status is TaskStatus.changed

    @property
    def failed(self) -> bool:
        return self.status is TaskStatus.failed


class Module(abc.ABC):
    """Subclass, set ``name``, ``Args`` and ``platforms``, implement ``run``."""

    name: ClassVar[str]
    Args: ClassVar[type[ModuleArgs]]
    platforms: ClassVar[tuple[str, ...]] = ("windows", "linux")
    opt_in: ClassVar[str | None] = None   # e.g. "restart": skipped unless `--enable restart`
    free_form: ClassVar[str | None] = None  # `shell: "ls"` means `shell: {cmd: "ls"}` when set to "cmd"
    description: ClassVar[str] = ""

    @abc.abstractmethod
    async def run(self, ctx: ModuleContext, args: Any) -> Outcome:
        """Do (or in check mode, compute) the change; must be idempotent."""


MODULES: Registry[Module] = Registry("remediation module")


def register_module(cls: type[Module]) -> type[Module]:
    MODULES.add(cls.name, cls())
    return cls


def get_module(name: str) -> Module | None:
    return MODULES.get(name)


def known_modules() -> list[str]:
    return MODULES.names()


def elapsed_ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
