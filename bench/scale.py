"""Scale-out figures (not a test): the same fleet audited by `auditor run --dispatch celery` with 1 worker,
then 2 workers, on this machine; and a local `auditor run` of it for reference.

    .venv/bin/python -m bench.scale [--hosts 5000] [--shard-size 250] [--forks 200] [--redis redis://127.0.0.1:6379/14]

Needs the Redis and PostgreSQL the tests use (scripts/services.sh). The fleet (bench.labserve, no fault hosts)
runs in a process of its own; each run records into a fresh PostgreSQL database. Measured per run: wall time of
the coordinator process (plan, send, wait, load from the store, JSON report), its CPU, the workers' CPU, the
store's write rate as hosts appear in PostgreSQL (polled every 0.25 s), check rows per host, and Redis commands
(``INFO stats``) per host. Figures land in bench/results/scale-<stamp>.json and feed docs/scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import redis

from bench.common import BIN, PLAYBOOKS, PYTHON, RESULTS, ROOT, proc_cpu_s, raise_nofile

PG = "postgresql://postgres@127.0.0.1:5432/test"


def pg_admin(sql: str) -> None:
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(sql)


def serve_fleet(hosts: int, workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    inventory = workdir / "fleet.yml"
    proc = subprocess.Popen([PYTHON, "-m", "bench.labserve", "--hosts", str(hosts), "--inventory-out", str(inventory)],
                            cwd=ROOT)
    end = time.monotonic() + 600
    while not inventory.exists():  # written atomically once every host listens
        if proc.poll() is not None or time.monotonic() > end:
            raise SystemExit("the lab did not start")
        time.sleep(0.2)
    return proc, inventory


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (a worker and its pool process)."""
    total = proc_cpu_s(pid) or 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(tree_cpu(int(c)) for c in children)


def start_workers(n: int, broker: str, store: str, queue: str, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "AUDITOR_QUEUE": queue}
    procs = [subprocess.Popen([str(BIN / "auditor"), "worker", "--broker", broker, "--store", store, "-c", "1",
                               "--loglevel", "warning"], env=env, cwd=ROOT, start_new_session=True,
                              stdout=open(logs / f"worker-{n}-{i}.log", "wb"), stderr=subprocess.STDOUT)
             for i in range(n)]
    from auditor.distributed.app import make_app

    app = make_app(broker)
    wanted = {f"auditor-{p.pid}@" for p in procs}
    end = time.monotonic() + 120
    while time.monotonic() < end:
        names = {name for reply in app.control.ping(timeout=1.0) for name in reply}
        if all(any(n.startswith(w) for n in names) for w in wanted):
            return procs
    raise SystemExit("workers did not start")


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)


