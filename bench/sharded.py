"""What it would take to use both cores: the same audit split across K auditor processes.

``python -m bench.sharded INVENTORY OUT.json --processes K`` runs K ``bench.audit_once`` processes at
once, each on every K-th host (``--limit @file``), and sums what they measured: wall is the slowest
shard, CPU the sum, RSS the sum of peaks. The product runs one process; this is an experiment that
shows the headroom, not a feature.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import time
from pathlib import Path

from bench.common import PYTHON, ROOT


def shard_limits(names: list[str], k: int, workdir: Path) -> list[Path]:
    """K limit files (Ansible's ``--limit @file``: one host name a line), round-robin over ``names``."""
    files = []
    for i in range(k):
        path = workdir / f"shard-{i}-of-{k}.limit"
        path.write_text("".join(f"{n}\n" for n in names[i::k]))
        files.append(path)
    return files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inventory")
    ap.add_argument("out")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--forks", type=int, default=200)
    args = ap.parse_args()
    from auditor.inventory import load_inventory

    names = list(load_inventory([args.inventory]).hosts)
    out = Path(args.out)
    workdir = out.with_suffix(".shards")
    workdir.mkdir(parents=True, exist_ok=True)
    limits = shard_limits(names, args.processes, workdir)
    t0 = time.perf_counter()
    procs = [subprocess.Popen([PYTHON, "-m", "bench.audit_once", args.inventory, str(workdir / f"{i}.json"),
                               "--forks", str(max(1, args.forks // args.processes)), "--limit", f"@{lim}",
                               "--reports", str(workdir / f"reports-{i}")], cwd=ROOT)
             for i, lim in enumerate(limits)]
    codes = [p.wait() for p in procs]
    wall_all = time.perf_counter() - t0
    parts = [json.loads((workdir / f"{i}.json").read_text()) for i in range(args.processes) if codes[i] == 0]
    statuses: collections.Counter[str] = collections.Counter()
    for p in parts:
        statuses.update(p["statuses"])
    result = {"processes": args.processes, "hosts_in_report": sum(p["hosts_in_report"] for p in parts),
              "wall_s": max((p["wall_s"] for p in parts), default=None), "wall_with_startup_s": round(wall_all, 3),
              "cpu_s": round(sum(p["cpu_s"] for p in parts), 3), "rss_mb": round(sum(p["rss_mb"] for p in parts), 1),
              "statuses": dict(statuses), "failed_shards": sum(1 for c in codes if c != 0)}
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
