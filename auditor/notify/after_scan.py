"""The one call ``auditor serve`` makes after each scheduled scan: compare the scan with the schedule's
previous complete one, add the waivers nearing their end, send the transitions, remember the waiver notices
some receiver took. Never raises: whatever fails is logged (one line) and the scans go on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

from auditor.history.diff import RunDiff, diff_runs
from auditor.notify.config import EventKind, NotifyTarget
from auditor.notify.ledger import WaiverLedger
from auditor.notify.payloads import clean
from auditor.notify.send import DeliveryOptions, DeliveryReport, TargetResult, deliver
from auditor.notify.transitions import Transitions, transitions
from auditor.store.models import RunState
from auditor.store.store import Store
from auditor.waivers import EXPIRING_DAYS, WaiverFile, WaiverListing, waivers_expiring

log = logging.getLogger("auditor.notify")


def notify_scan(store: Store, run_id: str, targets: Sequence[NotifyTarget], *, schedule: str,
                previous_run_id: str | None, waivers: WaiverFile | None = None,
                ledger: WaiverLedger | None = None, today: date | None = None,
                waiver_days: int = EXPIRING_DAYS, options: DeliveryOptions | None = None) -> DeliveryReport:
    """Notify ``targets`` of what changed from ``previous_run_id`` (the schedule's previous complete run;
    None: this scan is the baseline, no host events) to ``run_id``, and of the waivers of ``waivers``
    expiring within ``waiver_days`` of ``today`` (local date) not yet in ``ledger`` (None: no waiver notices).
    Host events need ``run_id`` complete: an interrupted or incomplete scan would read as hosts gone."""
    if not targets:
        return DeliveryReport()
    try:
        events = plan_notifications(store, run_id, schedule=schedule, previous_run_id=previous_run_id,
                                    waivers=waivers, ledger=ledger, today=today or date.today(),
                                    waiver_days=waiver_days)
        if events.empty:
            log.info("notify: schedule %s, run %s: no transition, nothing sent", clean(schedule), clean(run_id))
            return DeliveryReport()
        report = deliver(events, targets, options=options)
        if ledger is not None and events.waivers and report.accepted(EventKind.waiver_expiring):
            ledger.add((w.key for w in events.waivers), today=today or date.today())
        return report
    except Exception as exc:  # noqa: BLE001  (notifications never stop the scans)
        log.error("notify: schedule %s, run %s: %s: %s", clean(schedule), clean(run_id), type(exc).__name__, clean(exc))
        return DeliveryReport([TargetResult(clean(t.label), ok=False, error=f"internal error: {type(exc).__name__}")
                               for t in targets])


def plan_notifications(store: Store, run_id: str, *, schedule: str, previous_run_id: str | None,
                       waivers: WaiverFile | None, ledger: WaiverLedger | None, today: date,
                       waiver_days: int = EXPIRING_DAYS) -> Transitions:
    """The events of one scan, before any receiver's filter (reads the store; sends nothing)."""
    diff: RunDiff | None = None
    if previous_run_id is not None:
        state = store.get_run(run_id).state
        if state is RunState.complete:
            diff = diff_runs(store, previous_run_id, run_id, include_unchanged=False)
        else:
            log.info("notify: run %s is %s: no host transitions from it", clean(run_id), state.value)
    expiring: list[WaiverListing] = []
    if waivers is not None and ledger is not None:
        expiring = waivers_expiring(waivers, today=today, within_days=waiver_days)
    return transitions(schedule, store.get_run(run_id).id, diff, expiring,
                       ledger.announced() if ledger is not None else frozenset())
