"""The store API on a SQLite file and on the real PostgreSQL server (every test runs on both)."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from auditor.report.redact import redact_run
from auditor.results import CheckStatus, HostResult, PlaybookRef, RunResult, utcnow
from auditor.store import RunState, StoreError, open_store
from auditor.store.schema import check_results, host_results, runs
from tests.report_factory import SECRET_VALUE, make_remediation_run, make_run
from tests.store_fixtures import pg_database, pg_url, store_url  # noqa: F401  (pytest fixtures)


def header(run: RunResult, run_id: str, *, days_ago: float = 0, playbooks: list[PlaybookRef] | None = None) -> RunResult:
    """A new run's header (no hosts yet), as the runner makes it."""
    started = utcnow() - timedelta(days=days_ago)
    return run.model_copy(update={"run_id": run_id, "hosts": [], "started": started, "finished": None,
                                  "playbooks": playbooks or run.playbooks})


def renamed(host: HostResult, name: str) -> HostResult:
    return host.model_copy(update={"name": name, "id": name})


def deadline_wait(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def store(store_url):  # noqa: F811
    with open_store(store_url) as s:
        yield s


def test_a_stored_run_loads_back_exactly_as_its_reports_see_it(store):
    run = make_run(24, hostile=True)
    record = store.import_run(run)
    assert record.state is RunState.complete and record.hosts_planned == 24
    loaded = store.load_run(run.run_id)
    expected = redact_run(run)
    expected.compute_summary()
    assert loaded.model_dump(mode="json") == expected.model_dump(mode="json")
    assert SECRET_VALUE not in loaded.model_dump_json()


def test_remediation_runs_round_trip_too(store):
    run = make_remediation_run(6, check_mode=True)
    store.import_run(run)
    loaded = store.load_run(run.run_id)
    assert loaded.kind == "remediation"
    assert [t.model_dump() for h in loaded.hosts for t in h.all_tasks()] == \
        [t.model_dump() for h in redact_run(run).hosts for t in h.all_tasks()]


def test_recording_a_host_again_replaces_it(store):
    run = make_run(8, hostile=False)
    store.create_run(header(run, "r-idem"), planned_hosts=[h.name for h in run.hosts])
    first = run.hosts[0]
    store.record_host("r-idem", first)
    second = first.model_copy(deep=True)
    for check in second.all_checks():
        check.status = CheckStatus.passed
    store.record_host("r-idem", second)
    store.record_hosts("r-idem", [second, second])  # a redelivered batch holding the host twice
    assert store.recorded_hosts("r-idem") == {first.name}
    with store.engine.connect() as conn:
        n_checks = conn.execute(select(func.count()).select_from(check_results)
                                .where(check_results.c.run_id == "r-idem")).scalar()
        statuses = set(conn.execute(select(check_results.c.status).where(check_results.c.run_id == "r-idem")).scalars())
    assert n_checks == len(second.all_checks()) and statuses == {"passed"}
    assert all(c.status is CheckStatus.passed for c in store.load_run("r-idem").hosts[0].all_checks())


def test_finish_decides_complete_or_incomplete_and_resume_completes(store):
    run = make_run(6, hostile=False)
    names = [h.name for h in run.hosts]
    store.create_run(header(run, "r-res"), planned_hosts=names)
    store.record_hosts("r-res", run.hosts[:4])
    assert store.missing_hosts("r-res") == names[4:]
    assert store.finish_run("r-res").state is RunState.incomplete
    claimed = store.claim_run("r-res")
    assert claimed.state is RunState.running and claimed.live and claimed.finished is None
    store.record_hosts("r-res", run.hosts[4:])
    done = store.finish_run("r-res")
    assert done.state is RunState.complete and store.missing_hosts("r-res") == []
    loaded = store.load_run("r-res")
    assert [h.name for h in loaded.hosts] == names  # plan order, each host once
    with pytest.raises(StoreError, match="is complete: there is nothing to resume"):
        store.claim_run("r-res")


def test_a_running_run_with_a_dead_owner_reads_interrupted(store):
    run = make_run(2, hostile=False)
    store.create_run(header(run, "r-dead"))
    assert store.get_run("r-dead").state is RunState.running
    with store.engine.begin() as conn:  # an owner pid that is not running here
        conn.execute(update(runs).where(runs.c.id == "r-dead").values(owner_pid=_dead_pid()))
    record = store.get_run("r-dead")
    assert record.state is RunState.interrupted and record.stored_state is RunState.running and not record.live
    assert store.claim_run("r-dead").owner_pid == os.getpid()


def test_a_live_run_of_another_local_process_cannot_be_claimed(store):
    run = make_run(2, hostile=False)
    store.create_run(header(run, "r-live"))
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == "r-live").values(owner_pid=1))  # init: alive, not us
    assert store.get_run("r-live").live
    with pytest.raises(StoreError, match="is still running"):
        store.claim_run("r-live")
    with store.engine.begin() as conn:  # a quiet owner (no host finished for minutes) is still alive here
        conn.execute(update(runs).where(runs.c.id == "r-live").values(heartbeat=utcnow() - timedelta(minutes=5)))
    assert store.get_run("r-live").live
    with store.engine.begin() as conn:  # a day without a beat: the pid may belong to another program by now
        conn.execute(update(runs).where(runs.c.id == "r-live").values(heartbeat=utcnow() - timedelta(days=2)))
    assert store.get_run("r-live").state is RunState.interrupted
    assert store.claim_run("r-live").live