class StoreRate:
    """Polls how many hosts the run has in PostgreSQL; the write rate is what the store actually took."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            while not self.stop.wait(0.25):  # the sampling period of a measurement
                try:
                    n = conn.execute("SELECT count(*) FROM host_results").fetchone()
                except psycopg.errors.UndefinedTable:
                    continue
                self.samples.append((time.monotonic(), int(n[0]) if n else 0))

    def figures(self) -> dict[str, Any]:
        moving = [(t, n) for t, n in self.samples if n > 0]
        if len(moving) < 2:
            return {}
        first = next(t for t, n in self.samples if n > 0)
        last = next(t for t, n in self.samples if n == moving[-1][1])
        peak = 0.0
        for (t0, n0), (t1, n1) in zip(moving, moving[8:]):  # 2 s windows
            peak = max(peak, (n1 - n0) / (t1 - t0))
        return {"hosts_per_s_mean": round(moving[-1][1] / max(0.001, last - first), 1),
                "hosts_per_s_peak_2s": round(peak, 1)}


def dispatched(hosts: int, workers: int, inventory: Path, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    db = f"auditor_bench_{os.getpid()}_{workers}"
    pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    pg_admin(f'CREATE DATABASE "{db}"')
    store = f"postgresql://postgres@127.0.0.1:5432/{db}"
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    procs = start_workers(workers, args.redis, store, queue, workdir)
    rds = redis.Redis.from_url(args.redis)
    cmd0 = int(rds.info("stats")["total_commands_processed"])
    cpu0 = sum(tree_cpu(p.pid) for p in procs)
    rate = StoreRate(store)
    rate.thread.start()
    out = workdir / f"out-{workers}"
    t0 = time.perf_counter()
    coord = subprocess.Popen([str(BIN / "auditor"), "run", *map(str, PLAYBOOKS), "-i", str(inventory), "--dispatch",
                              "celery", "--broker", args.redis, "--store", store, "--shard-size", str(args.shard_size),
                              "--forks", str(args.forks), "--host-key-checking", "off", "--report", "json", "-q",
                              "-o", str(out), "--connect-timeout", "10", "--host-deadline", "60"],
                             cwd=ROOT, env={**os.environ, "AUDITOR_QUEUE": queue})
    _, status, usage = os.wait4(coord.pid, 0)
    wall = time.perf_counter() - t0
    rate.stop.set()
    rate.thread.join()
    worker_cpu = sum(tree_cpu(p.pid) for p in procs) - cpu0
    commands = int(rds.info("stats")["total_commands_processed"]) - cmd0
    stop_workers(procs)
    report = json.loads(next(out.glob("auditor-*.json")).read_text())
    with psycopg.connect(store, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM check_results").fetchone()
        checks = int(row[0]) if row else 0
    pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return {
        "workers": workers, "exit_code": os.waitstatus_to_exitcode(status), "hosts_in_report": len(report["hosts"]),
        "statuses": report["summary"]["by_status"], "wall_s": round(wall, 2),
        "coordinator_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "coordinator_cpu_ms_per_host": round((usage.ru_utime + usage.ru_stime) * 1000 / hosts, 3),
        "coordinator_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "workers_cpu_s": round(worker_cpu, 2), "workers_cpu_ms_per_host": round(worker_cpu * 1000 / hosts, 2),
        "store": {**rate.figures(), "check_rows_per_host": round(checks / hosts, 1)},
        "redis_commands": commands, "redis_commands_per_host": round(commands / hosts, 2),
        "shards": -(-hosts // args.shard_size),
    }


def local(hosts: int, inventory: Path, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / "out-local"
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "auditor"), "run", *map(str, PLAYBOOKS), "-i", str(inventory), "--store",
                             "none", "--forks", str(args.forks), "--host-key-checking", "off", "--report", "json",
                             "-q", "-o", str(out), "--connect-timeout", "10", "--host-deadline", "60"], cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    return {"wall_s": round(time.perf_counter() - t0, 2), "exit_code": os.waitstatus_to_exitcode(status),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "hosts_in_report": len(json.loads(next(out.glob("auditor-*.json")).read_text())["hosts"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=5000)
    ap.add_argument("--shard-size", type=int, default=250)
    ap.add_argument("--forks", type=int, default=200)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = ap.parse_args()
    raise_nofile()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = RESULTS / f"scale-{stamp}"
    workdir.mkdir()
    lab, inventory = serve_fleet(args.hosts, workdir)
    try:
        result: dict[str, Any] = {"hosts": args.hosts, "shard_size": args.shard_size, "forks": args.forks,
                                  "cores": os.cpu_count(), "local": local(args.hosts, inventory, args, workdir)}
        for n in (1, 2):
            result[f"dispatched_{n}"] = dispatched(args.hosts, n, inventory, args, workdir)
            print(json.dumps(result[f"dispatched_{n}"]), flush=True)
        one, two = result["dispatched_1"]["wall_s"], result["dispatched_2"]["wall_s"]
        result["speedup_2_over_1"] = round(one / two, 2)
        result["scaling_efficiency_2"] = round(one / two / 2, 2)
    finally:
        lab.send_signal(signal.SIGTERM)
        lab.wait(timeout=120)
    write_figures(f"scale-{stamp}", result)


def write_figures(name: str, figures: Any) -> None:
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
