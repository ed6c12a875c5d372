"""diff_runs on stored runs: every change class, check transitions, listing diffs, and the same answer from
SQLite and PostgreSQL (also on the slow path, when most hosts differ)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auditor.history.diff import ChangeClass, diff_runs
from auditor.results import CheckStatus, HostStatus, RunResult, Verdict
from auditor.store import open_store
from tests.report_factory import make_run
from tests.store_fixtures import pg_database, pg_url, sqlite_url  # noqa: F401  (pytest fixtures)


def scans(n: int = 32) -> tuple[RunResult, RunResult, dict[str, ChangeClass]]:
    """Two scans of the same fleet with one host per change class edited in, and what each should read."""
    old = make_run(n, hostile=False, run_id="scan-1")
    new = make_run(n, hostile=False, run_id="scan-2")
    new.started = old.started + timedelta(days=7)
    by_verdict = {h.verdicts()[0].name: h.name for h in old.hosts if h.verdicts()}
    expect: dict[str, ChangeClass] = {}

    def edit(name: str, change: ChangeClass, fn) -> None:
        host = next(h for h in new.hosts if h.name == name)
        fn(host)
        expect[name] = change

    def verdict(name):
        def apply(host):
            host.plays[0].verdict = Verdict(name=name, confidence="high")
        return apply

    edit(by_verdict["HEALTHY_NAT"], ChangeClass.regressed, verdict("CONFLICT_CONFIRMED"))
    edit(by_verdict["CONFLICT_CONFIRMED"], ChangeClass.fixed, verdict("HEALTHY_NAT"))

    def fix_listing(host):
        for check in host.all_checks():
            if check.id == "W-CFG-02":
                check.evidence["lines"] = check.evidence["lines"] + [{"n": 99, "text": "# reviewed"}]
    edit(by_verdict["AT_RISK_LATENT"], ChangeClass.changed, fix_listing)

    def break_check(host):
        next(c for c in host.all_checks() if c.status is CheckStatus.passed).status = CheckStatus.failed
    edit(by_verdict["EDGE_OK"], ChangeClass.regressed, break_check)

    def go_down(host):
        host.status, host.plays, host.error = HostStatus.unreachable, [], "connection refused"
    edit(by_verdict["EDGE_WSL_NAT"], ChangeClass.unreachable, go_down)

    gone = new.hosts.pop()
    expect[gone.name] = ChangeClass.gone
    added = new.hosts[0].model_copy(update={"name": "brand-new", "id": "brand-new"})
    new.hosts.append(added)
    expect["brand-new"] = ChangeClass.new
    return old, new, expect


def test_every_change_class_and_the_same_diff_from_both_backends(sqlite_url, pg_url):  # noqa: F811
    old, new, expect = scans()
    results = []
    for url in (sqlite_url, pg_url):
        with open_store(url) as store:
            store.import_run(old)
            store.import_run(new)
            results.append(diff_runs(store, "scan-1", "scan-2"))
    lite, pg = results
    assert lite == pg
    got = {h.host: h.change for h in lite.hosts}
    for name, change in expect.items():
        assert got[name] is change, name
    down = {h.name for h in old.hosts if h.status.value != "ok" and h.status.value != "failed"}
    assert all(got[n] is ChangeClass.unreachable for n in down if n in got and n not in expect)
    assert sum(lite.counts.values()) == len({h.name for h in old.hosts} | {h.name for h in new.hosts})
    assert lite.counts["new"] == 1 and lite.counts["gone"] == 1
    changed = next(h for h in lite.hosts if h.change is ChangeClass.changed)
    assert changed.checks == [] and changed.listings[0].diff[-1] == "+# reviewed"
    assert [h.change for h in lite.hosts][:2] == [ChangeClass.regressed, ChangeClass.regressed]  # worst first


@pytest.mark.parametrize("share", [0.05, 1.0])
def test_fast_and_slow_paths_agree(sqlite_url, share):  # noqa: F811
    old = make_run(48, hostile=False, run_id="p-1")
    new = make_run(48, hostile=False, run_id="p-2")
    new.started = old.started + timedelta(days=1)
    for host in new.hosts[: max(1, int(len(new.hosts) * share))]:
        for check in host.all_checks():
            if check.status is CheckStatus.passed:
                check.status = CheckStatus.error
                break
    with open_store(sqlite_url) as store:
        store.import_run(old)
        store.import_run(new)
        full = diff_runs(store, "p-1", "p-2")
        changed_only = diff_runs(store, "p-1", "p-2", include_unchanged=False)
    assert full.counts == changed_only.counts
    assert [h for h in full.hosts if h.change is not ChangeClass.unchanged] == changed_only.hosts
    regressed = [h for h in full.hosts if h.change is ChangeClass.regressed]
    assert regressed and all(len(h.checks) == 1 and h.checks[0].new == "error" for h in regressed)
