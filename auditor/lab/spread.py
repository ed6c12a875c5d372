"""A lab fleet served by several processes, when one process may not open enough files.

Every simulated host holds a listening socket and one descriptor per connection, all counted
against a process's open-file limit (``RLIMIT_NOFILE``). ``SpreadFleet`` starts ``k`` shard
processes (``python -m auditor.lab.spread``); each regenerates the same seeded fleet, serves every
k-th host at the address it has in the whole fleet (auditor/lab/addressing.py), and writes a part
file (ports, SSH host keys) once its hosts listen. The parent merges the parts into one inventory
and known_hosts file, and stops the shards on ``stop()``; a shard also stops when its stdin (a pipe
from the parent) closes, so a parent killed outright leaves no shard behind.

    fleet = SpreadFleet(FleetSpec(hosts=20000, seed=1), processes=2)
    fleet.start()                          # returns once every host of every shard listens
    fleet.write_inventory("lab.yml")
    ...
    fleet.stop()
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from auditor.lab.fleet import LAB_PASSWORD, LAB_USER, InventoryEntry, LabFleet, settle_for_serving, write_fleet_inventory
from auditor.lab.generator import FleetMember

READY_TIMEOUT = 600.0
STOP_TIMEOUT = 30.0


class ShardFailed(Exception):
    """A shard process could not start its hosts (its own message, e.g. an address in use)."""


@dataclass
class FleetSpec:
    """What to serve; every shard rebuilds the same members from it (the generator is seeded)."""

    scenario_files: list[str] = field(default_factory=list)   # empty: the shipped library
    hosts: int | None = None                                   # None: one host per scenario
    seed: int = 1
    cover: bool = True
    reachable_only: bool = False
    ports: str = "free"
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)

    def members(self) -> list[FleetMember]:
        from auditor.lab.generator import generate_fleet, name_hosts
        from auditor.lab.scenarios import load_library, load_scenario

        library = [load_scenario(Path(p)) for p in self.scenario_files] if self.scenario_files else load_library()
        if self.hosts is None:
            return name_hosts(library)
        return generate_fleet(library, self.hosts, self.seed, cover=self.cover, reachable_only=self.reachable_only)


class SpreadFleet:
    def __init__(self, spec: FleetSpec, processes: int, workdir: str | Path | None = None):
        self.spec, self.processes = spec, processes
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="auditor-lab-spread-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.entries: list[InventoryEntry] = []
        self.known_hosts: list[str] = []

    def _part(self, i: int) -> Path:
        return self.workdir / f"part-{i}.json"

    def _log(self, i: int) -> Path:
        return self.workdir / f"shard-{i}.log"

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Start every shard and wait until all listen; ``ShardFailed`` when one cannot."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        spec_file = self.workdir / "spec.json"
        spec_file.write_text(json.dumps(asdict(self.spec)), encoding="utf-8")
        try:
            for i in range(self.processes):
                self._part(i).unlink(missing_ok=True)
                with open(self._log(i), "wb") as log:
                    self.procs.append(subprocess.Popen(
                        [sys.executable, "-m", "auditor.lab.spread", str(spec_file), str(i), str(self.processes),
                         str(self._part(i))], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE))
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise
        parts = [json.loads(self._part(i).read_text(encoding="utf-8")) for i in range(self.processes)]
        rows = sorted((e for p in parts for e in p["entries"]), key=lambda e: e["index"])
        self.entries = [InventoryEntry(e["name"], e["platform"], e["address"], e["port"], e["scenario"]) for e in rows]
        self.known_hosts = [line for p in parts for line in p["known_hosts"]]

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(range(self.processes))
        while pending:
            for i in sorted(pending):
                if self._part(i).exists():
                    pending.discard(i)
                elif self.procs[i].poll() is not None:
                    text = self._log(i).read_text(encoding="utf-8", errors="replace").strip()
                    raise ShardFailed(text.splitlines()[-1] if text else f"shard {i} exited with {self.procs[i].returncode}")
            if time.monotonic() > deadline:
                raise ShardFailed(f"{len(pending)} lab process(es) did not start their hosts within {timeout:g}s")
            if pending:
                try:
                    self.procs[min(pending)].wait(timeout=0.1)  # wakes early if that shard dies
                except subprocess.TimeoutExpired:
                    pass

    def write_inventory(self, path: str | Path) -> tuple[Path, Path]:
        return write_fleet_inventory(path, self.entries, self.known_hosts, LAB_USER, LAB_PASSWORD)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            if p.stdin is not None:
                p.stdin.close()
        deadline = time.monotonic() + STOP_TIMEOUT
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


# --- one shard (the child process) ----------------------------------------------------------------


async def serve_shard(spec: FleetSpec, index: int, count: int, part: Path) -> None:
    """Serve shard ``index`` of ``count`` until SIGTERM/SIGINT; ``part`` appears once every host listens."""
    members = spec.members()
    fleet = LabFleet(members, ports=spec.ports, faults=spec.faults, shard=(index, count))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), _stop_when_parent_is_gone, stop)
    await fleet.start()
    settle_for_serving()
    try:
        position = {m.name: i for i, m in enumerate(members)}
        entries = [dict(index=position[e.name], **asdict(e)) for e in fleet.entries()]
        tmp = part.with_name(part.name + ".tmp")
        tmp.write_text(json.dumps({"entries": entries, "known_hosts": fleet.known_hosts_lines()}), encoding="utf-8")
        os.replace(tmp, part)
        await stop.wait()
    finally:
        await fleet.stop()


def _stop_when_parent_is_gone(stop: asyncio.Event) -> None:
    """stdin is a pipe from the parent, which never writes: end of file means the parent is gone (even
    killed with SIGKILL), and a shard must not keep thousands of sockets open for nobody."""
    if not os.read(sys.stdin.fileno(), 4096):
        asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
        stop.set()


def main(argv: list[str]) -> int:
    from auditor.lab.addressing import nofile_limit

    spec_file, index, count, part = argv
    nofile_limit()  # lift the soft limit to the hard one: every host holds a socket
    spec = FleetSpec(**json.loads(Path(spec_file).read_text(encoding="utf-8")))
    try:
        asyncio.run(serve_shard(spec, int(index), int(count), Path(part)))
    except OSError as exc:
        print(f"lab process {index}: cannot start its hosts: {exc.strerror or exc}", file=sys.stderr)
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
