"""What the human-facing reports show, derived from the result model only.

Pure functions over the result model and the verdict catalogue the run recorded (``auditor.outcomes``
decides what needs action): what a host's severity is, which hosts need action first and in what order. The HTML report and the CSV both read these so they never disagree.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from auditor.outcomes import ATTENTION, Catalogue, attention, headline_verdict, verdict_info
from auditor.results import (
    HOST_DOWN_STATUSES,
    CheckStatus,
    HostResult,
    RunResult,
    Severity,
    TaskStatus,
    VerdictFix,
)


CHECK_STATUS_ORDER = {
    CheckStatus.error: 0, CheckStatus.failed: 1, CheckStatus.waived: 2, CheckStatus.passed: 3,
    CheckStatus.skipped: 4, CheckStatus.not_applicable: 5,
}


def failed_check_ids(host: HostResult) -> list[str]:
    """Ids of checks that failed or errored, in run order, without repeats."""
    seen: dict[str, None] = {}
    for check in host.all_checks():
        if check.status in (CheckStatus.failed, CheckStatus.error):
            seen.setdefault(check.id, None)
    return list(seen)


def host_severity(host: HostResult) -> Severity | None:
    """The highest severity among failed or errored checks; None when nothing failed."""
    bad = [c.severity for c in host.all_checks() if c.status in (CheckStatus.failed, CheckStatus.error)]
    return max(bad, key=lambda s: s.rank) if bad else None


def task_counts(host: HostResult) -> dict[str, int]:
    """Remediation tasks per status (every status present, zeros included), in ``TaskStatus`` order."""
    counts = {s.value: 0 for s in TaskStatus}
    for task in host.all_tasks():
        counts[task.status.value] += 1
    return counts


def task_label(status: str, check_mode: bool) -> str:
    """What a task status reads as: in check mode nothing changed, so ``changed`` is 'would change'."""
    return "would change" if check_mode and status == TaskStatus.changed.value else status


def backup_paths(host: HostResult) -> list[str]:
    """Backups the host's remediation tasks made, in task order, without repeats."""
    return list(dict.fromkeys(t.backup_path for t in host.all_tasks() if t.backup_path))


def host_view(host: HostResult, catalogue: Catalogue, fix: VerdictFix | None = None) -> dict[str, Any]:
    """Everything the HTML page shows of one host: its table row and its details (``host_row`` + ``host_details``)."""
    return {**host_row(host, catalogue, fix), **host_details(host)}


def host_row(host: HostResult, catalogue: Catalogue, fix: VerdictFix | None = None) -> dict[str, Any]:
    """The host table's record for one host: what the row shows, filters and sorts by (no checks, no evidence);
    ``fix``: the kind of fix the host is grouped under (``fix_groups``), when it needs action."""
    verdict = headline_verdict(host, catalogue)
    info = verdict_info(verdict.name, catalogue) if verdict else None
    severity = host_severity(host)
    why = attention(host, catalogue)
    return {
        "id": host.id,
        "name": host.name,
        "address": host.address,
        "port": host.port,
        "platform": host.platform,
        "connection": host.connection,
        "groups": host.groups,
        "status": host.status.value,
        "error": host.error,
        "verdict": verdict.name if verdict else "",
        "tone": info.tone if info else ("down" if host.status in HOST_DOWN_STATUSES else "none"),
        "vrank": info.rank if info else 0,
        "confidence": verdict.confidence.value if verdict else "",
        "severity": severity.value if severity else "",
        "srank": severity.rank + 1 if severity else 0,
        "attention": why or "",
        "arank": ATTENTION[why][0] if why else 0,
        "fix": fix.kind if fix else "",
        "failed": failed_check_ids(host),
        "tasks": task_counts(host) if host.all_tasks() else {},
    }


def host_details(host: HostResult) -> dict[str, Any]:
    """What expanding a host shows: each play with its verdict, checks and evidence, tasks in order, collectors;
    how it compared with the previous scan. ``None`` fields are left out. The page orders the checks (worst first)
    and picks the collectors worth a line (error or truncated output)."""
    return host.model_dump(mode="json", include=_DETAIL_INCLUDE, exclude_none=True)


def host_details_json(host: HostResult) -> str:
    """``host_details`` as JSON, serialised in one call (no Python objects in between: 20,000 hosts)."""
    return host.model_dump_json(include=_DETAIL_INCLUDE, exclude_none=True)


