"""The store's measured figures (not tests): write rate, drift time, and its cost on a real audit.

    .venv/bin/python -m bench.store                          # everything: SQLite and PostgreSQL, 1,000-host audit
    .venv/bin/python -m bench.store --skip-audit --hosts 5000

1. **Host results from a real lab run**: ``auditor demo`` (the simulated fleet over WinRS and SSH, every
   scenario, failing hosts included) writes a JSON report; its hosts are replicated under new names to
   the sizes measured (``--source REPORT.json`` uses a saved report instead).
2. **Write rate**: N hosts recorded through a ``StoreWriter`` (batches every 0.2 s) as fast as the caller
   can hand them over, into a new SQLite file and into a new PostgreSQL database: hosts/s and check
   rows/s from the first ``record()`` until everything is committed; the writer thread's own time; bytes
   per host on disk (SQLite). Preparing the rows (scrub, bounds, digests, zlib) is included.
3. **Drift time**: ``diff_runs`` of two N-host runs (median of 5), as ``auditor diff`` calls it, with
   5 % of hosts drifted (verdict, check status, or the .wslconfig edited) and with every host drifted.
4. **Cost on a real audit**: the 1,000-host lab fleet audited in a fresh process per run (plan, two worker
   processes, JSON report, as ``auditor run``), alternately without and with the store (SQLite, default
   settings; the writer is closed and the run finished before the clock stops); median wall of each.

Figures land in bench/results/store-<UTC stamp>.json and are printed as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.common import PYTHON, RESULTS, ROOT, raise_nofile

DRIFT_SHARE = 0.05


def demo_report(hosts: int, seed: int, workdir: Path) -> Path:
    out = workdir / "demo"
    proc = subprocess.run([PYTHON, "-m", "auditor", "demo", "--hosts", str(hosts), "--seed", str(seed),
                           "--report", "json", "--output", str(out)], capture_output=True, text=True, cwd=ROOT)
    reports = list(out.glob("auditor-*.json"))
    if not reports:
        raise RuntimeError(f"auditor demo wrote no report (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return reports[0]


def replicate(source: Any, n: int, run_id: str, started: datetime) -> Any:
    """A run of ``n`` hosts made of the source run's hosts under new names."""
    base = source.hosts
    hosts = []
    for i in range(n):  # deep copies: a later scan edits some hosts, and only those
        name = f"{base[i % len(base)].name}-{i // len(base):03d}"
        hosts.append(base[i % len(base)].model_copy(update={"name": name, "id": name}, deep=True))
    return source.model_copy(update={"run_id": run_id, "hosts": hosts, "started": started,
                                     "finished": started + timedelta(minutes=1)})


def drifted(run: Any, share: float, run_id: str) -> Any:
    """A later scan of ``run`` in which ``share`` of the reached hosts changed: a third each get another
    verdict, a check turned from passed to failed, or their .wslconfig listing edited."""
    from auditor.results import CheckStatus

    later = run.model_copy(deep=True)
    later.run_id, later.started = run_id, run.started + timedelta(days=7)
    reached = [h for h in later.hosts if h.plays and h.all_checks()]
    for i, host in enumerate(reached[: max(1, int(len(later.hosts) * share))]):
        kind = i % 3
        if kind == 0 and host.plays[0].verdict is not None:
            host.plays[0].verdict.name = "HEALTHY_NAT" if host.plays[0].verdict.name != "HEALTHY_NAT" else "CONFLICT_CONFIRMED"
        elif kind == 1:
            for check in host.all_checks():
                if check.status is CheckStatus.passed:
                    check.status = CheckStatus.failed
                    break
        else:
            for check in host.all_checks():
                lines = check.evidence.get("lines")
                if isinstance(lines, list):
                    check.evidence["lines"] = [*lines, {"n": len(lines) + 1, "text": "# edited"}]
    return later