def test_another_machine_is_live_while_its_heartbeat_is_fresh(store):
    run = make_run(2, hostile=False)
    store.create_run(header(run, "r-remote"))
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == "r-remote").values(owner_host="worker-7.example", owner_pid=_dead_pid()))
    assert store.get_run("r-remote").state is RunState.running
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == "r-remote").values(heartbeat=utcnow() - timedelta(minutes=2)))
    assert store.get_run("r-remote").state is RunState.interrupted


def test_list_runs_newest_first_with_counts_and_filters(store):
    audit = make_run(16, hostile=False)
    store.import_run(audit.model_copy(update={"run_id": "a-old", "started": utcnow() - timedelta(days=3)}))
    store.import_run(audit.model_copy(update={"run_id": "a-new", "started": utcnow() - timedelta(days=1)}))
    store.import_run(make_remediation_run(4).model_copy(update={"run_id": "rem", "started": utcnow() - timedelta(days=2)}))
    store.create_run(header(audit, "a-running"))
    listings = store.list_runs()
    assert [r.id for r in listings] == ["a-running", "a-new", "rem", "a-old"]
    new = listings[1]
    assert new.hosts_recorded == 16 and sum(new.by_status.values()) == 16
    assert new.by_status == audit.compute_summary().by_status
    headline = {}
    for h in audit.hosts:
        name = max(h.verdicts(), key=lambda v: store.verdict_rank(v.name)).name if h.verdicts() else "-"
        headline[name] = headline.get(name, 0) + 1
    assert new.by_verdict == headline
    assert [r.id for r in store.list_runs(kind="remediation")] == ["rem"]
    assert [r.id for r in store.list_runs(2)] == ["a-running", "a-new"]
    assert [r.id for r in store.list_runs(state=RunState.running)] == ["a-running"]
    assert [r.id for r in store.list_runs(state=RunState.complete, kind="audit")] == ["a-new", "a-old"]


def test_previous_complete_run_and_trend_follow_the_same_playbooks(store):
    run = make_run(8, hostile=False)
    for i, run_id in enumerate(["s1", "s2", "s3"]):
        store.import_run(run.model_copy(update={"run_id": run_id, "started": utcnow() - timedelta(days=10 - i)}))
    store.import_run(run.model_copy(update={"run_id": "other", "playbooks": [PlaybookRef(path="playbooks/other.yml", id="other")],
                                            "started": utcnow() - timedelta(days=5)}))
    store.create_run(header(run, "s4-partial", days_ago=4), planned_hosts=[h.name for h in run.hosts])
    store.record_hosts("s4-partial", run.hosts[:3])
    store.finish_run("s4-partial")
    store.import_run(run.model_copy(update={"run_id": "s5", "started": utcnow() - timedelta(days=3)}))
    assert store.previous_complete_run("s5").id == "s3"  # not the incomplete run, not other playbooks
    assert store.previous_complete_run("s1") is None
    assert store.previous_complete_run("other") is None
    assert store.latest_complete_run().id == "s5"
    trend = store.trend("s5", limit=3)
    assert [p.run_id for p in trend] == ["s2", "s3", "s5"]
    assert all(p.hosts == 8 and sum(p.by_verdict.values()) == 8 for p in trend)
    assert [p.run_id for p in store.trend("s4-partial")] == ["s1", "s2", "s3", "s4-partial"]
    assert store.trend("s4-partial")[-1].hosts == 3


