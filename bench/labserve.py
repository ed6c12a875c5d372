"""The simulated fleet as a separate process, for when ``auditor lab serve`` is not available.

``python -m bench.labserve --hosts N --seed S --inventory-out PATH [--with-faults]`` starts a seeded
mixed fleet (Windows over WinRS/NTLM, edge nodes over SSH) on loopback, then writes the inventory
atomically (readiness signal: the file appears complete) and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from bench.common import raise_nofile


async def serve(hosts: int, seed: int, out: Path, with_faults: bool) -> None:
    from auditor.lab.fleet import LabFleet
    from auditor.lab.generator import generate_fleet
    from auditor.lab.scenarios import load_library

    members = generate_fleet(load_library(), hosts, seed, reachable_only=not with_faults)
    fleet = LabFleet(members, ports="free")
    await fleet.start()
    try:
        tmp = out.with_name(out.name + ".tmp")
        written, known = fleet.write_inventory(tmp)
        known.rename(out.with_name(out.name.rsplit(".", 1)[0] + ".known_hosts"))
        text = written.read_text().replace(str(known), str(out.with_name(out.name.rsplit(".", 1)[0] + ".known_hosts")))
        written.write_text(text)
        os.replace(written, out)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await fleet.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inventory-out", required=True)
    ap.add_argument("--with-faults", action="store_true")
    args = ap.parse_args()
    raise_nofile()
    asyncio.run(serve(args.hosts, args.seed, Path(args.inventory_out), args.with_faults))


if __name__ == "__main__":
    main()
