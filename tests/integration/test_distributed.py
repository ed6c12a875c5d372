"""`auditor run --dispatch celery` with real `auditor worker` processes, the real Redis (broker and result
backend) and the real PostgreSQL store, against the simulated fleet over real WinRS and SSH.

Each test has a Redis database, queue names and a store schema of its own; the workers and the coordinator
are subprocesses, as on runner machines.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
import yaml

from auditor.errors import ExitCode
from auditor.lab.cli import build_members, expectation_mismatches
from auditor.lab.fleet import LAB_PASSWORD
from auditor.lab.scenarios import load_library
from auditor.results import RunResult
from auditor.store import RunState, open_store
from tests.dist_fixtures import (PLAYBOOKS, ROOT, Lab, broker_url, dispatch, dispatch_args, queue_name,  # noqa: F401
                                 report_of, serve_lab, shard_metas, start_coordinator, wait_until, workers)
from tests.store_fixtures import pg_database, pg_url  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.integration
#: as `auditor demo`: the lab's hung hosts time out quickly, the others answer well within these
TIMEOUTS = ("--connect-timeout", "5", "--command-timeout", "8", "--host-deadline", "12")


@pytest.fixture
def small_lab(tmp_path):
    yield from serve_lab(tmp_path / "lab-small", 60)


def scenario_map(lab: Lab) -> dict:
    """Each host's scenario, for the scenarios whose verdict needs no opt-in check (as `auditor demo` checks)."""
    library = {s.name: s for s in load_library()}
    scenarios = {name: library[v["lab_scenario"]] for name, v in lab.hosts().items()}
    return {name: s for name, s in scenarios.items() if not s.enable}


def test_a_dispatched_run_reports_exactly_what_a_local_run_reports(small_lab, workers, broker_url, pg_url,
                                                                    queue_name, tmp_path):
    w = workers.start("-c", "1")
    workers.wait_ready([w])
    out = tmp_path / "dispatched"
    proc = dispatch(dispatch_args(small_lab.inventory, small_lab.known_hosts, out, broker_url, pg_url,
                                  "--shard-size", "17", *TIMEOUTS), queue_name)
    local = subprocess.run([sys.executable, "-m", "auditor", "run", *PLAYBOOKS, "-i", str(small_lab.inventory),
                            "-o", str(tmp_path / "local"), "--report", "json", "--host-key-checking", "strict",
                            "--known-hosts", str(small_lab.known_hosts), "--store", "none", *TIMEOUTS],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert local.returncode in (ExitCode.CHECKS_FAILED, ExitCode.HOSTS_UNREACHABLE), local.stderr
    assert proc.returncode == local.returncode, proc.stdout + proc.stderr + workers.log_text()[-3000:]
    assert "dispatched 4 shards" in proc.stdout and "Traceback" not in proc.stderr

    def comparable(report: dict) -> dict:
        drop = {"run_id", "started", "finished", "timings", "duration_ms", "workers"}  # measured, not results

        def strip(value):
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if k not in drop}
            if isinstance(value, list):
                return [strip(v) for v in value]
            return value

        return strip(report)

    ours, theirs = report_of(out), report_of(tmp_path / "local")
    assert [h["name"] for h in ours["hosts"]] == [h["name"] for h in theirs["hosts"]]  # plan order, each once
    assert comparable(ours) == comparable(theirs)
    assert ours["options"]["workers"] == 1  # one worker process ran the shards
    with open_store(pg_url) as store:
        assert store.get_run(ours["run_id"]).state is RunState.complete
    assert not expectation_mismatches(RunResult.model_validate(ours), scenario_map(small_lab))


def reachable_scenarios() -> list[str]:
    """Scenario files of hosts that answer promptly (no hung, refused or wrong-password hosts)."""
    return [str(s.path) for s in load_library() if s.reachable and not s.enable]


@pytest.fixture
def big_lab(tmp_path):
    yield from serve_lab(tmp_path / "lab-big", 2000)


