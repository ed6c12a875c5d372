""""Since the previous scan": what a recorded run's reports say about the scans before it.

After a run is recorded, the history store knows the previous complete run of the same playbooks; the run's
reports then carry the counts per change class, each host's previous verdict and change, and the verdict
counts of the last scans (the HTML report's trend chart).
"""

from __future__ import annotations

from auditor.history.diff import diff_runs
from auditor.results import HostResult, PreviousScan, RunHistory, RunResult, TrendPoint
from auditor.store.store import Store

TREND_SCANS = 10


def history_of(run_id: str, store: Store) -> tuple[RunHistory, dict[str, PreviousScan]]:
    """What the store says about the scans before run ``run_id``: the run's ``history`` and each host's
    ``previous`` (empty when there is no previous complete scan of the same playbooks)."""
    previous = store.previous_complete_run(run_id)
    trend = [TrendPoint(run_id=p.run_id, started=p.started, hosts=p.hosts, by_verdict=p.by_verdict,
                        by_status=p.by_status) for p in store.trend(run_id, TREND_SCANS)]
    history = RunHistory(trend=trend, store=str(store.where))
    if previous is None:
        return history, {}
    drift = diff_runs(store, previous.id, run_id, include_unchanged=True)
    history.previous_run_id, history.previous_started = previous.id, previous.started
    history.changes = dict(drift.counts)
    return history, {d.host: PreviousScan(run_id=previous.id, change=d.change.value, verdict=d.old_verdict,
                                          status=d.old_status) for d in drift.hosts}


def with_previous(host: HostResult, previous: dict[str, PreviousScan]) -> HostResult:
    scan = previous.get(host.name)
    return host.model_copy(update={"previous": scan}) if scan is not None else host


def with_history(run: RunResult, store: Store) -> RunResult:
    """``run`` with ``history`` and each host's ``previous`` filled from ``store`` (where ``run`` is recorded)."""
    history, previous = history_of(run.run_id, store)
    return run.model_copy(update={"history": history, "hosts": [with_previous(h, previous) for h in run.hosts]})
