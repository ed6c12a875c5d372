"""The benchmark: ``python -m bench.run [--quick] [--sizes 100,1000,5000] [--ansible-sizes 100,500]``.

For each fleet size: start the simulated fleet in its own process (readiness = its inventory file
appears), measure the bare transport floor, the full audit (both shipped playbooks) and, for the
ansible sizes, ansible-core's idiomatic and hand-tuned playbooks on the same hosts. Each tool runs
as its own process. Figures go to bench/results/<stamp>.json and .md (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import table
from bench.ansible_side import run_ansible
from bench.common import BIN, PYTHON, RESULTS, ROOT, proc_cpu_s, raise_nofile
from bench.memory import run_sampled, tree_pss_kb

READY_TIMEOUT = 600.0


def _lab_command(hosts: int, seed: int, inventory: Path, with_faults: bool) -> list[str]:
    """The default fleet leaves out the fault scenarios (hung, refused, wrong password): their time is the
    deadline you set, not throughput. ``--with-faults`` runs ``auditor lab serve`` with the whole library."""
    auditor = BIN / "auditor"
    probe = subprocess.run([str(auditor), "lab", "serve", "--help"], capture_output=True, text=True)
    if with_faults and probe.returncode == 0 and "--inventory-out" in probe.stdout:
        return [str(auditor), "lab", "serve", "--hosts", str(hosts), "--seed", str(seed), "--ports", "free",
                "--inventory-out", str(inventory)]
    cmd = [PYTHON, "-m", "bench.labserve", "--hosts", str(hosts), "--seed", str(seed), "--inventory-out", str(inventory)]
    return cmd + (["--with-faults"] if with_faults else [])


class Lab:
    """The fleet process; ready when the inventory file exists (written after every host listens)."""

    def __init__(self, hosts: int, seed: int, workdir: Path, with_faults: bool):
        self.inventory = workdir / f"lab-{hosts}.yml"
        for stale in (self.inventory, self.inventory.with_suffix(".known_hosts")):
            stale.unlink(missing_ok=True)
        self.log = open(workdir / f"lab-{hosts}.log", "w")  # noqa: SIM115 - closed in stop()
        self.command = _lab_command(hosts, seed, self.inventory, with_faults)
        self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     start_new_session=True)
        self.started = time.perf_counter()

    def wait_ready(self) -> float:
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.inventory.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"lab exited with {self.proc.returncode}; see {self.log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError("lab did not become ready")
            try:
                self.proc.wait(timeout=0.05)  # wakes early if the lab dies
            except subprocess.TimeoutExpired:
                pass
        return time.perf_counter() - self.started

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid) or 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _worker(module: str, *args: str, sample_memory: bool = False) -> dict[str, Any]:
    """Run one measuring tool to its end and read its figures; ``sample_memory`` adds the peak PSS sum
    of its process tree (bench/memory.py), sampled from here because it must not run inside the tool."""
    out = Path(args[1])
    out.unlink(missing_ok=True)
    # unsampled tools (the floor) are not disturbed: reading smaps_rollup takes the target's mmap lock
    measure = tree_pss_kb if sample_memory else (lambda pid: 0)
    sampled = run_sampled([PYTHON, "-m", module, *args], ROOT, out.with_suffix(".log"), measure=measure)
    if sampled.returncode != 0 or not out.exists():
        return {"error": sampled.output[-2000:]}
    result = json.loads(out.read_text())
    if sample_memory:
        result.update(pss_peak_mb=round(sampled.peak_pss_kb / 1024, 1), pss_samples=sampled.samples)
    return result


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 1024 / 1024, 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "asyncssh": version("asyncssh"), "pywinrm": version("pywinrm"), "ansible": version("ansible-core")}


def bench_size(n: int, args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> None:
    lab = Lab(n, args.seed, workdir, args.with_faults)
    try:
        ready = lab.wait_ready()
        print(f"[{n}] lab ready in {ready:.1f}s ({' '.join(lab.command[1:4])})", flush=True)
        inv = str(lab.inventory)
        floor = _worker("bench.floor", inv, str(workdir / f"floor-{n}.json"), "--forks", str(args.forks))
        print(f"[{n}] floor: {floor}", flush=True)
        lab_cpu0 = lab.cpu_s()
        audit = _worker("bench.audit_once", inv, str(workdir / f"audit-{n}.json"), "--forks", str(args.forks),
                        "--workers", str(args.workers), "--reports", str(workdir / f"reports-{n}"), sample_memory=True)
        audit.update(hosts=n, floor=floor, lab_cpu_s=round(lab.cpu_s() - lab_cpu0, 2))
        if "wall_s" in audit:
            audit["hosts_per_s"] = round(n / audit["wall_s"], 1)
            audit["lost"] = n - audit["hosts_in_report"]
            audit["statuses_text"] = ", ".join(f"{k} {v}" for k, v in sorted(audit["statuses"].items()))
        print(f"[{n}] audit: { {k: v for k, v in audit.items() if k not in ('floor', 'verdicts')} }", flush=True)
        if n in args.sizes:
            results["audits"].append(audit)
        if n in args.ansible_sizes:
            comp: dict[str, Any] = {"hosts": n, "auditor_wall_s": audit.get("wall_s")}
            for form in ("idiomatic", "handtuned"):
                comp[form] = run_ansible(lab.inventory, form, workdir / f"ansible-{n}")
                print(f"[{n}] ansible {form}: {comp[form]}", flush=True)
            results["ansible"].append(comp)
    finally:
        lab.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small fleets only (under a minute)")
    ap.add_argument("--sizes", default=None, help="audit fleet sizes, comma separated (default 100,1000,5000)")
    ap.add_argument("--ansible-sizes", default=None, help="ansible comparison sizes (default 100,500; 0 = none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--forks", type=int, default=200, help="auditor --forks (and the floor's concurrency)")
    ap.add_argument("--workers", type=int, default=0, help="auditor --workers (0 = auto, as the CLI)")
    ap.add_argument("--with-faults", action="store_true", help="include unreachable/hung/wrong-password hosts")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    default_sizes, default_ansible = ("50", "10") if args.quick else ("100,1000,5000", "100,500")
    args.sizes = [int(x) for x in (args.sizes or default_sizes).split(",") if x.strip()]
    args.ansible_sizes = [int(x) for x in (args.ansible_sizes or default_ansible).split(",") if int(x) > 0]
    raise_nofile()
    if not shutil.which("ssh") or not shutil.which("sshpass"):
        print("ansible over ssh needs the OpenSSH client and sshpass: apt-get install -y openssh-client sshpass",
              file=sys.stderr)
        args.ansible_sizes = []
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(args.out) / stamp
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"started": stamp, "mode": "quick" if args.quick else "full", "machine": machine(),
                               "seed": args.seed, "forks": args.forks, "workers": args.workers, "audits": [],
                               "ansible": [], "notes": []}
    for n in sorted(set(args.sizes) | set(args.ansible_sizes)):
        bench_size(n, args, workdir, results)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    md = table.render(results)
    (workdir / "results.md").write_text(md)
    print(md)
    print(f"figures: {workdir / 'results.json'} and results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
