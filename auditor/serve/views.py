"""What the dashboard and the JSON API show, read from the history store (read-only, no web types here).

Every function takes the ``Store`` and returns plain pydantic models, so the pages and the API cannot disagree.
A host "needs action" when its stored outcome is not ``ok``: the runner decided that with the one predicate in
``auditor.outcomes`` when it recorded the host.
"""

from __future__ import annotations

import difflib
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, Field

from auditor.history.diff import ChangeClass, RunDiff, diff_runs
from auditor.outcomes import headline_verdict
from auditor.results import CheckStatus, HostResult, Verdict, VerdictInfo
from auditor.rules import verdict_catalogue
from auditor.store import RunListing, RunRecord, RunState, Store, StoreMissing
from auditor.store.models import TrendPoint
from auditor.store.rows import listing_lines
from auditor.waivers import WaiverListing, load_waivers, waivers_expiring, waivers_in_force

#: Scans a host's timeline reaches back over.
TIMELINE_RUNS = 30
#: Largest evidence value the host page shows in full (the rest is cut and says so).
EVIDENCE_CHARS = 20_000


class HostRow(BaseModel):
    host: str
    status: str
    verdict: Optional[str] = None
    label: Optional[str] = Field(None, description="the verdict's human label")
    confidence: Optional[str] = None
    needs_action: bool


class FleetNow(BaseModel):
    run: Optional[RunListing] = Field(None, description="the newest complete audit run; null before the first scan")
    hosts: int = 0
    needs_action: int = 0
    by_verdict: dict[str, int] = Field(default_factory=dict)
    by_status: dict[str, int] = Field(default_factory=dict)
    trend: list[TrendPoint] = Field(default_factory=list)
    changes: Optional[RunDiff] = Field(None, description="since the scan before it (unchanged hosts left out)")


class TimelinePoint(BaseModel):
    run_id: str
    started: datetime
    state: RunState
    status: str
    verdict: Optional[str] = None
    confidence: Optional[str] = None


class FileDiff(BaseModel):
    check_id: str
    file: Optional[str] = None
    old_run: str
    new_run: str
    diff: list[str]


class HostDetail(BaseModel):
    host: str
    run_id: Optional[str] = None
    result: Optional[HostResult] = Field(None, description="the host's newest stored result")
    timeline: list[TimelinePoint] = Field(default_factory=list, description="newest first")
    file_diffs: list[FileDiff] = Field(default_factory=list, description="listed files that changed between its last two scans")


class WaiverRow(WaiverListing):
    file: str
    expiring: bool


def labels() -> dict[str, VerdictInfo]:
    return verdict_catalogue()


def label_of(verdict: Optional[str]) -> Optional[str]:
    return _label(verdict, labels())


def _label(verdict: Optional[str], catalogue: dict[str, VerdictInfo]) -> Optional[str]:
    if verdict is None:
        return None
    info = catalogue.get(verdict)
    return info.label if info is not None else verdict


def fleet_now(store: Store, *, trend_runs: int = 20) -> FleetNow:
    latest = store.list_runs(1, kind="audit", state=RunState.complete)
    if not latest:
        return FleetNow(run=None, changes=None)
    listing = latest[0]
    previous = store.previous_complete_run(listing.id)
    changes = diff_runs(store, previous.id, listing.id, include_unchanged=False) if previous is not None else None
    needs = sum(n for s, n in listing.by_status.items() if s != "ok")
    return FleetNow(run=listing, hosts=listing.hosts_recorded, needs_action=needs, by_verdict=listing.by_verdict,
                    by_status=listing.by_status, trend=store.trend(listing.id, trend_runs), changes=changes)


def host_rows(store: Store, run_id: Optional[str] = None) -> tuple[Optional[str], list[HostRow]]:
    """Hosts of ``run_id`` (default: the newest complete audit), worst first then by name."""
    if run_id is None:
        latest = store.latest_complete_run("audit")
        if latest is None:
            return None, []
        run_id = latest.id
    catalogue = labels()
    rows = [HostRow(host=name, status=s.status, verdict=s.verdict, label=_label(s.verdict, catalogue),
                    confidence=s.confidence, needs_action=s.status != "ok")
            for name, s in store.host_summaries(run_id).items()]
    rank = {name: info.rank for name, info in catalogue.items()}
    rows.sort(key=lambda r: (not r.needs_action, -rank.get(r.verdict or "", 0), r.host))
    return run_id, rows


def filter_rows(rows: list[HostRow], *, query: str = "", verdict: str = "", status: str = "") -> list[HostRow]:
    """The rows whose name holds ``query`` (any case), with that headline verdict ('-': none) and outcome."""
    needle = query.strip().lower()
    return [r for r in rows if (not needle or needle in r.host.lower()) and (not verdict or (r.verdict or "-") == verdict)
            and (not status or r.status == status)]


