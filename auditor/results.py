"""The result model: what a run produces, and the one thing reports read.

The JSON report is ``RunResult.model_dump_json()``; its JSON Schema is ``RunResult.model_json_schema()``
(``auditor schema``). Bump ``SCHEMA_VERSION`` on any incompatible change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.1"


class Severity(str, Enum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self.value]


_SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


class CheckStatus(str, Enum):
    passed = "passed"
    failed = "failed"
    error = "error"                    # the check could not be evaluated (missing fact, broken expression)
    skipped = "skipped"                # `when` was false, or the check was filtered out / not opted in
    not_applicable = "not_applicable"  # `applies_if` was false: the check has no meaning on this host


class HostStatus(str, Enum):
    ok = "ok"                    # reached, every check passed / skipped / not applicable
    failed = "failed"            # reached, at least one check failed or errored
    unreachable = "unreachable"  # no connection (refused, no route, DNS, TLS, host key)
    auth_failed = "auth_failed"  # connected, credentials rejected
    timed_out = "timed_out"      # connect timeout, command timeout or host deadline hit
    error = "error"              # anything else that stopped the host (garbage output, protocol error)


#: Host outcomes in which the host's checks could not all run.
HOST_DOWN_STATUSES = frozenset({HostStatus.unreachable, HostStatus.auth_failed, HostStatus.timed_out, HostStatus.error})


class Confidence(str, Enum):
    high = "high"
    medium = "medium"
    low = "low"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class CheckResult(_Model):
    id: str
    title: str
    severity: Severity
    status: CheckStatus
    message: str = ""
    description: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    remediation: str | None = None
    tags: list[str] = Field(default_factory=list)
    refs: list[str] = Field(default_factory=list)
    duration_ms: float = 0.0


class Verdict(_Model):
    name: str
    confidence: Confidence
    decided_by: list[str] = Field(default_factory=list, description="check ids that decided the verdict")
    summary: str = ""
    remediation: list[str] = Field(default_factory=list, description="ordered remediation steps")
    notes: list[str] = Field(default_factory=list, description="caveats, e.g. rules that rest on inference")


class TaskStatus(str, Enum):
    ok = "ok"            # already in the desired state: nothing to do
    changed = "changed"  # changed the host (or, in check mode, would change it)
    failed = "failed"
    skipped = "skipped"  # `when` false, opt-in not given, or an earlier task failed


class TaskResult(_Model):
    """One remediation task on one host (`auditor remediate`)."""

    name: str
    module: str
    status: TaskStatus
    message: str = ""
    check_mode: bool = False
    diff: str | None = Field(default=None, description="unified diff of what changed (or would change)")
    backup_path: str | None = None
    loop_item: str | None = None
    duration_ms: float = 0.0


class CollectorResult(_Model):
    name: str
    rc: int | None = None
    duration_ms: float = 0.0
    stdout_bytes: int = 0
    truncated: bool = False
    error: str | None = None


class PlayResult(_Model):
    play: str
    playbook: str
    platform: str
    checks: list[CheckResult] = Field(default_factory=list)
    tasks: list[TaskResult] = Field(default_factory=list)
    verdict: Verdict | None = None
    collectors: list[CollectorResult] = Field(default_factory=list)
    facts: dict[str, Any] | None = Field(default=None, description="present only with --include-facts")
    error: str | None = None


class Timings(_Model):
    connect_ms: float = 0.0
    gather_ms: float = 0.0
    checks_ms: float = 0.0
    total_ms: float = 0.0


class HostResult(_Model):
    id: str = Field(description="stable host id: the inventory name")
    name: str
    address: str
    port: int | None = None
    connection: str
    platform: str
    groups: list[str] = Field(default_factory=list)
    status: HostStatus
    error: str | None = None
    started: datetime
    finished: datetime
    timings: Timings = Field(default_factory=Timings)
    plays: list[PlayResult] = Field(default_factory=list)

    def all_tasks(self) -> list[TaskResult]:
        return [t for p in self.plays for t in p.tasks]

    def all_checks(self) -> list[CheckResult]:
        return [c for p in self.plays for c in p.checks]

    def verdicts(self) -> list[Verdict]:
        return [p.verdict for p in self.plays if p.verdict is not None]


class RunSummary(_Model):
    hosts: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    by_verdict: dict[str, int] = Field(default_factory=dict)
    checks: dict[str, int] = Field(default_factory=dict)
    tasks: dict[str, int] = Field(default_factory=dict)


class RunResult(_Model):
    schema_version: str = SCHEMA_VERSION
    run_id: str
    kind: str = Field(default="audit", description="audit or remediation")
    auditor_version: str
    started: datetime
    finished: datetime | None = None
    playbooks: list[str] = Field(default_factory=list)
    inventory_sources: list[str] = Field(default_factory=list)
    pattern: str | None = None
    limit: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    interrupted: bool = False
    hosts: list[HostResult] = Field(default_factory=list)
    summary: RunSummary = Field(default_factory=RunSummary)

    def __repr_args__(self) -> Iterator[tuple[str, Any]]:
        """A summary, not the tree (repr, str and rich all read this). asyncio.run() formats the repr of
        the main task, which holds this result, when it restores the SIGINT handler: the full repr of
        every host cost ~3% of an audit's CPU at 500 hosts, growing with the fleet."""
        yield "run_id", self.run_id
        yield "kind", self.kind
        yield "hosts", len(self.hosts)
        yield "by_status", self.summary.by_status
        yield "interrupted", self.interrupted

    def compute_summary(self) -> RunSummary:
        summary = RunSummary(hosts=len(self.hosts))
        for host in self.hosts:
            summary.by_status[host.status.value] = summary.by_status.get(host.status.value, 0) + 1
            for verdict in host.verdicts():
                summary.by_verdict[verdict.name] = summary.by_verdict.get(verdict.name, 0) + 1
            for check in host.all_checks():
                summary.checks[check.status.value] = summary.checks.get(check.status.value, 0) + 1
            for task in host.all_tasks():
                summary.tasks[task.status.value] = summary.tasks.get(task.status.value, 0) + 1
        self.summary = summary
        return summary


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