def test_2000_hosts_across_3_workers_every_host_exactly_once(big_lab, workers, broker_url, pg_url, queue_name,
                                                             tmp_path):
    procs = [workers.start("-c", "1") for _ in range(3)]
    workers.wait_ready(procs)
    out = tmp_path / "out"
    started = time.monotonic()
    proc = dispatch(dispatch_args(big_lab.inventory, big_lab.known_hosts, out, broker_url, pg_url,
                                  "--shard-size", "100", "--forks", "100", *TIMEOUTS), queue_name)
    print(f"\n2,000 hosts over 3 workers: {time.monotonic() - started:.1f}s (a figure, not an assertion)")
    assert proc.returncode in (ExitCode.CHECKS_FAILED, ExitCode.HOSTS_UNREACHABLE), \
        proc.stdout[-3000:] + proc.stderr + workers.log_text()[-3000:]
    report = report_of(out)
    names = [h["name"] for h in report["hosts"]]
    assert len(names) == 2000 and set(names) == set(big_lab.hosts())  # every host, each exactly once
    assert sum(report["summary"]["by_status"].values()) == 2000
    with open_store(pg_url) as store:
        assert store.get_run(report["run_id"]).state is RunState.complete
        assert store.recorded_hosts(report["run_id"]) == set(names)
    metas = shard_metas(broker_url, report["run_id"])
    assert len(metas) == 20 and {m["status"] for m in metas.values()} == {"SUCCESS"}
    by_worker = Counter(m["result"]["worker"].split(" (pid")[0] for m in metas.values())
    assert sorted(n.split("@")[0] for n in by_worker) == sorted(f"auditor-{p.pid}" for p in procs), by_worker
    assert sum(m["result"]["audited"] for m in metas.values()) == 2000  # no shard delivered twice
    assert not expectation_mismatches(RunResult.model_validate(report), scenario_map(big_lab))


#: how late each steady lab host answers each request (a Windows host answers ~8 per audit, an edge node's command
#: one). The tests below act on a run in flight (kill a runner half way through a shard, SIGTERM the coordinator
#: before the end), and a shard's progress is published every 0.5 s: on a fast machine, prompt hosts finished a
#: 50-host shard in 0.4-0.65 s, before a poll could see it half done; with this, in ~2 s
STEADY_HOST_SECONDS = 0.02


@pytest.fixture
def steady_lab(tmp_path):
    scenarios = reachable_scenarios()
    members = build_members([Path(s) for s in scenarios], 300, 1)
    yield from serve_lab(tmp_path / "lab-steady", 300, *scenarios,
                         *(f"--fault={m.name}=slow:{STEADY_HOST_SECONDS}" for m in members))


def recorded(pg_url: str, run_id: str) -> set[str]:
    with open_store(pg_url) as store:
        return store.recorded_hosts(run_id)


def find_run(pg_url: str) -> str:
    def created() -> str | None:
        with open_store(pg_url) as store:
            runs = store.list_runs(limit=1)
        return runs[0].id if runs else None

    return wait_until(created, 60, "the run created in the store")


