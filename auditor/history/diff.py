"""Drift between two stored runs: per host a change class, per check its status transition, and the line
diff of a file listing (the relevant ``.wslconfig``) that changed between the two scans.

Fast on large fleets: hosts are compared by the per-host digest of their check statuses first, and the
database returns only the checks that differ (of hosts whose digests differ), with their file listings. The change classes are defined in docs/history.md ("Drift").
"""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from auditor.results import HOST_DOWN_STATUSES, CheckStatus
from auditor.store.models import RunRecord, RunState
from auditor.store.store import CheckTransition, HostSummary, Store
from auditor.store.verdicts import VerdictRank

DIFF_SCHEMA_VERSION = "1.0"
_DOWN = frozenset(s.value for s in HOST_DOWN_STATUSES)
_BAD = frozenset({CheckStatus.failed.value, CheckStatus.error.value})
_READ_ALL_CHECKS = 0.3  # above this share of differing hosts, read the runs' check rows in one query each


class ChangeClass(str, Enum):
    regressed = "regressed"
    fixed = "fixed"
    changed = "changed"
    new = "new"
    gone = "gone"
    unchanged = "unchanged"
    unreachable = "unreachable"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRef(_Model):
    id: str
    kind: str
    state: RunState
    started: datetime
    playbooks: list[str]


class CheckChange(_Model):
    key: str = Field(description="<playbook>/<play>/<check id>")
    check_id: str
    severity: str
    old: str | None = Field(description="status in the old run; null: the check did not run there")
    new: str | None = Field(description="status in the new run; null: the check did not run there")


class ListingDiff(_Model):
    """A file listing in a check's evidence (``lines: [{n, text}]``) that differs between the two scans."""

    key: str
    check_id: str
    old_file: str | None = Field(None, description="the evidence's 'profile' (file path) in the old scan")
    new_file: str | None = Field(None, description="the evidence's 'profile' (file path) in the new scan")
    diff: list[str] = Field(description="unified diff lines (---/+++ header, @@ hunks, ' ', '-', '+' lines)")


class HostDrift(_Model):
    host: str
    change: ChangeClass
    old_status: str | None = None
    new_status: str | None = None
    old_verdict: str | None = None
    new_verdict: str | None = None
    old_confidence: str | None = None
    new_confidence: str | None = None
    checks: list[CheckChange] = Field(default_factory=list, description="checks whose status differs, by key")
    listings: list[ListingDiff] = Field(default_factory=list)


class RunDiff(_Model):
    schema_version: str = DIFF_SCHEMA_VERSION
    old: RunRef
    new: RunRef
    counts: dict[str, int] = Field(description="hosts per change class, every class present")
    hosts: list[HostDrift] = Field(description="worst change first, then by host name")


_ORDER = {c: i for i, c in enumerate([ChangeClass.regressed, ChangeClass.unreachable, ChangeClass.gone, ChangeClass.new,
                                      ChangeClass.changed, ChangeClass.fixed, ChangeClass.unchanged])}


def drift_schema() -> dict[str, Any]:
    """JSON Schema of ``auditor diff --format json``."""
    schema = RunDiff.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:auditor:diff:{DIFF_SCHEMA_VERSION}"
    return schema


def classify(old: HostSummary | None, new: HostSummary | None, changes: list[CheckTransition],
             rank: VerdictRank) -> ChangeClass:
    """The change class of one host between two scans (docs/history.md, "Drift"); ``changes`` are its
    checks whose status or file listing differs, or that ran in one scan only."""
    if old is None:
        return ChangeClass.new
    if new is None:
        return ChangeClass.gone
    if new.status in _DOWN:
        return ChangeClass.unreachable
    if old.status in _DOWN:
        return ChangeClass.changed  # reachable again: nothing to compare its checks with
    if old.verdict is not None and new.verdict is not None:
        old_rank, new_rank = rank(old.verdict), rank(new.verdict)
        if new_rank != old_rank:
            return ChangeClass.regressed if new_rank > old_rank else ChangeClass.fixed
    compared = [t for t in changes if t.old_status is not None and t.new_status is not None]
    worse = any(t.new_status in _BAD and t.old_status not in _BAD for t in compared)
    better = any(t.old_status in _BAD and t.new_status not in _BAD for t in compared)
    if worse != better:
        return ChangeClass.regressed if worse else ChangeClass.fixed
    if changes or old.status != new.status or old.verdict != new.verdict:
        return ChangeClass.changed
    return ChangeClass.unchanged