def host_detail(store: Store, host: str, *, runs: int = TIMELINE_RUNS) -> HostDetail:
    """A host's verdicts over the last ``runs`` audits, its newest result, and how its listed files changed."""
    timeline: list[TimelinePoint] = []
    held: list[tuple[RunRecord, HostResult]] = []
    for run in store.list_runs(runs, kind="audit"):
        found = store.hosts_by_name(run.id, [host]).get(host)
        if found is None:
            continue
        verdict = _headline(found)
        timeline.append(TimelinePoint(run_id=run.id, started=run.started, state=run.state, status=found.status.value,
                                      verdict=verdict.name if verdict else None,
                                      confidence=verdict.confidence.value if verdict else None))
        if len(held) < 2:
            held.append((run, found))
    if not held:
        return HostDetail(host=host, result=None)
    detail = HostDetail(host=host, run_id=held[0][0].id, result=_bounded(held[0][1]), timeline=timeline)
    if len(held) == 2:
        detail.file_diffs = _file_diffs(held[1], held[0])
    return detail


def _headline(host: HostResult) -> Optional[Verdict]:
    return headline_verdict(host, labels())


def _bounded(host: HostResult) -> HostResult:
    """The host with every check's evidence cut to EVIDENCE_CHARS when shown (the store keeps it all)."""
    import json

    for check in host.all_checks():
        text = json.dumps(check.evidence, default=str)
        if len(text) > EVIDENCE_CHARS:
            check.evidence = {"truncated": text[:EVIDENCE_CHARS] + f"... ({len(text) - EVIDENCE_CHARS} more characters)"}
    return host


def _file_diffs(old: tuple[RunRecord, HostResult], new: tuple[RunRecord, HostResult]) -> list[FileDiff]:
    def listings(host: HostResult) -> dict[str, tuple[Optional[str], list[str]]]:
        out = {}
        for check in host.all_checks():
            lines = listing_lines(check.evidence) if check.status is not CheckStatus.skipped else None
            if lines is not None:
                profile = check.evidence.get("profile") if isinstance(check.evidence, dict) else None
                out[check.id] = (str(profile) if profile else None, [str(line.get("text", "")) for line in lines])
        return out

    before, after = listings(old[1]), listings(new[1])
    diffs = []
    for check_id in sorted(set(before) | set(after)):
        (old_file, old_lines), (new_file, new_lines) = before.get(check_id, (None, [])), after.get(check_id, (None, []))
        if old_lines == new_lines:
            continue
        diff = list(difflib.unified_diff(old_lines, new_lines, fromfile=f"{old_file or check_id} (scan {old[0].id})",
                                         tofile=f"{new_file or check_id} (scan {new[0].id})", lineterm=""))
        diffs.append(FileDiff(check_id=check_id, file=new_file or old_file, old_run=old[0].id, new_run=new[0].id, diff=diff))
    return diffs


def run_detail(store: Store, run_id: str) -> tuple[RunListing, list[HostRow]]:
    listing = store.run_listing(run_id)
    _, rows = host_rows(store, listing.id)
    return listing, rows


def diff(store: Store, old: Optional[str], new: Optional[str]) -> RunDiff:
    """``old`` -> ``new``; ``new`` defaults to the newest complete audit, ``old`` to the scan before it."""
    if new is None:
        latest = store.latest_complete_run("audit")
        if latest is None:
            raise StoreMissing("no complete audit run yet")
        new = latest.id
    new_id = store.get_run(new).id
    if old is None:
        previous = store.previous_complete_run(new_id)
        if previous is None:
            raise StoreMissing(f"run {new_id} has no earlier complete run of the same playbooks to compare with")
        old = previous.id
    return diff_runs(store, store.get_run(old).id, new_id, include_unchanged=False)


def waiver_rows(files: list[str], *, today: date, warning_days: int) -> list[WaiverRow]:
    """Waivers in force in the schedules' waiver files, soonest to expire first."""
    rows: list[WaiverRow] = []
    for path in dict.fromkeys(files):
        waivers = load_waivers(path)
        expiring = {(w.check, w.hosts) for w in waivers_expiring(waivers, today=today, within_days=warning_days)}
        rows += [WaiverRow(**w.model_dump(), file=path, expiring=(w.check, w.hosts) in expiring)
                 for w in waivers_in_force(waivers, today=today)]
    return sorted(rows, key=lambda w: (w.days_left is None, w.days_left or 0, w.check))


def report_file(folders: list[Path], run_id: str, suffix: str = ".html") -> Optional[Path]:
    """The report the scan ``run_id`` wrote (``auditor-<UTC start>-<run id>.<ext>``) in one of ``folders``."""
    for folder in folders:
        for path in folder.glob(f"auditor-*-{run_id}{suffix}"):
            return path
    return None


CHANGE_ORDER = [ChangeClass.regressed, ChangeClass.unreachable, ChangeClass.gone, ChangeClass.new, ChangeClass.changed,
                ChangeClass.fixed]


def jsonable(model: BaseModel) -> Any:
    return model.model_dump(mode="json")