_CHECK_FIELDS = {"id", "title", "severity", "status", "message", "evidence", "remediation", "refs", "waiver"}
_TASK_FIELDS = {"name", "module", "status", "message", "check_mode", "diff", "backup_path", "loop_item"}
_DETAIL_INCLUDE: dict[str, Any] = {
    "previous": True,
    "plays": {"__all__": {"play": True, "playbook": True, "error": True, "verdict": True, "collectors": True,
                          "checks": {"__all__": _CHECK_FIELDS}, "tasks": {"__all__": _TASK_FIELDS}}},
}


def _drop_empty(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v not in (None, "", [], {})}


@dataclass(frozen=True)
class Needing:
    """A host that needs action, as much as the page's counts, fix groups and their commands need (no result held:
    a run of 20,000 hosts may have as many)."""

    name: str
    why: str                 # its ``ATTENTION`` key
    verdict: str | None      # its headline verdict's name
    status: str
    vrank: int               # the verdict's catalogue rank (0 without one): worst first within a group
    fix: VerdictFix


def needing(host: HostResult, why: str, run: RunResult) -> Needing:
    verdict = headline_verdict(host, run.verdict_catalogue)
    return Needing(host.name, why, verdict.name if verdict else None, host.status.value,
                   verdict_info(verdict.name, run.verdict_catalogue).rank if verdict else 0, _fix_of(host, why, run))


def needing_order(item: Needing) -> tuple[int, str]:
    """Within a group: worst verdict first, then by name."""
    return (-item.vrank, item.name)


def needing_groups(hosts: Iterable[HostResult], run: RunResult) -> dict[str, list[Needing]]:
    """Hosts that need action as ``Needing`` records, grouped by ``ATTENTION`` key (worst group first), each group
    in ``needing_order``."""
    groups: dict[str, list[Needing]] = {key: [] for key in ATTENTION}
    for host in hosts:
        why = attention(host, run.verdict_catalogue)
        if why:
            groups[why].append(needing(host, why, run))
    for items in groups.values():
        items.sort(key=needing_order)
    return groups


def action_groups(run: RunResult) -> dict[str, list[HostResult]]:
    """Hosts that need action, grouped by ``ATTENTION`` key (worst group first, worst verdict first): the hosts of
    ``needing_groups``."""
    by_name = {h.name: h for h in run.hosts}
    return {key: [by_name[item.name] for item in items] for key, items in needing_groups(run.hosts, run).items()}


# --- The answer first: the headline and the fixes, grouped by kind ---------------------------------------------

#: How the headline counts each ``ATTENTION`` group: (one host, several hosts).
HEADLINE_PHRASES: dict[str, tuple[str, str]] = {
    "conflict": ("conflict confirmed", "conflicts confirmed"),
    "at_risk": ("at risk", "at risk"),
    "not_audited": ("not audited", "not audited"),
    "errors": ("to review", "to review"),
}

#: A remediation run's words where they differ: its hosts were not reached, or a task failed.
REMEDIATION_PHRASES: dict[str, tuple[str, str]] = {
    **HEADLINE_PHRASES, "not_audited": ("not reached", "not reached"), "errors": ("with a failed task", "with a failed task"),
}

#: Hosts named on a command line; a larger group's command reads them from a limit file (``--limit @FILE``), since
#: one argument is capped at 128 KiB on Linux and a command of thousands of names cannot be read anyway.
INLINE_LIMIT = 25

#: Fix kinds of hosts whose verdict names none: not audited, and needs review without a verdict fix.
REAUDIT = VerdictFix(kind="re-audit", title="Audit again once the host answers",
                     note="Check that the host is up and its WinRM/SSH port is reachable (auth failed: the credentials in "
                          "the inventory), then audit these hosts again.")
RERUN = VerdictFix(kind="re-run", title="Run the remediation again on these hosts",
                   note="Read each host's failed task (or why it was not reached), fix the cause, then run it again.")
LOOK = VerdictFix(kind="review", title="Look at the evidence (manual)",
                  note="A check could not be evaluated, a play failed, or checks failed without a verdict: each host's "
                       "details show which, with the evidence.")