def test_kill_9_of_a_worker_mid_shard_loses_nothing_and_duplicates_nothing(steady_lab, workers, broker_url, pg_url,
                                                                          queue_name, tmp_path):
    # a short visibility timeout: the dead runner's shard comes back after 10 s instead of 30 min
    victim, other = (workers.start("-c", "1", "--visibility-timeout", "10") for _ in range(2))
    workers.wait_ready([victim, other])
    out = tmp_path / "out"
    coordinator = start_coordinator(dispatch_args(steady_lab.inventory, steady_lab.known_hosts, out, broker_url, pg_url,
                                                  "--shard-size", "50", "--forks", "3", *TIMEOUTS), queue_name)
    try:
        run_id = find_run(pg_url)

        def half_done_on_victim() -> str | None:
            done = recorded(pg_url, run_id)
            for tid, meta in shard_metas(broker_url, run_id).items():
                result = meta.get("result") or {}
                finished = {h[0] for h in result.get("hosts") or []} if meta["status"] == "PROGRESS" else set()
                if str(result.get("worker", "")).startswith(f"auditor-{victim.pid}@") and len(finished & done) >= 3:
                    return tid
            return None

        shard = wait_until(half_done_on_victim, 120, "a shard half recorded on the victim worker")
        os.killpg(victim.pid, signal.SIGKILL)  # the whole runner: its main process and its pool process
        stdout, stderr = coordinator.communicate(timeout=300)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    assert coordinator.returncode in (ExitCode.OK, ExitCode.CHECKS_FAILED), stdout[-3000:] + stderr
    report = report_of(out)
    names = [h["name"] for h in report["hosts"]]
    assert len(names) == len(set(names)) == 300 and set(names) == set(steady_lab.hosts())
    assert all(h["status"] in ("ok", "failed") for h in report["hosts"]), "every host audited, none lost"
    assert recorded(pg_url, run_id) == set(names)
    with open_store(pg_url) as store:
        assert store.get_run(run_id).state is RunState.complete
    again = shard_metas(broker_url, run_id)[shard]
    assert again["status"] == "SUCCESS" and again["result"]["attempt"] >= 2
    assert again["result"]["worker"].startswith(f"auditor-{other.pid}@")
    assert again["result"]["already_recorded"] >= 3  # what the dead worker recorded was not audited again


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def two_host_inventory(tmp_path: Path) -> Path:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    windows:\n      hosts:\n"
                         "        win-a: {ansible_host: 127.0.0.1, ansible_connection: winrm, ansible_password: pw}\n"
                         "        win-b: {ansible_host: 127.0.0.1, ansible_connection: winrm, ansible_password: pw}\n")
    return inventory


