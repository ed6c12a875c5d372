"""The simulated fleet as a separate process, for the benchmark.

``python -m bench.labserve --hosts N --seed S --inventory-out PATH [--with-faults]`` serves a seeded
mixed fleet (Windows over WinRS/NTLM, edge nodes over SSH) on loopback — in this process, or spread
over several when one process's open-file limit cannot hold it (auditor/lab/spread.py) — then writes
the inventory atomically (readiness signal: the file appears complete) and serves until SIGTERM/SIGINT.
Without ``--with-faults`` the fault scenarios are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from auditor.lab.addressing import nofile_limit, plan_processes, system_free_files
from auditor.lab.spread import FleetSpec, SpreadFleet


def publish(write: Callable[[Path], tuple[Path, Path]], out: Path) -> None:
    """Write the inventory beside ``out`` under a temporary name, then rename it into place."""
    tmp = out.with_name(out.name + ".tmp")
    written, known = write(tmp)
    final_known = out.with_name(out.name.rsplit(".", 1)[0] + ".known_hosts")
    known.rename(final_known)
    written.write_text(written.read_text().replace(str(known), str(final_known)))
    os.replace(written, out)


async def serve_here(spec: FleetSpec, out: Path) -> None:
    from auditor.lab.fleet import LabFleet, settle_for_serving

    fleet = LabFleet(spec.members(), ports=spec.ports)
    await fleet.start()
    settle_for_serving()
    try:
        publish(fleet.write_inventory, out)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await fleet.stop()


def serve_spread(spec: FleetSpec, processes: int, out: Path) -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    fleet = SpreadFleet(spec, processes)
    fleet.start()
    try:
        publish(fleet.write_inventory, out)
        stop.wait()
    finally:
        fleet.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inventory-out", required=True)
    ap.add_argument("--with-faults", action="store_true")
    args = ap.parse_args()
    spec = FleetSpec(hosts=args.hosts, seed=args.seed, cover=False, reachable_only=not args.with_faults, ports="free")
    plan = plan_processes(args.hosts, nofile_limit(), system_free_files())
    print(f"serving {args.hosts} hosts in {plan.processes} process(es)", flush=True)
    if plan.processes == 1:
        asyncio.run(serve_here(spec, Path(args.inventory_out)))
    else:
        serve_spread(spec, plan.processes, Path(args.inventory_out))


if __name__ == "__main__":
    main()