def pg_database(base_url: str) -> tuple[str, Any]:
    """A new database on the PostgreSQL server for this benchmark, and a function that drops it."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"auditor_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    def connect() -> Any:
        return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                               dbname=url.database, autocommit=True)
    with connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return url.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False), drop


def measure_writes(url: str, run: Any) -> dict[str, Any]:
    from auditor.store import open_store

    with open_store(url) as store:
        store.create_run(run.model_copy(update={"hosts": []}), planned_hosts=[h.name for h in run.hosts])
        writer = store.writer(run.run_id)
        t0 = time.perf_counter()
        for host in run.hosts:
            writer.record(host)
        writer.flush()
        elapsed = time.perf_counter() - t0
        writer.close()
    checks = sum(len(h.all_checks()) for h in run.hosts)
    return {"hosts": len(run.hosts), "seconds": round(elapsed, 3), "hosts_per_s": round(len(run.hosts) / elapsed),
            "check_rows_per_s": round(checks / elapsed), "writer_busy_s": round(writer.stats.busy_s, 3),
            "batches": writer.stats.batches}


def measure_prepare(run: Any) -> dict[str, Any]:
    """CPU of turning hosts into rows (scrub, bounds, digests, compression), one thread."""
    from auditor.results import utcnow
    from auditor.store.rows import host_rows

    hosts = run.hosts[:1000]
    t0 = time.process_time()
    sizes = [len(host_rows(run.run_id, h, utcnow()).host["document"]) for h in hosts]
    cpu = time.process_time() - t0
    return {"cpu_ms_per_host": round(cpu * 1000 / len(hosts), 3), "compressed_bytes_per_host": round(statistics.mean(sizes))}


def measure_diff(url: str, old: Any, new_runs: list[Any], repeats: int = 5) -> dict[str, Any]:
    from auditor.history.diff import diff_runs
    from auditor.store import open_store

    out: dict[str, Any] = {}
    with open_store(url) as store:
        store.import_run(old)
        for new in new_runs:
            store.import_run(new)
            times, result = [], None
            for _ in range(repeats):
                t0 = time.perf_counter()
                result = diff_runs(store, old.run_id, new.run_id)
                times.append(time.perf_counter() - t0)
            assert result is not None
            out[new.run_id] = {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
                               "counts": result.counts}
    return out


def audit_pairs(hosts: int, pairs: int, workdir: Path) -> dict[str, Any]:
    from bench.run import Lab

    lab = Lab(hosts, 1, workdir, with_faults=False)
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    try:
        lab.wait_ready()
        for i in range(pairs):
            for mode in (("off", "on") if i % 2 == 0 else ("on", "off")):  # alternate who goes first
                out = workdir / f"audit-{mode}-{i}.json"
                cmd = [PYTHON, "-m", "bench.store_audit", str(lab.inventory), str(out)]
                if mode == "on":
                    cmd += ["--store", f"sqlite:///{workdir / f'audit-{i}.db'}"]
                subprocess.run(cmd, check=True, cwd=ROOT)
                runs[mode].append(json.loads(out.read_text()))
    finally:
        lab.stop()
    off = statistics.median(r["wall_s"] for r in runs["off"])
    on = statistics.median(r["wall_s"] for r in runs["on"])
    return {"hosts": hosts, "pairs": pairs, "off_wall_s": [r["wall_s"] for r in runs["off"]],
            "on_wall_s": [r["wall_s"] for r in runs["on"]], "off_median_s": off, "on_median_s": on,
            "off_cpu_s": [r["cpu_s"] for r in runs["off"]], "on_cpu_s": [r["cpu_s"] for r in runs["on"]],
            "cost_pct": round((on - off) / off * 100, 1),
            "writer": [r["writer"] for r in runs["on"]], "states": [r["state"] for r in runs["on"]]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", help="a saved JSON report to take host results from (default: a fresh auditor demo)")
    ap.add_argument("--demo-hosts", type=int, default=100)
    ap.add_argument("--hosts", type=int, default=5000, help="hosts per stored run (write rate and drift)")
    ap.add_argument("--pg", default=os.environ.get("AUDITOR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--audit-hosts", type=int, default=1000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--skip-audit", action="store_true")
    ap.add_argument("--audit-only", action="store_true", help="only the cost on a real audit (step 4)")
    args = ap.parse_args()
    raise_nofile()
    sys.path.insert(0, str(ROOT))
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory(prefix="auditor-bench-store-") as tmp:
        work = Path(tmp)
        if not args.audit_only:
            store_figures(args, work, figures)
        if not args.skip_audit:
            figures["audit"] = audit_pairs(args.audit_hosts, args.pairs, work)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"store-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(figures, indent=2, default=str))
    print(json.dumps(figures, indent=2, default=str))
    print(f"figures: {out}")


def store_figures(args: argparse.Namespace, work: Path, figures: dict[str, Any]) -> None:
    """Steps 1-3: host results from a lab run, write rates, drift times."""
    from auditor.report.schema import load_report

    source_path = Path(args.source) if args.source else demo_report(args.demo_hosts, 11, work)
    source = load_report(source_path)
    figures["source"] = {"report": "saved" if args.source else f"auditor demo --hosts {args.demo_hosts}",
                         "hosts": len(source.hosts),
                         "checks_per_host": round(sum(len(h.all_checks()) for h in source.hosts) / len(source.hosts), 1),
                         "json_bytes_per_host": round(len(source.model_dump_json()) / len(source.hosts))}
    now = datetime.now(timezone.utc)
    base = replicate(source, args.hosts, "bench-w", now - timedelta(days=30))
    figures["prepare"] = measure_prepare(base)
    pg_url, drop = pg_database(args.pg)
    try:
        sqlite_url = f"sqlite:///{work / 'writes.db'}"
        figures["writes"] = {"sqlite": measure_writes(sqlite_url, base), "postgresql": measure_writes(pg_url, base)}
        figures["writes"]["sqlite"]["file_bytes_per_host"] = round(
            sum(p.stat().st_size for p in work.glob("writes.db*")) / len(base.hosts))
        old = replicate(source, args.hosts, "bench-old", now - timedelta(days=14))
        news = [drifted(old, DRIFT_SHARE, "bench-new-5pct"), drifted(old, 1.0, "bench-new-all")]
        figures["diff"] = {"sqlite": measure_diff(f"sqlite:///{work / 'diff.db'}", old, news),
                           "postgresql": measure_diff(pg_url, old, news)}
    finally:
        drop()


if __name__ == "__main__":
    main()
