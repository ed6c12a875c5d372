"""Which notifications a scan gives rise to: pure functions from the drift between two scans of a schedule
(``auditor.history.diff.RunDiff``) and the waivers expiring soon to a list of events.

Transitions only, never a state: a host that fails in both scans in the same way is ``unchanged`` and gives
nothing; a host down in both scans gives nothing (``unreachable`` is sent once, when it goes down, and
``reachable`` once, when it comes back). Waivers: each (check, hosts, expiration date) is announced once;
the caller keeps the set of announced keys (``auditor.notify.ledger``) and passes it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from auditor.history.diff import ChangeClass, HostDrift, RunDiff
from auditor.notify.config import EventKind
from auditor.results import HOST_DOWN_STATUSES, CheckStatus
from auditor.waivers import WaiverListing

_DOWN = frozenset(s.value for s in HOST_DOWN_STATUSES)
_BAD = frozenset({CheckStatus.failed.value, CheckStatus.error.value})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HostEvent(_Model):
    """One host's transition. Only names, verdicts, outcomes and check ids: nothing a host said."""

    kind: EventKind
    host: str
    old_status: str | None = None
    new_status: str | None = None
    old_verdict: str | None = None
    new_verdict: str | None = None
    checks: list[str] = Field(default_factory=list,
                              description="regressed: check ids that newly fail; fixed: check ids that no longer fail")


class WaiverEvent(_Model):
    """A waiver in force that expires soon."""

    kind: EventKind = EventKind.waiver_expiring
    check: str = Field(description="check id or key as written in the waiver file")
    hosts: str = Field(description="the waiver's host pattern")
    expiration_date: date
    days_left: int

    @property
    def key(self) -> str:
        return waiver_key(self.check, self.hosts, self.expiration_date)


class Transitions(_Model):
    """Everything one scan has to tell, before each receiver's ``events:`` filter."""

    schedule: str
    run_id: str
    previous_run_id: str | None = None
    hosts: list[HostEvent] = Field(default_factory=list)
    waivers: list[WaiverEvent] = Field(default_factory=list)

    def only(self, kinds: Iterable[EventKind]) -> Transitions:
        """The events of the given kinds (a receiver's ``events:``)."""
        wanted = set(kinds)
        return self.model_copy(update={"hosts": [h for h in self.hosts if h.kind in wanted],
                                       "waivers": [w for w in self.waivers if w.kind in wanted]})

    def split(self) -> list[Transitions]:
        """One ``Transitions`` per event, in order (a receiver's ``per_event``)."""
        return ([self.model_copy(update={"hosts": [h], "waivers": []}) for h in self.hosts]
                + [self.model_copy(update={"hosts": [], "waivers": [w]}) for w in self.waivers])

    @property
    def empty(self) -> bool:
        return not self.hosts and not self.waivers

    def counts(self) -> dict[str, int]:
        """Events per kind, every kind present."""
        out = {k.value: 0 for k in EventKind}
        for h in self.hosts:
            out[h.kind.value] += 1
        out[EventKind.waiver_expiring.value] += len(self.waivers)
        return out


def host_event(drift: HostDrift) -> HostEvent | None:
    """The event one host's drift gives, or None when it is no transition worth telling."""
    kind = _kind(drift)
    if kind is None:
        return None
    checks: list[str] = []
    if kind is EventKind.regressed:
        checks = [c.check_id for c in drift.checks if c.new in _BAD and c.old not in _BAD]
    elif kind is EventKind.fixed:
        checks = [c.check_id for c in drift.checks if c.old in _BAD and c.new not in _BAD]
    return HostEvent(kind=kind, host=drift.host, old_status=drift.old_status, new_status=drift.new_status,
                     old_verdict=drift.old_verdict, new_verdict=drift.new_verdict, checks=sorted(set(checks)))


def _kind(drift: HostDrift) -> EventKind | None:
    change = drift.change
    if change is ChangeClass.regressed:
        return EventKind.regressed
    if change is ChangeClass.fixed:
        return EventKind.fixed
    if change is ChangeClass.unreachable:
        # down in both scans is a repeat, not a transition
        return None if drift.old_status in _DOWN else EventKind.unreachable
    if change is ChangeClass.changed and drift.old_status in _DOWN and drift.new_status not in _DOWN:
        return EventKind.reachable
    if change is ChangeClass.new:
        return EventKind.new
    if change is ChangeClass.gone:
        return EventKind.gone
    return None  # unchanged, or changed without getting better or worse


def host_events(diff: RunDiff) -> list[HostEvent]:
    """The host events of a drift, in the diff's order (worst change first, then by host)."""
    return [e for e in (host_event(d) for d in diff.hosts) if e is not None]


def waiver_key(check: str, hosts: str, expiration_date: date) -> str:
    """What identifies an announcement: a waiver whose date is moved is announced again when it nears."""
    return f"{check}\t{hosts}\t{expiration_date.isoformat()}"


def waiver_events(expiring: Sequence[WaiverListing], announced: Set[str]) -> list[WaiverEvent]:
    """Waivers expiring soon (``auditor.waivers.waivers_expiring``) that were not announced yet."""
    out = []
    for w in expiring:
        if w.expiration_date is None or w.days_left is None:
            continue
        event = WaiverEvent(check=w.check, hosts=w.hosts, expiration_date=w.expiration_date, days_left=w.days_left)
        if event.key not in announced:
            out.append(event)
    return out


def transitions(schedule: str, run_id: str, diff: RunDiff | None, expiring: Sequence[WaiverListing] = (),
                announced: Set[str] = frozenset()) -> Transitions:
    """All events of one scan. ``diff`` None (the schedule's first scan, or no comparable one): no host
    events, the scan is the baseline."""
    return Transitions(schedule=schedule, run_id=run_id, previous_run_id=diff.old.id if diff else None,
                       hosts=host_events(diff) if diff is not None else [],
                       waivers=waiver_events(expiring, announced))
