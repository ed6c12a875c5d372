"""What a host's result means for the people reading it: its headline verdict and whether it needs action.

One definition, read by the runner (host status), the exit code, the terminal, the reports and the store.
It reads only the result model and the verdict catalogue the run recorded, never a domain package.

A host needs action when (first match gives the reason):
- its headline verdict's catalogue entry says so: tone ``conflict`` -> "conflict", ``risk`` -> "at_risk",
  anything else (e.g. INCONCLUSIVE, tone ``review``) -> "errors" -- unless the checks the verdict rests on are
  covered by active waivers and none of them still fails;
- it was not audited (unreachable, auth failed, timed out, error) -> "not_audited";
- a check could not be evaluated (``error``), a play failed, or a remediation task failed -> "errors";
- it has no verdict and a check failed -> "errors".
A verdict that does not need action (HEALTHY_NAT, EDGE_OK...) outweighs its individual failed checks: a
low-severity note on a healthy host is shown, but the host does not count as failed.
"""

from __future__ import annotations

from auditor.results import HOST_DOWN_STATUSES, CheckStatus, HostResult, TaskStatus, Verdict, VerdictInfo

#: reason key -> (rank, title), worst first
ATTENTION: dict[str, tuple[int, str]] = {
    "conflict": (4, "Conflict confirmed"),
    "at_risk": (3, "At risk"),
    "not_audited": (2, "Not audited (unreachable, auth failed, timed out, error)"),
    "errors": (1, "Needs review: inconclusive verdict, failed checks, checks or tasks that could not run"),
}

UNKNOWN_VERDICT = VerdictInfo(label="Unknown verdict", tone="review", rank=40,
                              meaning="A verdict this run's catalogue does not describe.", needs_action=True)

Catalogue = dict[str, VerdictInfo]


def verdict_info(name: str, catalogue: Catalogue) -> VerdictInfo:
    return catalogue.get(name, UNKNOWN_VERDICT)


def headline_verdict(host: HostResult, catalogue: Catalogue) -> Verdict | None:
    """The worst of a host's verdicts (a host usually has one play and one verdict)."""
    verdicts = host.verdicts()
    if not verdicts:
        return None
    return max(verdicts, key=lambda v: verdict_info(v.name, catalogue).rank)


def attention(host: HostResult, catalogue: Catalogue) -> str | None:
    """Why this host needs action (a key of ``ATTENTION``), or None when it does not."""
    verdict = headline_verdict(host, catalogue)
    info = verdict_info(verdict.name, catalogue) if verdict else None
    if verdict is not None and info is not None and info.needs_action and not _waived_away(verdict, host):
        return {"conflict": "conflict", "risk": "at_risk"}.get(info.tone, "errors")
    if host.status in HOST_DOWN_STATUSES:
        return "not_audited"
    checks = host.all_checks()
    if (any(c.status is CheckStatus.error for c in checks) or any(p.error for p in host.plays)
            or any(t.status is TaskStatus.failed for t in host.all_tasks())):
        return "errors"
    if verdict is None and any(c.status is CheckStatus.failed for c in checks):
        return "errors"
    return None


def _waived_away(verdict: Verdict, host: HostResult) -> bool:
    """True when the checks the verdict rests on are waived and none of them still fails: an accepted exception
    (e.g. mirrored mode approved for this developer until March) does not need action, and does not fail the
    exit code, until the waiver expires."""
    statuses = {c.id: c.status for c in host.all_checks()}
    deciding = [statuses[i] for i in verdict.decided_by if i in statuses]
    waived = [s for s in deciding if s in (CheckStatus.waived, CheckStatus.skipped)]
    still_bad = [s for s in deciding if s in (CheckStatus.failed, CheckStatus.error)]
    return bool(waived) and not still_bad and any(
        c.waiver is not None and c.waiver.state == "active" for c in host.all_checks() if c.id in verdict.decided_by)


def needs_action(host: HostResult, catalogue: Catalogue) -> bool:
    return attention(host, catalogue) is not None
