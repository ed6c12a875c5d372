"""How long planning takes at fleet size: ``python -m bench.plan [--sizes 20000,40000] [--repeat 3]``.

For each size, writes a lab-shaped inventory (the lab's seeded scenario mix, Windows and edge groups
with the lab's group variables, nothing served) and times, in this process, loading it
(``load_inventory``) and ``build_plan`` of both shipped playbooks over it — the work ``auditor run``
does before the first host is contacted. Prints CPU and wall seconds (best of ``--repeat``), the
per-host cost and the size of the pickled plans; measures whatever build_plan is, it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PLAYBOOKS


def write_inventory(hosts: int, seed: int, folder: Path) -> Path:
    from auditor.lab.addressing import assign_addresses
    from auditor.lab.fleet import InventoryEntry, write_fleet_inventory
    from auditor.lab.spread import FleetSpec

    members = FleetSpec(hosts=hosts, seed=seed, cover=False).members()
    addresses = assign_addresses([m.scenario.platform for m in members])
    entries = [InventoryEntry(m.name, m.scenario.platform, a, 5985 if m.scenario.platform == "windows" else 22,
                              m.scenario.name) for m, a in zip(members, addresses)]
    inventory, _ = write_fleet_inventory(folder / f"plan-{hosts}.yml", entries, [])
    return inventory


def measure(inventory: Path, repeat: int) -> dict[str, Any]:
    from auditor.inventory import load_inventory
    from auditor.playbook import load_playbooks
    from auditor.plan import build_plan

    books = load_playbooks([str(p) for p in PLAYBOOKS])
    best: dict[str, Any] = {}
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        inv = load_inventory([str(inventory)])
        c1, w1 = time.process_time(), time.perf_counter()
        plan = build_plan(inv, books)
        c2, w2 = time.process_time(), time.perf_counter()
        row = {"hosts_planned": len(plan), "inventory_cpu_s": round(c1 - c0, 3), "inventory_wall_s": round(w1 - w0, 3),
               "plan_cpu_s": round(c2 - c1, 3), "plan_wall_s": round(w2 - w1, 3)}
        if not best or row["plan_cpu_s"] < best["plan_cpu_s"]:
            best = row
    # what the parent sends to forked workers and holds for the run (plans share equal parts: smaller)
    best["plan_pickle_mb"] = round(len(pickle.dumps(plan)) / 1e6, 1)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20000,40000")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="auditor-bench-plan-") as tmp:
        for n in (int(x) for x in args.sizes.split(",") if x.strip()):
            row = {"hosts": n, **measure(write_inventory(n, args.seed, Path(tmp)), args.repeat)}
            row["plan_us_per_host"] = round(row["plan_cpu_s"] * 1e6 / n, 1)
            rows.append(row)
            print(f"{n:>7,} hosts: load_inventory {row['inventory_cpu_s']:.3f} s CPU ({row['inventory_wall_s']:.3f} s wall), "
                  f"build_plan {row['plan_cpu_s']:.3f} s CPU ({row['plan_wall_s']:.3f} s wall, "
                  f"{row['plan_us_per_host']} us/host), {row['hosts_planned']:,} hosts planned, "
                  f"plans pickle to {row['plan_pickle_mb']} MB", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
