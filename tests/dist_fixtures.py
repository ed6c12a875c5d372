"""Real parts for the distributed-mode tests: the Redis at AUDITOR_TEST_REDIS_URL (a database number and queue
names of each test's own), the PostgreSQL store (a schema per test, tests/store_fixtures.py), a simulated fleet
served by `auditor lab serve` in a process of its own, and `auditor worker` / `auditor run --dispatch celery`
processes. A service that is down fails the test (never a skip)."""

from __future__ import annotations

import itertools
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.store_fixtures import REDIS_URL

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOKS = [str(ROOT / "playbooks" / "mirrored-mode.yml"), str(ROOT / "playbooks" / "edge-nodes.yml")]
_dbs = itertools.count()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> Any:
    """Poll a real condition until it holds (returns its value) or the deadline passes (fails the test)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"{what}: not reached within {timeout:g}s")


def raise_nofile() -> None:
    """Thousands of simulated hosts need thousands of sockets in the lab and the workers (inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A Redis database of this test's own (numbers 1..15 in turn, emptied of our keys afterwards)."""
    base = REDIS_URL.rsplit("/", 1)[0]
    db = 1 + (os.getpid() + next(_dbs)) % 15
    url = f"{base}/{db}"
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    client.ping()  # fails (never skips) when Redis is not there
    yield url
    for key in client.scan_iter(match="*auditor-*"):
        client.delete(key)
    client.close()


@pytest.fixture
def queue_name() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@dataclass
class Lab:
    inventory: Path
    known_hosts: Path
    proc: subprocess.Popen[str]

    def hosts(self) -> dict[str, dict[str, Any]]:
        """name -> host vars (lab_scenario...), in inventory order."""
        data = yaml.safe_load(self.inventory.read_text())
        out: dict[str, dict[str, Any]] = {}
        for group in data["all"]["children"].values():
            out.update(group["hosts"])
        return out


def serve_lab(tmp: Path, hosts: int, *extra: str) -> Iterator[Lab]:
    raise_nofile()
    inventory = tmp / "lab.yml"
    proc = subprocess.Popen([sys.executable, "-m", "auditor", "lab", "serve", "--hosts", str(hosts), "--ports", "free",
                             "--inventory-out", str(inventory), *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "300"})
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # the inventory line is printed once every host listens
            lines.append(line)
            if line.startswith("inventory:"):
                break
        else:
            raise AssertionError("lab serve stopped: " + "".join(lines))
        yield Lab(inventory, tmp / "lab.known_hosts", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Workers:
    broker: str
    store: str
    env: dict[str, str]
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str, store: str | None = None) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"worker-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "auditor", "worker", "--broker", self.broker,
                                 "--store", store or self.store, "--loglevel", "info", *args],
                                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def node(self, proc: subprocess.Popen[bytes]) -> str:
        return f"auditor-{proc.pid}@"

    def wait_ready(self, procs: list[subprocess.Popen[bytes]], timeout: float = 90.0) -> None:
        """Until every worker answers a Celery ping (a real condition, not a pause)."""
        from auditor.distributed.app import make_app

        app = make_app(self.broker)
        wanted = {self.node(p) for p in procs}

        def answered() -> bool:
            for p in procs:
                assert p.poll() is None, f"worker {p.pid} exited with {p.returncode}: {self.log_text()[-3000:]}"
            names = {name for reply in app.control.ping(timeout=1.0) for name in reply}
            return all(any(n.startswith(w) for n in names) for w in wanted)

        wait_until(answered, timeout, "workers ready")

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("worker-*.log")))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            try:  # pool processes orphaned by a SIGKILLed parent
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def worker_env(queue: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AUDITOR_BROKER", "AUDITOR_STORE")}
    env["AUDITOR_QUEUE"] = queue
    return env


@pytest.fixture
def workers(broker_url: str, pg_url: str, queue_name: str, tmp_path: Path) -> Iterator[Workers]:
    logs = tmp_path / "worker-logs"
    logs.mkdir()
    w = Workers(broker_url, pg_url, worker_env(queue_name), logs)
    try:
        yield w
    finally:
        w.stop()


def dispatch_args(inventory: Path, known_hosts: Path, out: Path, broker: str, store: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "auditor", "run", *PLAYBOOKS, "-i", str(inventory), "--dispatch", "celery",
            "--broker", broker, "--store", store, "-o", str(out), "--report", "json",
            "--host-key-checking", "strict", "--known-hosts", str(known_hosts), *extra]


def dispatch(args: list[str], queue: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env={**worker_env(queue), "COLUMNS": "200"}, capture_output=True, text=True,
                          timeout=timeout)


def start_coordinator(args: list[str], queue: str) -> subprocess.Popen[str]:
    """The coordinator in the background (the test signals it, or kills a worker, while it runs)."""
    return subprocess.Popen(args, cwd=ROOT, env={**worker_env(queue), "COLUMNS": "200"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def report_of(out: Path) -> dict[str, Any]:
    import json

    files = list(out.glob("auditor-*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


def shard_metas(broker: str, run_id: str) -> dict[str, dict[str, Any]]:
    """The shards' states as the result backend holds them (task id -> decoded meta)."""
    import json

    client = redis.Redis.from_url(broker)
    out = {}
    for key in client.scan_iter(match=f"celery-task-meta-auditor-{run_id}-*"):
        raw = client.get(key)
        if raw is not None:
            out[key.decode().removeprefix("celery-task-meta-")] = json.loads(raw)
    client.close()
    return out
