"""The shared store's capacity with several runners writing at once (not a test): K processes, each recording
its share of real host results into one run in PostgreSQL through a ``StoreWriter``, as shard workers do.

    .venv/bin/python -m bench.scale_store REPORT.json [--hosts 20000] [--writers 1,2,4]

REPORT.json is a JSON report of a lab audit (e.g. from bench.scale); its hosts are replicated under new names.
Measured: hosts/s and check rows/s the store took, from the first record() to the last commit of the last
writer. Figures land in bench/results/scale-store-<stamp>.json and feed docs/scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.common import PYTHON, RESULTS, ROOT
from bench.scale import write_figures

PG = "postgresql://postgres@127.0.0.1:5432/test"


def child(url: str, run_id: str, report: str, offset: int, count: int) -> None:
    from auditor.results import HostResult
    from auditor.store import open_store

    hosts = [HostResult.model_validate(h) for h in json.loads(Path(report).read_text())["hosts"]]
    copies = [hosts[i % len(hosts)].model_copy(update={"name": f"h{offset + i:06d}", "id": f"h{offset + i:06d}"})
              for i in range(count)]
    with open_store(url) as store:
        writer = store.writer(run_id)
        t0 = time.time()
        for host in copies:
            writer.record(host)
        writer.close(finish=False)
        print(json.dumps({"start": t0, "end": time.time(), "failed": writer.stats.failed}))


def measure(report: str, hosts: int, writers: int) -> dict[str, Any]:
    from auditor.results import RunResult
    from auditor.store import open_store

    db = f"auditor_bench_store_{os.getpid()}_{writers}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{db}"
    header = RunResult.model_validate({**json.loads(Path(report).read_text()), "hosts": []})
    with open_store(url) as store:
        store.create_run(header.model_copy(update={"run_id": "capacity"}), planned_hosts=[f"h{i:06d}" for i in range(hosts)])
    share = hosts // writers
    procs = [subprocess.Popen([PYTHON, "-m", "bench.scale_store", "--child", url, "capacity", report, str(i * share),
                               str(share)], cwd=ROOT, stdout=subprocess.PIPE, text=True) for i in range(writers)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    wall = max(o["end"] for o in outs) - min(o["start"] for o in outs)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT (SELECT count(*) FROM host_results), (SELECT count(*) FROM check_results)").fetchone()
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    assert rows is not None and rows[0] == share * writers and not any(o["failed"] for o in outs)
    return {"writers": writers, "hosts": rows[0], "wall_s": round(wall, 2), "hosts_per_s": round(rows[0] / wall, 1),
            "check_rows_per_s": round(rows[1] / wall, 1)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--hosts", type=int, default=20000)
    ap.add_argument("--writers", default="1,2,4")
    args = ap.parse_args()
    results = [measure(args.report, args.hosts, int(k)) for k in args.writers.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_figures(f"scale-store-{time.strftime('%Y%m%d-%H%M%S')}", results)


if __name__ == "__main__":
    main()
