"""Real processes on one store: concurrent writers (no "database is locked", no lost row) and a run
killed with SIGKILL mid-way that is then resumed to completion with every host exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from auditor.store import RunState, StoreError, open_store
from tests.report_factory import make_run
from tests.store_fixtures import pg_database, pg_url, store_url  # noqa: F401  (pytest fixtures)

ROOT = Path(__file__).resolve().parents[2]


def child(url: str, run_id: str, count: int, prefix: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.store_child", url, run_id, str(count), prefix, *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    assert "locked" not in err.lower()
    return json.loads(out.strip().splitlines()[-1])


def wait_until(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached before the deadline")


def test_two_runs_written_at_once_into_a_new_store_both_complete(store_url):  # noqa: F811
    n = 600
    procs = [child(store_url, f"run-{p}", n, f"{p}-host", "--create", "--finish", "--pace", "0.001") for p in "ab"]
    stats = [finish(p) for p in procs]
    assert stats[0]["start"] < stats[1]["end"] and stats[1]["start"] < stats[0]["end"]  # they did overlap
    with open_store(store_url) as store:
        for p, s in zip("ab", stats):
            assert s["recorded"] == n and s["failed"] == 0
            record = store.get_run(f"run-{p}")
            assert record.state is RunState.complete
            assert store.recorded_hosts(f"run-{p}") == {f"{p}-host-{i:05d}" for i in range(n)}
            listing = next(r for r in store.list_runs(limit=None) if r.id == f"run-{p}")
            assert listing.hosts_recorded == n and sum(listing.by_status.values()) == n


def test_two_shards_of_one_run_with_a_redelivered_overlap_store_each_host_once(store_url):  # noqa: F811
    template = make_run(16, hostile=False)
    names = [f"h-{i:05d}" for i in range(800)]
    with open_store(store_url) as store:
        store.create_run(template.model_copy(update={"run_id": "sharded", "hosts": []}), planned_hosts=names)
    # shard 1: hosts 0..499, shard 2: hosts 300..799 (300..499 delivered twice)
    procs = [child(store_url, "sharded", 500, "h", "--offset", "0"), child(store_url, "sharded", 500, "h", "--offset", "300")]
    for p in procs:
        assert finish(p)["failed"] == 0
    with open_store(store_url) as store:
        assert store.recorded_hosts("sharded") == set(names)
        assert store.finish_run("sharded").state is RunState.complete
        assert len(store.load_run("sharded").hosts) == 800


def test_a_sigkilled_run_keeps_its_finished_hosts_and_resumes_to_completion(store_url):  # noqa: F811
    n = 400
    proc = child(store_url, "killed", n, "k", "--create", "--pace", "0.01")
    with open_store(store_url) as store:
        wait_until(lambda: _recorded(store, "killed") >= 60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        record = store.get_run("killed")
        assert record.stored_state is RunState.running and record.state is RunState.interrupted and not record.live
        done = store.recorded_hosts("killed")
        planned = [f"k-{i:05d}" for i in range(n)]
        assert 60 <= len(done) < n and done <= set(planned)
        assert store.missing_hosts("killed") == [h for h in planned if h not in done]
        assert len(store.load_run("killed").hosts) == len(done)  # everything committed is readable

        # resume: take the run over, record only the missing hosts, finish
        assert store.claim_run("killed").live
        template = make_run(16, hostile=False)
        missing = store.missing_hosts("killed")
        store.record_hosts("killed", [template.hosts[i % 16].model_copy(update={"name": name, "id": name})
                                      for i, name in enumerate(missing)])
        assert store.finish_run("killed").state is RunState.complete
        names = [h.name for h in store.load_run("killed").hosts]
        assert names == planned  # every host exactly once, in plan order


def _recorded(store, run_id: str) -> int:
    try:
        return len(store.recorded_hosts(run_id))
    except StoreError:  # the child has not created the run yet
        return 0

