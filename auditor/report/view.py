"""What the human-facing reports show, derived from the result model only.

Pure functions over the result model and the verdict catalogue the run recorded (``auditor.outcomes``
decides what needs action): what a host's severity is, which hosts need action first and in what order. The HTML report and the CSV both read these so they never disagree.
"""

from __future__ import annotations

from typing import Any

from auditor.outcomes import ATTENTION, Catalogue, attention, headline_verdict, verdict_info
from auditor.results import (
    HOST_DOWN_STATUSES,
    CheckStatus,
    HostResult,
    RunResult,
    Severity,
    TaskStatus,
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


def host_view(host: HostResult, catalogue: Catalogue) -> dict[str, Any]:
    """The JSON-ready record the HTML page's script renders for one host (only what it shows)."""
    verdict = headline_verdict(host, catalogue)
    info = verdict_info(verdict.name, catalogue) if verdict else None
    severity = host_severity(host)
    why = attention(host, catalogue)
    plays = []
    for play in host.plays:
        checks = sorted(play.checks, key=lambda c: (CHECK_STATUS_ORDER[c.status], -c.severity.rank))
        plays.append({
            "play": play.play,
            "playbook": play.playbook,
            "error": play.error,
            "verdict": play.verdict.model_dump(mode="json") if play.verdict else None,
            "checks": [
                _drop_empty(c.model_dump(mode="json", include={
                    "id", "title", "severity", "status", "message", "evidence", "remediation", "refs", "waiver",
                }))
                for c in checks
            ],
            "collectors": [c.model_dump(mode="json") for c in play.collectors if c.error or c.truncated],
            # remediation tasks, in the order they ran
            "tasks": [_drop_empty(t.model_dump(mode="json", exclude={"duration_ms"})) for t in play.tasks],
        })
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
        "failed": failed_check_ids(host),
        "tasks": task_counts(host) if host.all_tasks() else {},
        "total_ms": host.timings.total_ms,
        "plays": plays,
        "previous": host.previous.model_dump(mode="json") if host.previous else None,
    }


def _drop_empty(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v not in (None, "", [], {})}


def action_groups(run: RunResult) -> dict[str, list[HostResult]]:
    """Hosts that need action, grouped by ``ATTENTION`` key (worst group first, worst verdict first)."""
    catalogue = run.verdict_catalogue
    groups: dict[str, list[HostResult]] = {key: [] for key in ATTENTION}
    for host in run.hosts:
        why = attention(host, catalogue)
        if why:
            groups[why].append(host)

    def rank(host: HostResult) -> int:
        verdict = headline_verdict(host, catalogue)
        return verdict_info(verdict.name, catalogue).rank if verdict else 0

    for hosts in groups.values():
        hosts.sort(key=lambda h: (-rank(h), h.name))
    return groups
