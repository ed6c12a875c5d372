"""Drift between two stored runs: per host a change class, per check its status transition, and the line
diff of a file listing (the relevant ``.wslconfig``) that changed between the two scans.

Fast on large fleets: hosts are compared by the per-host digest of their check statuses first; check
rows are read only for hosts whose digests differ, and stored documents only for hosts whose file
listing changed. The change classes are defined in docs/history.md ("Drift").
"""

from __future__ import annotations

import difflib
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from auditor.results import HOST_DOWN_STATUSES, CheckStatus, HostResult
from auditor.store.models import RunRecord, RunState
from auditor.store.rows import keyed_checks, listing_lines
from auditor.store.store import CheckRow, HostSummary, Store
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


def classify(old: HostSummary | None, new: HostSummary | None, old_checks: dict[str, CheckRow],
             new_checks: dict[str, CheckRow], rank: VerdictRank) -> ChangeClass:
    """The change class of one host between two scans (docs/history.md, "Drift")."""
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
    both = old_checks.keys() & new_checks.keys()
    worse = any(new_checks[k].status in _BAD and old_checks[k].status not in _BAD for k in both)
    better = any(old_checks[k].status in _BAD and new_checks[k].status not in _BAD for k in both)
    if worse != better:
        return ChangeClass.regressed if worse else ChangeClass.fixed
    if (old.status != new.status or old.verdict != new.verdict or old_checks.keys() != new_checks.keys()
            or any(old_checks[k].status != new_checks[k].status or old_checks[k].listing_digest != new_checks[k].listing_digest
                   for k in both)):
        return ChangeClass.changed
    return ChangeClass.unchanged


def diff_runs(store: Store, old_id: str, new_id: str, *, rank: VerdictRank | None = None,
              include_unchanged: bool = True) -> RunDiff:
    """What changed from run ``old_id`` to run ``new_id``, host by host."""
    rank = rank or store.verdict_rank
    old_run, new_run = store.get_run(old_id), store.get_run(new_id)
    old_hosts, new_hosts = store.host_summaries(old_run.id), store.host_summaries(new_run.id)
    names = sorted(old_hosts.keys() | new_hosts.keys())
    differing = [n for n in names if n in old_hosts and n in new_hosts
                 and (old_hosts[n].check_digest is None or old_hosts[n].check_digest != new_hosts[n].check_digest)]
    everything = len(differing) > _READ_ALL_CHECKS * max(1, len(names))
    old_checks = store.check_rows(old_run.id, None if everything else differing)
    new_checks = store.check_rows(new_run.id, None if everything else differing)
    compared = set(differing)
    drifts: list[HostDrift] = []
    listing_hosts: list[str] = []
    for name in names:
        old, new = old_hosts.get(name), new_hosts.get(name)
        before = old_checks.get(name, {}) if name in compared else {}
        after = new_checks.get(name, {}) if name in compared else {}
        change = classify(old, new, before, after, rank) if name in compared or old is None or new is None \
            else _same_digest(new)
        if change is ChangeClass.unchanged and not include_unchanged:
            continue
        drift = HostDrift(
            host=name, change=change,
            old_status=old.status if old else None, new_status=new.status if new else None,
            old_verdict=old.verdict if old else None, new_verdict=new.verdict if new else None,
            old_confidence=old.confidence if old else None, new_confidence=new.confidence if new else None,
            checks=_check_changes(before, after),
        )
        if any(k in before and k in after and before[k].listing_digest != after[k].listing_digest
               and (before[k].listing_digest or after[k].listing_digest) for k in before):
            listing_hosts.append(name)
        drifts.append(drift)
    _add_listing_diffs(store, old_run, new_run, drifts, listing_hosts)
    drifts.sort(key=lambda d: (_ORDER[d.change], d.host))
    listed = {d.host: d.change for d in drifts}
    counts = {c.value: 0 for c in ChangeClass}
    for name in names:  # every host counts, also when unchanged ones are left out of the list
        counts[listed.get(name, ChangeClass.unchanged).value] += 1
    return RunDiff(old=_ref(old_run), new=_ref(new_run), counts=counts, hosts=drifts)


def _same_digest(new: HostSummary) -> ChangeClass:
    """Equal digests: same outcome, verdict and check statuses; only a down host is still worth flagging."""
    return ChangeClass.unreachable if new.status in _DOWN else ChangeClass.unchanged


def _check_changes(before: dict[str, CheckRow], after: dict[str, CheckRow]) -> list[CheckChange]:
    out = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and old.status == new.status:
            continue
        row = new or old
        assert row is not None
        out.append(CheckChange(key=key, check_id=row.check_id, severity=row.severity,
                               old=old.status if old else None, new=new.status if new else None))
    return out


def _add_listing_diffs(store: Store, old_run: RunRecord, new_run: RunRecord, drifts: list[HostDrift],
                       hosts: list[str]) -> None:
    if not hosts:
        return
    old_docs, new_docs = store.host_documents(old_run.id, hosts), store.host_documents(new_run.id, hosts)
    by_host = {d.host: d for d in drifts}
    for name in hosts:
        if name not in old_docs or name not in new_docs:
            continue
        before, after = _listings(old_docs[name]), _listings(new_docs[name])
        for key in sorted(before.keys() & after.keys()):
            (old_id, old_file, old_lines), (_, new_file, new_lines) = before[key], after[key]
            if old_lines == new_lines:
                continue
            lines = list(difflib.unified_diff(old_lines, new_lines, lineterm="",
                                              fromfile=f"{old_file or key} (run {old_run.id})",
                                              tofile=f"{new_file or key} (run {new_run.id})"))
            by_host[name].listings.append(ListingDiff(key=key, check_id=old_id, old_file=old_file,
                                                      new_file=new_file, diff=lines))


def _listings(document: dict[str, Any]) -> dict[str, tuple[str, str | None, list[str]]]:
    """key -> (check id, file path, text lines) for every check with a file listing in its evidence."""
    out: dict[str, tuple[str, str | None, list[str]]] = {}
    for key, check in keyed_checks(HostResult.model_validate(document)):
        lines = listing_lines(check.evidence)
        if lines is None:
            continue
        profile = check.evidence.get("profile")
        out[key] = (check.id, profile if isinstance(profile, str) else None, [str(x.get("text", "")) for x in lines])
    return out


def _ref(run: RunRecord) -> RunRef:
    return RunRef(id=run.id, kind=run.kind, state=run.state, started=run.started,
                  playbooks=[p.id for p in run.playbooks])