def test_prune_removes_old_runs_with_their_rows_but_never_a_live_one(store):
    run = make_run(8, hostile=False)
    store.import_run(run.model_copy(update={"run_id": "old", "started": utcnow() - timedelta(days=100)}))
    store.import_run(run.model_copy(update={"run_id": "new", "started": utcnow() - timedelta(days=10)}))
    store.create_run(header(run, "old-live", days_ago=120))  # still running: kept whatever its age
    counts = store.prune(timedelta(days=90))
    checks = sum(len(h.all_checks()) for h in run.hosts)
    assert (counts.runs, counts.hosts, counts.checks) == (1, 8, checks)
    assert {r.id for r in store.list_runs()} == {"new", "old-live"}
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(host_results).where(host_results.c.run_id == "old")).scalar() == 0
        assert conn.execute(select(func.count()).select_from(check_results).where(check_results.c.run_id == "old")).scalar() == 0
    assert store.prune(timedelta(days=90)).runs == 0


def test_run_ids_by_unique_prefix_and_clear_errors(store):
    run = make_run(2, hostile=False)
    store.import_run(run.model_copy(update={"run_id": "abc123"}))
    store.import_run(run.model_copy(update={"run_id": "abd456"}))
    assert store.get_run("abc").id == "abc123"
    with pytest.raises(StoreError, match="ambiguous"):
        store.get_run("ab")
    with pytest.raises(StoreError, match="no run 'zzz' in the store"):
        store.load_run("zzz")
    with pytest.raises(StoreError, match="already in the store"):
        store.create_run(header(run, "abc123"))
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.record_host("nope", run.hosts[0])


def test_writer_batches_beats_and_completes(store):
    run = make_run(16, hostile=False)
    hosts = [renamed(run.hosts[i % 16], f"host-{i:04d}") for i in range(300)]
    store.create_run(header(run, "r-writer"), planned_hosts=[h.name for h in hosts])
    before = store.get_run("r-writer").heartbeat
    writer = store.writer("r-writer", interval=0.05, heartbeat_every=0.05)
    producer = threading.Thread(target=lambda: [writer.record(h) for h in hosts])
    producer.start()
    producer.join()
    assert writer.flush(timeout=60)
    assert store.recorded_hosts("r-writer") == {h.name for h in hosts}
    assert deadline_wait(lambda: store.get_run("r-writer").heartbeat > before)
    record = writer.close()
    assert record is not None and record.state is RunState.complete
    assert writer.stats.recorded == 300 and writer.stats.failed == 0
    assert 1 <= writer.stats.batches < 300  # batched, not one transaction per host


def test_writer_starts_its_thread_with_the_first_host(store):
    # auditor.workers forks its workers only while the process has one thread: a writer made before them
    # must not have started one yet
    run = make_run(2, hostile=False)
    store.create_run(header(run, "r-lazy"), planned_hosts=[h.name for h in run.hosts])
    threads = threading.active_count()
    writer = store.writer("r-lazy")
    assert threading.active_count() == threads
    writer.record(run.hosts[0])
    assert threading.active_count() == threads + 1
    assert writer.close().state is RunState.incomplete
    assert threading.active_count() == threads


def test_writer_context_manager_marks_an_interrupted_run(store):
    run = make_run(4, hostile=False)
    store.create_run(header(run, "r-int"), planned_hosts=[h.name for h in run.hosts])
    with pytest.raises(KeyboardInterrupt), store.writer("r-int") as writer:
        writer.record(run.hosts[0])
        raise KeyboardInterrupt
    record = store.get_run("r-int")
    assert record.state is RunState.interrupted and store.recorded_hosts("r-int") == {run.hosts[0].name}


def test_writer_that_cannot_store_counts_the_loss_and_says_so(store):
    run = make_run(4, hostile=False)
    writer = store.writer("no-such-run", retry_delays=(0.01,))
    for host in run.hosts:
        writer.record(host)  # never raises into the audit
    assert writer.flush(timeout=30)
    with pytest.raises(StoreError, match="4 host results of run no-such-run could not be stored"):
        writer.close(finish=False)
    assert writer.stats.failed == 4


def _dead_pid() -> int:
    """A pid no process has now: a child that has exited and been reaped."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
