"""The result model: what a run produces, and the one thing reports read.

The JSON report is ``RunResult.model_dump_json()``; its JSON Schema is ``RunResult.model_json_schema()``
(``auditor schema``). Bump ``SCHEMA_VERSION`` on any incompatible change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = "2.1"


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
    waived = "waived"                  # an active waiver covers it: the result is kept in `waiver.status`


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


class WaiverNote(_Model):
    """A waiver that applied to a check (active: the check is ``waived``; expired: the result counts again)."""

    state: Literal["active", "expired"]
    status: CheckStatus = Field(description="the check's own result, before the waiver")
    justification: str
    expiration_date: date | None = None
    approver: str | None = None
    message: str = Field(description="e.g. 'waived (until 2027-03-01): ...' or 'waiver expired on 2027-03-01'")


class CheckResult(_Model):
    id: str
    key: str = Field(default="", description="unique across the run: <playbook id>/<play>/<check id>")
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
    waiver: WaiverNote | None = None


Tone = Literal["conflict", "risk", "review", "ok", "info"]


class VerdictFix(_Model):
    """The kind of fix a verdict calls for: reports group the hosts that need action by it."""

    kind: str = Field(description="stable key, e.g. 'revert-nat'; verdicts with the same kind share one fix")
    title: str = Field(description="what the fix does, for people, e.g. 'Revert WSL to NAT networking'")
    playbook: str | None = Field(default=None, description="remediation playbook file name, next to the audit "
                                 "playbooks (None: a manual fix)")
    options: list[str] = Field(default_factory=list, description="extra `auditor remediate` options, e.g. --enable restart")
    note: str = Field(default="", description="what the playbook changes and where it acts, or the manual steps")


class VerdictInfo(_Model):
    """What a verdict name means, registered by the domain that produces it and recorded in the run."""

    label: str = Field(description="human label, e.g. 'Conflict confirmed'")
    tone: Tone
    rank: int = Field(description="higher is worse; picks a host's headline verdict")
    meaning: str
    needs_action: bool = Field(description="a host with this verdict needs someone to act")
    fix: VerdictFix | None = Field(default=None, description="the kind of fix hosts with this verdict need")


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
    playbook_id: str = ""
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


class PreviousScan(_Model):
    """How this host compared with the previous complete scan of the same playbooks."""

    run_id: str
    change: str = Field(description="regressed | fixed | changed | new | gone | unchanged | unreachable")
    verdict: str | None = None
    status: str | None = None


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
    previous: PreviousScan | None = Field(default=None, description="since the previous scan (history store on)")

    def all_tasks(self) -> list[TaskResult]:
        return [t for p in self.plays for t in p.tasks]

    def all_checks(self) -> list[CheckResult]:
        return [c for p in self.plays for c in p.checks]

    def verdicts(self) -> list[Verdict]:
        return [p.verdict for p in self.plays if p.verdict is not None]

    def slim(self) -> "HostResult":
        """What a run keeps of a finished host when its full result went to disk (the history store): outcome,
        error, verdicts and the checks and tasks that failed (no evidence, facts or messages). Enough for the exit
        code, the recap and the retry file; a few hundred bytes instead of tens of kilobytes."""
        keep = (CheckStatus.failed, CheckStatus.error, CheckStatus.waived)
        plays = [p.model_copy(update={
            "checks": [c.model_copy(update={"evidence": {}, "message": "", "description": "", "remediation": None})
                       for c in p.checks if c.status in keep],
            "tasks": [t for t in p.tasks if t.status is TaskStatus.failed],
            "collectors": [], "facts": None,
        }) for p in self.plays]
        return self.model_copy(update={"plays": plays})


class RunSummary(_Model):
    hosts: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    by_verdict: dict[str, int] = Field(default_factory=dict)
    checks: dict[str, int] = Field(default_factory=dict)
    tasks: dict[str, int] = Field(default_factory=dict)

    def add(self, host: "HostResult") -> None:
        """Count one more host (a run that keeps no results counts each as it finishes)."""
        self.hosts += 1
        self.by_status[host.status.value] = self.by_status.get(host.status.value, 0) + 1
        for verdict in host.verdicts():
            self.by_verdict[verdict.name] = self.by_verdict.get(verdict.name, 0) + 1
        for check in host.all_checks():
            self.checks[check.status.value] = self.checks.get(check.status.value, 0) + 1
        for task in host.all_tasks():
            self.tasks[task.status.value] = self.tasks.get(task.status.value, 0) + 1


class PlaybookRef(_Model):
    path: str
    id: str = Field(description="stable short name used in check keys")
    sha256: str | None = Field(default=None, description="digest of the playbook file's bytes (None in 1.x reports)")


class RunOptionsRecord(_Model):
    """The options a run was made with (never a secret)."""

    forks: int | None = None
    connect_timeout: float | None = Field(default=None, description="explicit --connect-timeout (None: per host)")
    command_timeout: float | None = None
    host_deadline: float | None = None
    enabled: list[str] = Field(default_factory=list)
    include_facts: bool = False
    workers: int | None = None
    worker_peak_rss_mb: list[float] = Field(default_factory=list)
    check_mode: bool | None = Field(default=None, description="remediation runs only")
    check_ids: list[str] | None = Field(default=None, description="--check-id: only these checks were evaluated")


RunKind = Literal["audit", "remediation"]


class TrendPoint(_Model):
    run_id: str
    started: datetime
    hosts: int
    by_verdict: dict[str, int] = Field(default_factory=dict)
    by_status: dict[str, int] = Field(default_factory=dict)


class WaiverInForce(_Model):
    check: str = Field(description="check id or key as written in the waiver file")
    hosts: str
    justification: str
    expiration_date: date | None = None
    approver: str | None = None
    expiring_soon: bool = Field(description="expires within 14 days")


class RunHistory(_Model):
    """What the history store adds to a run's reports."""

    previous_run_id: str | None = None
    previous_started: datetime | None = None
    changes: dict[str, int] = Field(default_factory=dict, description="hosts per change class since the previous scan")
    trend: list[TrendPoint] = Field(default_factory=list, description="verdict counts of the last scans, oldest first")
    store: str | None = Field(default=None, description="where the run is recorded (URL without password)")


