"""What the human-facing reports show, derived from the result model only.

Pure functions: which verdict is worst, what a host's headline verdict and severity are, which hosts need
action first and in what order. The HTML report and the CSV both read these so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.results import (
    HOST_DOWN_STATUSES,
    CheckStatus,
    HostResult,
    HostStatus,
    RunResult,
    Severity,
    TaskStatus,
    Verdict,
)


@dataclass(frozen=True)
class VerdictStyle:
    tone: str        # css tone: conflict, risk, review, ok, info
    rank: int        # higher = worse; picks a host's headline verdict and orders the table
    meaning: str     # one line for the legend


VERDICT_STYLES: dict[str, VerdictStyle] = {
    "CONFLICT_CONFIRMED": VerdictStyle("conflict", 100, "Mirrored networking is breaking Docker Desktop's published ports now."),
    "EDGE_NO_LAN_VISIBILITY": VerdictStyle("conflict", 95, "The edge container cannot see the LAN."),
    "AT_RISK_MIRRORED_DOCKER": VerdictStyle("risk", 80, "Mirrored mode and Docker Desktop on WSL2: the conflict is expected."),
    "AT_RISK_MIRRORED_ENGINE": VerdictStyle("risk", 75, "Podman Desktop, Rancher Desktop or an old Docker Engine runs in a mirrored WSL VM: its published ports are at risk."),
    "AT_RISK_LATENT": VerdictStyle("risk", 70, "Mirrored is configured but not yet effective; it will bite after an update."),
    "PUBLISH_BROKEN_OTHER_CAUSE": VerdictStyle("review", 55, "Published ports have no listener, but mirrored is not in effect: another cause (the verdict says which)."),
    "EDGE_NOT_HOST_NETWORK": VerdictStyle("risk", 65, "The edge container does not use host networking."),
    "EDGE_WSL_NAT": VerdictStyle("risk", 60, "The edge node runs in a WSL distro in NAT mode: no inbound LAN."),
    "INCONCLUSIVE": VerdictStyle("review", 50, "The evidence does not decide; look at the checks."),
    "MIRRORED_WITHOUT_DOCKER": VerdictStyle("info", 20, "Mirrored mode without Docker Desktop on WSL2: fine."),
    "HEALTHY_NAT": VerdictStyle("ok", 10, "Docker Desktop on WSL2 with NAT networking: healthy."),
    "EDGE_OK": VerdictStyle("ok", 10, "The edge node sees the LAN."),
    "NO_WSL_OR_NO_DOCKER": VerdictStyle("info", 5, "Neither WSL nor Docker Desktop is relevant here."),
}
_UNKNOWN_VERDICT = VerdictStyle("review", 40, "A verdict this report does not know.")

#: Why a host is on the "needs action" list, worst first.
ATTENTION = {
    "conflict": (4, "Conflict confirmed"),
    "at_risk": (3, "At risk"),
    "not_audited": (2, "Not audited (unreachable, auth failed, timed out, error)"),
    "errors": (1, "Checks, tasks or plays failed with an error, or the verdict is inconclusive"),
}

CHECK_STATUS_ORDER = {
    CheckStatus.error: 0, CheckStatus.failed: 1, CheckStatus.passed: 2,
    CheckStatus.skipped: 3, CheckStatus.not_applicable: 4,
}


def verdict_style(name: str) -> VerdictStyle:
    return VERDICT_STYLES.get(name, _UNKNOWN_VERDICT)


def headline_verdict(host: HostResult) -> Verdict | None:
    """The worst of a host's verdicts (a host usually has one play and one verdict)."""
    verdicts = host.verdicts()
    if not verdicts:
        return None
    return max(verdicts, key=lambda v: verdict_style(v.name).rank)


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


def attention(host: HostResult) -> str | None:
    """Why this host needs action (a key of ``ATTENTION``), or None."""
    verdict = headline_verdict(host)
    tone = verdict_style(verdict.name).tone if verdict else None
    if tone == "conflict":
        return "conflict"
    if tone == "risk":
        return "at_risk"
    if host.status in HOST_DOWN_STATUSES:
        return "not_audited"
    errored = (any(c.status == CheckStatus.error for c in host.all_checks()) or any(p.error for p in host.plays)
               or any(t.status == TaskStatus.failed for t in host.all_tasks()))
    if errored or tone == "review":
        return "errors"
    return None


def host_view(host: HostResult) -> dict[str, Any]:
    """The JSON-ready record the HTML page's script renders for one host (only what it shows)."""
    verdict = headline_verdict(host)
    severity = host_severity(host)
    why = attention(host)
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
                    "id", "title", "severity", "status", "message", "evidence", "remediation", "refs",
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
        "tone": verdict_style(verdict.name).tone if verdict else ("down" if host.status in HOST_DOWN_STATUSES else "none"),
        "vrank": verdict_style(verdict.name).rank if verdict else 0,
        "confidence": verdict.confidence.value if verdict else "",
        "severity": severity.value if severity else "",
        "srank": severity.rank + 1 if severity else 0,
        "attention": why or "",
        "arank": ATTENTION[why][0] if why else 0,
        "failed": failed_check_ids(host),
        "tasks": task_counts(host) if host.all_tasks() else {},
        "total_ms": host.timings.total_ms,
        "plays": plays,
    }


def _drop_empty(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v not in (None, "", [], {})}


def needs_action(run: RunResult) -> dict[str, list[HostResult]]:
    """Hosts that need action, grouped by ``ATTENTION`` key (worst group first, worst verdict first)."""
    groups: dict[str, list[HostResult]] = {key: [] for key in ATTENTION}
    for host in run.hosts:
        why = attention(host)
        if why:
            groups[why].append(host)
    for hosts in groups.values():
        hosts.sort(key=lambda h: (-_verdict_rank(h), h.name))
    return groups


def _verdict_rank(host: HostResult) -> int:
    verdict = headline_verdict(host)
    return verdict_style(verdict.name).rank if verdict else 0


def status_tone(status: HostStatus) -> str:
    if status == HostStatus.ok:
        return "ok"
    if status == HostStatus.failed:
        return "risk"
    return "down"