def test_broker_unreachable_at_start_is_one_line_exit_3_and_nothing_is_sent(pg_url, queue_name, tmp_path):
    broker = f"redis://127.0.0.1:{closed_port()}/0"
    inventory = two_host_inventory(tmp_path)
    proc = dispatch(dispatch_args(inventory, tmp_path / "known", tmp_path / "out", broker, pg_url), queue_name, 60)
    assert proc.returncode == ExitCode.HOSTS_UNREACHABLE, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: broker {broker} unreachable") \
        and "nothing was sent" in lines[0], proc.stderr
    with open_store(pg_url) as store:
        assert store.list_runs() == []  # no run created either
    assert not (tmp_path / "out").exists()
    worker = subprocess.run([sys.executable, "-m", "auditor", "worker", "--broker", broker, "--store", pg_url],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert worker.returncode == ExitCode.HOSTS_UNREACHABLE and "unreachable" in worker.stderr
    assert "Traceback" not in worker.stderr + proc.stderr


def test_sigterm_on_the_coordinator_revokes_pending_shards_and_writes_partial_reports(
        steady_lab, workers, broker_url, pg_url, queue_name, tmp_path):
    from auditor.distributed.app import make_app

    w = workers.start("-c", "1")
    workers.wait_ready([w])
    out = tmp_path / "out"
    coordinator = start_coordinator(dispatch_args(steady_lab.inventory, steady_lab.known_hosts, out, broker_url, pg_url,
                                                  "--shard-size", "25", "--forks", "2", *TIMEOUTS), queue_name)
    try:
        run_id = find_run(pg_url)
        wait_until(lambda: len(recorded(pg_url, run_id)) >= 30, 120, "30 hosts recorded")
        coordinator.send_signal(signal.SIGTERM)
        stdout, stderr = coordinator.communicate(timeout=120)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
    assert coordinator.returncode == ExitCode.INTERRUPTED, stdout[-2000:] + stderr
    assert "Traceback" not in stderr
    report = report_of(out)
    assert report["interrupted"] is True and report["stop_reason"] == "interrupted"
    names = [h["name"] for h in report["hosts"]]
    assert len(names) == len(set(names)) == 300  # every host in the partial report, once
    done = {h["name"] for h in report["hosts"] if h["error"] != "run interrupted before this host finished"}
    assert 30 <= len(done) < 300
    with open_store(pg_url) as store:
        assert store.get_run(run_id).state is RunState.interrupted
    app = make_app(broker_url)

    def idle() -> bool:
        active = app.control.inspect(timeout=1.0).active() or {}
        return bool(active) and not any(active.values())

    wait_until(idle, 60, "the worker idle")
    assert recorded(pg_url, run_id) == done  # nothing ran after the report: pending shards were revoked or skipped
    metas = shard_metas(broker_url, run_id)
    assert sum(1 for m in metas.values() if (m.get("result") or {}).get("audited")) < 12


def test_queues_route_each_site_to_its_own_runners(small_lab, workers, broker_url, pg_url, queue_name, tmp_path):
    site_a, site_b = f"{queue_name}-site-a", f"{queue_name}-site-b"
    data = yaml.safe_load(small_lab.inventory.read_text())
    data["all"]["children"]["windows"]["vars"]["auditor_queue"] = site_a  # a group variable maps a site to a queue
    data["all"]["children"]["edge"]["vars"]["auditor_queue"] = site_b
    inventory = small_lab.inventory.with_name("sites.yml")
    inventory.write_text(yaml.safe_dump(data))
    runner_a = workers.start("-c", "1", "--queue", site_a)
    runner_b = workers.start("-c", "1", "--queue", site_b)
    workers.wait_ready([runner_a, runner_b])
    out = tmp_path / "out"
    proc = dispatch(dispatch_args(inventory, small_lab.known_hosts, out, broker_url, pg_url, "--shard-size", "10",
                                  *TIMEOUTS), queue_name)
    assert proc.returncode in (ExitCode.CHECKS_FAILED, ExitCode.HOSTS_UNREACHABLE), proc.stdout[-2000:] + proc.stderr
    report = report_of(out)
    site = {h["name"]: site_a if "windows" in h["groups"] else site_b for h in report["hosts"]}
    assert len(site) == 60 and set(site.values()) == {site_a, site_b}
    metas = shard_metas(broker_url, report["run_id"])
    seen = set()
    for meta in metas.values():
        hosts = meta["args"][0]["hosts"]
        assert {site[h] for h in hosts} == {meta["queue"]}  # a shard holds one site's hosts, sent to its queue
        runner = runner_a if meta["queue"] == site_a else runner_b
        assert meta["result"]["worker"].startswith(f"auditor-{runner.pid}@")  # and ran on that site's runner
        seen.update(hosts)
    assert seen == set(site)


def test_a_bad_queue_variable_is_bad_input(pg_url, broker_url, queue_name, tmp_path):
    inventory = two_host_inventory(tmp_path)
    inventory.write_text(inventory.read_text() + "  vars:\n    auditor_queue: 'not a queue!'\n")
    proc = dispatch(dispatch_args(inventory, tmp_path / "known", tmp_path / "out", broker_url, pg_url), queue_name, 60)
    assert proc.returncode == ExitCode.BAD_INPUT and "auditor_queue" in proc.stderr and "Traceback" not in proc.stderr


def test_a_shard_that_keeps_failing_is_reported_host_by_host(workers, broker_url, pg_url, queue_name, tmp_path):
    # the worker records into another store, where the run does not exist: every attempt fails the same way
    w = workers.start("-c", "1", store=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    workers.wait_ready([w])
    out = tmp_path / "out"
    proc = dispatch(dispatch_args(two_host_inventory(tmp_path), tmp_path / "known", out, broker_url, pg_url,
                                  "--shard-size", "1"), queue_name, 300)
    assert proc.returncode == ExitCode.HOSTS_UNREACHABLE, proc.stdout[-2000:] + proc.stderr
    report = report_of(out)
    assert [h["name"] for h in report["hosts"]] == ["win-a", "win-b"]
    for i, host in enumerate(report["hosts"]):
        assert host["status"] == "error"
        assert host["error"].startswith(f"shard {i + 1}/2 failed on auditor-{w.pid}@"), host["error"]
        assert "after 4 attempts" in host["error"] and "no run" in host["error"], host["error"]
    with open_store(pg_url) as store:
        assert store.get_run(report["run_id"]).state is RunState.incomplete
    assert "2 shards failed" in proc.stdout


def vaulted_inventory(lab: Lab, vault_pass: Path) -> Path:
    """The lab's inventory with its password as a !vault value made by ansible-vault itself."""
    encrypted = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "encrypt_string",
                                "--vault-password-file", str(vault_pass), LAB_PASSWORD, "--name", "ansible_password"],
                               capture_output=True, text=True, check=True).stdout
    data = yaml.safe_load(lab.inventory.read_text())
    for group in data["all"]["children"].values():
        del group["vars"]["ansible_password"]
    text = yaml.safe_dump(data) + "  vars:\n" + textwrap.indent(encrypted.strip() + "\n", "    ")
    path = lab.inventory.with_name("vaulted.yml")
    path.write_text(text)
    assert LAB_PASSWORD not in text
    return path