class RunResult(_Model):
    schema_version: str = SCHEMA_VERSION
    run_id: str
    kind: RunKind = "audit"
    auditor_version: str
    started: datetime
    finished: datetime | None = None
    playbooks: list[PlaybookRef] = Field(default_factory=list)
    inventory_sources: list[str] = Field(default_factory=list)
    limit: str | None = None
    options: RunOptionsRecord = Field(default_factory=RunOptionsRecord)
    interrupted: bool = False
    stop_reason: str | None = Field(default=None, description="why the run stopped early (interrupt, critical sink)")
    verdict_catalogue: dict[str, VerdictInfo] = Field(default_factory=dict, description="meaning of each verdict used")
    waivers: list[WaiverInForce] = Field(default_factory=list, description="waivers in force for this run")
    history: RunHistory | None = None
    hosts: list[HostResult] = Field(default_factory=list)
    summary: RunSummary = Field(default_factory=RunSummary)

    @model_validator(mode="before")
    @classmethod
    def _upgrade_1x(cls, data: Any) -> Any:
        """Reports of schema 1.x still load: playbooks were paths, options a free dict, ``pattern`` unused."""
        if not isinstance(data, dict) or str(data.get("schema_version", SCHEMA_VERSION)).startswith("2"):
            return data
        data = dict(data)
        data.pop("pattern", None)
        data["playbooks"] = [
            p if isinstance(p, dict) else {"path": str(p), "id": PurePath(str(p)).stem, "sha256": None}
            for p in data.get("playbooks") or []
        ]
        known = set(RunOptionsRecord.model_fields)
        data["options"] = {k: v for k, v in (data.get("options") or {}).items() if k in known}
        return data

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
        summary = RunSummary()
        for host in self.hosts:
            summary.add(host)
        self.summary = summary
        return summary


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