def headline(run: RunResult, groups: Mapping[str, Sized] | None = None, total: int | None = None) -> dict[str, Any]:
    """"12 of 50 hosts need action: 4 conflicts confirmed, 8 at risk", from the one needs-action predicate
    (``groups``: ``needing_groups`` when the caller has them already; ``total``: the run's hosts, when
    ``run.hosts`` holds only some of them)."""
    groups = needing_groups(run.hosts, run) if groups is None else groups
    total, need = len(run.hosts) if total is None else total, sum(len(h) for h in groups.values())
    phrases = REMEDIATION_PHRASES if run.kind == "remediation" else HEADLINE_PHRASES
    parts = [(key, len(hosts), phrases[key][len(hosts) != 1]) for key, hosts in groups.items() if hosts]
    if need:
        text = (f"{need} of {total} host{'s' if total != 1 else ''} need{'s' if need == 1 else ''} action: "
                + ", ".join(f"{n} {phrase}" for _, n, phrase in parts))
    else:
        text = f"None of the {total} host{'s' if total != 1 else ''} needs action." if total else "No host was audited."
    return {"text": text, "need": need, "total": total, "parts": parts}


@dataclass
class FixGroup:
    """The hosts that need one kind of fix, and the command that applies it to exactly them (None: manual)."""

    fix: VerdictFix
    hosts: list[str] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)    # verdict name -> hosts (headline verdicts)
    rank: int = 0                                              # the worst host's (attention rank, verdict rank)
    command: list[str] | None = None
    limit_file: str | None = None                              # when the command reads its hosts from a file
    output: str | None = None                                  # the command's report folder (its retry file is there)

    @property
    def retry_file(self) -> str | None:
        return f"{self.output}/last.retry" if self.output else None


def _fix_of(host: HostResult, why: str, run: RunResult) -> VerdictFix:
    verdict = headline_verdict(host, run.verdict_catalogue)
    if run.kind == "remediation":
        return RERUN
    if why == "not_audited":
        return REAUDIT
    info = run.verdict_catalogue.get(verdict.name) if verdict else None
    return info.fix if info is not None and info.fix is not None else LOOK


def fix_groups(run: RunResult, report_dir: str = "reports", limit_file: Callable[[str], str] | None = None,
               groups: dict[str, list[Needing]] | None = None) -> list[FixGroup]:
    """Hosts that need action, grouped by the kind of fix their headline verdict calls for, worst group first, each
    with the exact command that applies the fix to those hosts: ``auditor remediate PLAYBOOK -i INVENTORY --limit
    HOSTS [options] -o REPORT_DIR/<kind>`` (remediate writes the hosts it could not fix to ``<that folder>/last.retry``);
    ``auditor run`` again for hosts not audited. ``limit_file(kind)`` names the file a group of more than
    ``INLINE_LIMIT`` hosts is read from (the HTML writer writes it next to the report); without it, names go inline."""
    by_kind: dict[str, FixGroup] = {}
    for key, items in (needing_groups(run.hosts, run) if groups is None else groups).items():
        for item in items:
            group = by_kind.setdefault(item.fix.kind, FixGroup(item.fix))
            group.hosts.append(item.name)
            name = item.verdict or item.status
            group.verdicts[name] = group.verdicts.get(name, 0) + 1
            group.rank = max(group.rank, ATTENTION[key][0] * 1000 + item.vrank)
    ordered = sorted(by_kind.values(), key=lambda g: (-g.rank, g.fix.kind))
    for group in ordered:
        _command(group, run, report_dir, limit_file)
    return ordered


def _command(group: FixGroup, run: RunResult, report_dir: str, limit_file: Callable[[str], str] | None) -> None:
    playbooks = [p.path for p in run.playbooks]
    fix = group.fix
    if fix is REAUDIT:
        head = ["auditor", "run", *playbooks]
    elif fix is RERUN:
        head = ["auditor", "remediate", *playbooks]
    elif fix.playbook and playbooks:
        # next to the audit playbooks, written as the run was given them (relative stays relative)
        head = ["auditor", "remediate", str(PurePath(playbooks[0]).parent / fix.playbook)]
    else:
        return   # a manual fix: no command
    inventory = [a for source in run.inventory_sources for a in ("-i", source)]
    if len(group.hosts) > INLINE_LIMIT and limit_file is not None:
        group.limit_file = limit_file(fix.kind)
        limit = "@" + group.limit_file
    else:
        limit = ",".join(group.hosts)
    tail: list[str] = []
    if fix is not REAUDIT:
        group.output = f"{report_dir.rstrip('/') or '.'}/{fix.kind}"
        tail = [*fix.options, "-o", group.output]
    group.command = [*head, *inventory, "--limit", limit, *tail]


def shell_line(argv: list[str]) -> str:
    """The command as one line to paste into a POSIX shell."""
    return shlex.join(argv)
