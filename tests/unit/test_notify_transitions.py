"""Which drift becomes a notification: transitions only, never a repeat of an unchanged failure."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from auditor.history.diff import ChangeClass, CheckChange, HostDrift, RunDiff, RunRef
from auditor.notify.config import EventKind
from auditor.notify.ledger import WaiverLedger
from auditor.notify.transitions import host_event, transitions, waiver_events, waiver_key
from auditor.store.models import RunState
from auditor.waivers import WaiverListing

R, F, U, N, G, C, S = (ChangeClass.regressed, ChangeClass.fixed, ChangeClass.unreachable, ChangeClass.new,
                       ChangeClass.gone, ChangeClass.changed, ChangeClass.unchanged)


def drift(change: ChangeClass, old_status: str | None, new_status: str | None, old_verdict: str | None = None,
          new_verdict: str | None = None, checks: list[CheckChange] | None = None) -> HostDrift:
    return HostDrift(host="h1", change=change, old_status=old_status, new_status=new_status,
                     old_verdict=old_verdict, new_verdict=new_verdict, checks=checks or [])


@pytest.mark.parametrize("d, expected", [
    (drift(R, "ok", "failed", "HEALTHY_NAT", "CONFLICT_CONFIRMED"), EventKind.regressed),
    (drift(F, "failed", "ok", "CONFLICT_CONFIRMED", "HEALTHY_NAT"), EventKind.fixed),
    (drift(U, "ok", "unreachable", "HEALTHY_NAT", None), EventKind.unreachable),
    (drift(U, "failed", "timed_out", "CONFLICT_CONFIRMED", None), EventKind.unreachable),
    # down in both scans: a repeat, whatever the down outcome
    (drift(U, "unreachable", "unreachable"), None),
    (drift(U, "unreachable", "auth_failed"), None),
    (drift(C, "unreachable", "failed", None, "CONFLICT_CONFIRMED"), EventKind.reachable),
    (drift(C, "unreachable", "ok", None, "HEALTHY_NAT"), EventKind.reachable),
    # the same failure in both scans: nothing
    (drift(S, "failed", "failed", "CONFLICT_CONFIRMED", "CONFLICT_CONFIRMED"), None),
    (drift(S, "ok", "ok", "HEALTHY_NAT", "HEALTHY_NAT"), None),
    # changed without getting better or worse (a listing edit): nothing
    (drift(C, "failed", "failed", "CONFLICT_CONFIRMED", "CONFLICT_CONFIRMED"), None),
    (drift(N, None, "failed", None, "CONFLICT_CONFIRMED"), EventKind.new),
    (drift(G, "ok", None, "HEALTHY_NAT", None), EventKind.gone),
], ids=lambda v: getattr(v, "value", None) or (f"{v.change.value}:{v.old_status}->{v.new_status}" if isinstance(v, HostDrift) else "none"))
def test_each_drift_gives_its_event_or_none(d: HostDrift, expected: EventKind | None) -> None:
    event = host_event(d)
    assert (event.kind if event else None) is expected
    if event is not None:
        assert (event.host, event.old_status, event.new_status) == (d.host, d.old_status, d.new_status)


def test_regressed_and_fixed_name_the_checks_that_turned() -> None:
    checks = [CheckChange(key="p/a/W-NET-01", check_id="W-NET-01", severity="high", old="passed", new="failed"),
              CheckChange(key="p/a/W-CFG-04", check_id="W-CFG-04", severity="medium", old="passed", new="error"),
              CheckChange(key="p/a/W-CFG-03", check_id="W-CFG-03", severity="low", old="failed", new="passed"),
              CheckChange(key="p/a/W-OS-01", check_id="W-OS-01", severity="info", old="skipped", new="passed")]
    regressed = host_event(drift(R, "ok", "failed", checks=checks))
    fixed = host_event(drift(F, "failed", "ok", checks=checks))
    assert regressed is not None and regressed.checks == ["W-CFG-04", "W-NET-01"]
    assert fixed is not None and fixed.checks == ["W-CFG-03"]


def _diff(hosts: list[HostDrift]) -> RunDiff:
    when = datetime(2026, 12, 1, tzinfo=timezone.utc)
    ref = {"kind": "audit", "state": RunState.complete, "started": when, "playbooks": ["p"]}
    return RunDiff(old=RunRef(id="run-1", **ref), new=RunRef(id="run-2", **ref), counts={}, hosts=hosts)


def test_first_scan_is_the_baseline_and_only_kinds_filter() -> None:
    baseline = transitions("nightly", "run-1", None)
    assert baseline.empty and baseline.previous_run_id is None
    hosts = [drift(R, "ok", "failed").model_copy(update={"host": "a"}),
             drift(S, "failed", "failed").model_copy(update={"host": "b"}),
             drift(N, None, "ok").model_copy(update={"host": "c"})]
    events = transitions("nightly", "run-2", _diff(hosts))
    assert [(h.host, h.kind) for h in events.hosts] == [("a", EventKind.regressed), ("c", EventKind.new)]
    assert events.previous_run_id == "run-1"
    assert [h.host for h in events.only([EventKind.regressed, EventKind.fixed]).hosts] == ["a"]
    assert events.counts()["regressed"] == 1 and events.counts()["new"] == 1 and sum(events.counts().values()) == 2


def listing(check: str, expires: date | None, today: date, hosts: str = "all") -> WaiverListing:
    days = (expires - today).days if expires else None
    return WaiverListing(check=check, hosts=hosts, justification="lab", run=True, expiration_date=expires, days_left=days)


def test_a_waiver_expiring_is_announced_once_and_again_when_its_date_moves(tmp_path) -> None:
    today = date(2026, 12, 4)
    soon = listing("W-CFG-02", date(2026, 12, 10), today, hosts="lab")
    first = waiver_events([soon, listing("W-OS-01", None, today)], frozenset())
    assert [(w.check, w.hosts, w.days_left) for w in first] == [("W-CFG-02", "lab", 6)]
    ledger = WaiverLedger(tmp_path / "state" / "nightly.json")
    ledger.add([w.key for w in first], today=today)
    again = WaiverLedger(tmp_path / "state" / "nightly.json")  # a restarted server reads the file
    assert waiver_events([soon], again.announced()) == []
    moved = listing("W-CFG-02", date(2026, 12, 17), today, hosts="lab")
    assert [w.expiration_date for w in waiver_events([moved], again.announced())] == [date(2026, 12, 17)]
    # once the date has passed, the entry is forgotten when the ledger is next saved
    again.add([], today=date(2026, 12, 11))
    assert again.announced() == frozenset()


def test_an_unreadable_ledger_reads_empty(tmp_path, caplog) -> None:
    path = tmp_path / "ledger.json"
    path.write_text("{not json")
    assert WaiverLedger(path).announced() == frozenset()
    assert "unreadable" in caplog.text
    memory = WaiverLedger()
    memory.add([waiver_key("x", "all", date(2030, 1, 1))], today=date(2026, 1, 1))
    assert len(memory.announced()) == 1