def test_no_secret_crosses_the_broker(small_lab, workers, broker_url, pg_url, queue_name, tmp_path):
    vault_secret = "correct horse battery staple"
    vault_pass = tmp_path / "vault-pass"
    vault_pass.write_text(vault_secret + "\n")
    inventory = vaulted_inventory(small_lab, vault_pass)
    w = workers.start("-c", "1")
    workers.wait_ready([w])
    db = int(broker_url.rsplit("/", 1)[1])
    captured: list[str] = []
    marker = f"end-of-test-{queue_name}"
    listening = threading.Event()

    def monitor() -> None:  # everything any client sends to our Redis database, raw
        client = redis.Redis.from_url(broker_url)
        with client.monitor() as m:
            listening.set()
            for command in m.listen():
                if command["db"] == db:
                    captured.append(command["command"])
                if marker in command["command"]:
                    return

    thread = threading.Thread(target=monitor, daemon=True)
    thread.start()
    listening.wait(10)
    out = tmp_path / "out"
    proc = dispatch(dispatch_args(inventory, small_lab.known_hosts, out, broker_url, pg_url, "--shard-size", "20",
                                  "--vault-password-file", str(vault_pass), *TIMEOUTS), queue_name)
    redis.Redis.from_url(broker_url).echo(marker)
    thread.join(30)
    assert proc.returncode in (ExitCode.CHECKS_FAILED, ExitCode.HOSTS_UNREACHABLE), proc.stdout[-2000:] + proc.stderr
    report = report_of(out)
    assert sum(h["status"] in ("ok", "failed") for h in report["hosts"]) >= 50  # the runner opened the vault itself
    secrets = [LAB_PASSWORD.encode(), vault_secret.encode()]
    bodies = []
    for command in captured:
        assert not any(s in command.encode() for s in secrets)
        for chunk in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", command):  # kombu base64-encodes message bodies
            try:
                decoded = base64.b64decode(chunk + "=" * (-len(chunk) % 4))
            except ValueError:
                continue
            assert not any(s in decoded for s in secrets)
            if b"vault_password_files" in decoded:
                bodies.append(decoded)
    assert len(bodies) >= 3 and all(str(vault_pass).encode() in b for b in bodies)  # the shards: a path, no secret


def test_fail_on_sets_the_exit_code_of_a_dispatched_run(workers, broker_url, pg_url, queue_name, tmp_path):
    conflict = next(str(s.path) for s in load_library() if s.name == "win-conflict-confirmed")
    lab = serve_lab(tmp_path / "lab-conflict", 3, conflict)
    steady = next(lab)
    try:
        w = workers.start("-c", "1")
        workers.wait_ready([w])
        default = dispatch(dispatch_args(steady.inventory, steady.known_hosts, tmp_path / "a", broker_url, pg_url,
                                         *TIMEOUTS), queue_name)
        never = dispatch(dispatch_args(steady.inventory, steady.known_hosts, tmp_path / "b", broker_url, pg_url,
                                       "--fail-on", "never", *TIMEOUTS), queue_name)
    finally:
        lab.close()
    assert default.returncode == ExitCode.CHECKS_FAILED, default.stdout[-2000:] + default.stderr
    assert never.returncode == ExitCode.OK, never.stdout[-2000:] + never.stderr