def diff_runs(store: Store, old_id: str, new_id: str, *, rank: VerdictRank | None = None,
              include_unchanged: bool = True) -> RunDiff:
    """What changed from run ``old_id`` to run ``new_id``, host by host."""
    rank = rank or store.verdict_rank
    old_run, new_run = store.get_run(old_id), store.get_run(new_id)
    old_hosts, new_hosts = store.host_summaries(old_run.id), store.host_summaries(new_run.id)
    names = sorted(old_hosts.keys() | new_hosts.keys())
    # equal digests: same outcome, verdict, check statuses and listings; only the others are compared
    differing = [n for n in names if n in old_hosts and n in new_hosts
                 and (old_hosts[n].check_digest is None or old_hosts[n].check_digest != new_hosts[n].check_digest)]
    everything = len(differing) > _READ_ALL_CHECKS * max(1, len(names))
    changes = store.check_transitions(old_run.id, new_run.id, None if everything else differing) if differing else {}
    compared = set(differing)
    drifts: list[HostDrift] = []
    for name in names:
        old, new = old_hosts.get(name), new_hosts.get(name)
        mine = changes.get(name, []) if name in compared else []
        change = classify(old, new, mine, rank) if name in compared or old is None or new is None \
            else _same_digest(new)
        if change is ChangeClass.unchanged and not include_unchanged:
            continue
        drifts.append(HostDrift(
            host=name, change=change,
            old_status=old.status if old else None, new_status=new.status if new else None,
            old_verdict=old.verdict if old else None, new_verdict=new.verdict if new else None,
            old_confidence=old.confidence if old else None, new_confidence=new.confidence if new else None,
            checks=[CheckChange(key=t.key, check_id=t.check_id, severity=t.severity, old=t.old_status, new=t.new_status)
                    for t in mine if t.old_status != t.new_status],
            listings=[d for d in (_listing_diff(t, old_run, new_run) for t in mine) if d is not None],
        ))
    drifts.sort(key=lambda d: (_ORDER[d.change], d.host))
    listed = {d.host: d.change for d in drifts}
    counts = {c.value: 0 for c in ChangeClass}
    for name in names:  # every host counts, also when unchanged ones are left out of the list
        counts[listed.get(name, ChangeClass.unchanged).value] += 1
    return RunDiff(old=_ref(old_run), new=_ref(new_run), counts=counts, hosts=drifts)


def _same_digest(new: HostSummary) -> ChangeClass:
    """Equal digests: nothing to compare; only a host that is down again is still worth flagging."""
    return ChangeClass.unreachable if new.status in _DOWN else ChangeClass.unchanged


def _listing_diff(t: CheckTransition, old_run: RunRecord, new_run: RunRecord) -> ListingDiff | None:
    """The line diff of a file listing that differs between the two scans (both scans must have one)."""
    if t.old_listing is None or t.new_listing is None or t.old_listing == t.new_listing:
        return None
    before, after = json.loads(t.old_listing), json.loads(t.new_listing)
    if before["lines"] == after["lines"]:
        return None
    lines = list(difflib.unified_diff(before["lines"], after["lines"], lineterm="",
                                      fromfile=f"{before['file'] or t.key} (run {old_run.id})",
                                      tofile=f"{after['file'] or t.key} (run {new_run.id})"))
    return ListingDiff(key=t.key, check_id=t.check_id, old_file=before["file"], new_file=after["file"], diff=lines)


def _ref(run: RunRecord) -> RunRef:
    return RunRef(id=run.id, kind=run.kind, state=run.state, started=run.started,
                  playbooks=[p.id for p in run.playbooks])
