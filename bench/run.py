"""The benchmark: ``python -m bench.run [--quick] [--sizes 100,1000,5000] [--ansible-sizes 100,500]``.

For each fleet size: start the simulated fleet in its own process (readiness = its inventory file
appears); measure the transport floor (bench/floor.py); time ``auditor run`` as a user runs it (a
subprocess from start to exit, JSON and HTML reports written); and, for the ansible sizes, time
``ansible-playbook`` the same way at the same forks, checking that the lab answered every command.
``--sweep`` adds each tool's best forks setting. Figures go to bench/results/<stamp>/ (see README).

Exit codes: 0 every measurement valid; 1 a measurement did not count (ansible got error answers,
auditor lost hosts or failed, the floor failed hosts); 2 a needed part is missing (no sshpass and
no ``--no-ansible``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import startup, table
from bench.ansible_side import missing_tools, run_ansible, version as ansible_version
from bench.common import BIN, PLAYBOOKS, PYTHON, RESULTS, ROOT, proc_cpu_s, raise_nofile
from bench.measure import timed_run

READY_TIMEOUT = 600.0


def _lab_command(hosts: int, seed: int, inventory: Path, with_faults: bool) -> list[str]:
    """The default fleet leaves out the fault scenarios (hung, refused, wrong password): their time is the
    deadline you set, not throughput. ``--with-faults`` runs ``auditor lab serve`` with the whole library."""
    if with_faults:
        return [str(BIN / "auditor"), "lab", "serve", "--hosts", str(hosts), "--seed", str(seed), "--ports", "free",
                "--inventory-out", str(inventory)]
    return [PYTHON, "-m", "bench.labserve", "--hosts", str(hosts), "--seed", str(seed), "--inventory-out", str(inventory)]


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
        """The lab's CPU so far: its process and the shard processes a spread lab starts (children of it, which
        the process's own figure leaves out)."""
        from bench.memory import tree_pids

        return sum(proc_cpu_s(pid) or 0.0 for pid in tree_pids(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_floor(inventory: Path, out: Path, forks: int) -> dict[str, Any]:
    out.unlink(missing_ok=True)
    t = timed_run([PYTHON, "-m", "bench.floor", str(inventory), str(out), "--forks", str(forks)],
                  out.with_suffix(".log"), cwd=ROOT)
    if t.returncode != 0 or not out.exists():
        return {"error": out.with_suffix(".log").read_text()[-2000:]}
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_stages(inventory: Path, floor: Path, out: Path, forks: int) -> dict[str, Any]:
    """``bench.stages`` on the lab of this size, in its own process: where a host's CPU goes."""
    out.unlink(missing_ok=True)
    with open(out.with_suffix(".log"), "w") as log:
        proc = subprocess.run([PYTHON, "-m", "bench.stages", str(inventory), "--floor", str(floor), "--json", str(out),
                               "--forks", str(forks)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0 or not out.exists():
        return {"error": out.with_suffix(".log").read_text()[-2000:]}
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_auditor(inventory: Path, workdir: Path, n: int, forks: int, expect_faults: bool) -> dict[str, Any]:
    """``auditor run`` of both shipped playbooks as a user runs it; JSON and HTML reports written."""
    reports = workdir / f"reports-{n}-forks{forks}"
    cmd = [str(BIN / "auditor"), "run", *map(str, PLAYBOOKS), "-i", str(inventory), "--report", "json,html",
           "-o", str(reports), "-q", "--forks", str(forks)]
    t = timed_run(cmd, workdir / f"auditor-{n}-forks{forks}.log", cwd=workdir, sample_memory=True,
                  env=own_store(workdir / f"history-{n}-forks{forks}.db"))
    result: dict[str, Any] = {"forks": forks, "wall_s": t.wall_s, "cpu_s": t.cpu_s, "rc": t.returncode,
                              "pss_peak_mb": t.peak_pss_mb, "problems": []}
    jsons, htmls = sorted(reports.glob("auditor-*.json")), sorted(reports.glob("auditor-*.html"))
    if not jsons or not htmls:
        result["problems"].append(f"reports missing in {reports} (exit code {t.returncode})")
        return result
    doc = json.loads(jsons[-1].read_text())
    statuses = Counter(h["status"] for h in doc["hosts"])
    result.update(hosts_in_report=len(doc["hosts"]), lost=n - len(doc["hosts"]), statuses=dict(statuses),
                  json_mb=round(jsons[-1].stat().st_size / 1e6, 2), html_mb=round(htmls[-1].stat().st_size / 1e6, 2),
                  report_json=str(jsons[-1]))
    transport_failures = sum(v for k, v in statuses.items() if k not in ("ok", "failed"))
    if result["lost"]:
        result["problems"].append(f"{result['lost']} hosts missing from the report")
    if transport_failures and not expect_faults:
        result["problems"].append(f"{transport_failures} hosts not audited on a lab without faults: {dict(statuses)}")
    if t.returncode not in (0, 2, 3) or (t.returncode == 3 and not expect_faults):
        result["problems"].append(f"auditor exited with {t.returncode}")
    return result


def own_store(path: Path) -> dict[str, str]:
    """The environment of a measured ``auditor run``: its own history store, created (empty, at the newest schema)
    beforehand, as a store is after a first use. The user's default store would make each figure depend on what
    was recorded before (the run compares itself with the previous scan of the same playbooks: after a scan of
    20,000 other hosts, that costs a 100-host run ~0.5 s)."""
    from auditor.store.store import open_store

    url = f"sqlite:///{path}"
    open_store(url).engine.dispose()
    return {**os.environ, "AUDITOR_STORE": url}


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 1024 / 1024, 1),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "asyncssh": version("asyncssh"), "ansible": version("ansible-core"),
            "load_before": os.getloadavg()[0]}


def _say(n: int, what: str, figures: dict[str, Any]) -> None:
    shown = {k: v for k, v in figures.items() if k not in ("problem_examples", "report_json", "log")}
    print(f"[{n}] {what}: {shown}", flush=True)
    for problem in figures.get("problem_examples") or figures.get("problems") or []:
        print(f"[{n}]   ! {problem}", flush=True)


def bench_size(n: int, args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> None:
    lab = Lab(n, args.seed, workdir, args.with_faults)
    try:
        ready = lab.wait_ready()
        print(f"[{n}] lab ready in {ready:.1f}s ({' '.join(lab.command[1:4])})", flush=True)
        floor = run_floor(lab.inventory, workdir / f"floor-{n}.json", args.forks)
        _say(n, "floor", floor)
        if floor.get("error") or (floor.get("failed") and not args.with_faults):
            results["invalid"].append(f"floor at {n} hosts: {floor.get('error') or floor.get('errors')}")
        lab_cpu0 = lab.cpu_s()
        audit = run_auditor(lab.inventory, workdir, n, args.forks, args.with_faults)
        audit.update(hosts=n, floor=floor, lab_cpu_s=round(lab.cpu_s() - lab_cpu0, 2), lab_ready_s=round(ready, 1))
        _say(n, f"auditor run (forks {args.forks})", audit)
        results["invalid"] += [f"auditor at {n} hosts: {p}" for p in audit["problems"]]
        results["audits"].append(audit)
        if n in args.ansible_sizes:
            comp: dict[str, Any] = {"hosts": n, "forks": args.forks, "auditor": audit}
            for form in ("idiomatic", "handtuned"):
                comp[form] = run_ansible(lab.inventory, form, workdir / f"ansible-{n}", args.forks)
                _say(n, f"ansible {form} (forks {args.forks})", comp[form])
            if args.sweep:
                comp["sweep"] = {"auditor": [], "handtuned": []}
                for forks in args.sweep:
                    a = audit if forks == args.forks else run_auditor(lab.inventory, workdir, n, forks, args.with_faults)
                    h = comp["handtuned"] if forks == args.forks else run_ansible(
                        lab.inventory, "handtuned", workdir / f"ansible-{n}", forks)
                    comp["sweep"]["auditor"].append(a)
                    comp["sweep"]["handtuned"].append(h)
                    _say(n, f"sweep forks {forks}", {"auditor_wall_s": a["wall_s"], "handtuned_wall_s": h["wall_s"],
                                                     "valid": h["valid"] and not a["problems"]})
            for key in ("idiomatic", "handtuned"):
                if not comp[key]["valid"]:
                    results["invalid"].append(f"ansible {key} at {n} hosts: {comp[key]['problems']} problems, rc "
                                              f"{comp[key]['rc']}: {comp[key]['problem_examples'][:2]}")
            for h in (comp.get("sweep") or {}).get("handtuned", []):
                if not h["valid"]:
                    results["invalid"].append(f"ansible handtuned forks {h['forks']} at {n} hosts: not valid")
            results["ansible"].append(comp)
        if n == args.stages:
            stages = run_stages(lab.inventory, workdir / f"floor-{n}.json", workdir / f"stages-{n}.json", args.forks)
            print(f"[{n}] bench.stages: {'failed' if 'error' in stages else 'done'}", flush=True)
            if "error" in stages:
                results["invalid"].append(f"bench.stages at {n} hosts: {stages['error'][-300:]}")
            else:
                results["stages"] = stages
    finally:
        lab.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small fleets only (about a minute)")
    ap.add_argument("--sizes", default=None, help="fleet sizes, comma separated (default 100,1000,5000)")
    ap.add_argument("--ansible-sizes", default=None, help="ansible comparison sizes (default 100,500)")
    ap.add_argument("--no-ansible", action="store_true", help="no ansible comparison (say so, instead of failing "
                                                              "when sshpass or ssh is missing)")
    ap.add_argument("--sweep", default="", help="forks values to find each tool's best setting at the ansible sizes, "
                                                "e.g. 25,50,100,200 (auditor and the hand-tuned playbook)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--forks", type=int, default=50, help="forks for both tools (and the floor's concurrency)")
    ap.add_argument("--with-faults", action="store_true", help="include unreachable/hung/wrong-password hosts")
    ap.add_argument("--stages", type=int, default=None,
                    help="the fleet size at which bench.stages breaks a host's CPU down, stage by stage "
                         "(default: 1000 when that size is measured; 0: never)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    default_sizes, default_ansible = ("50", "20") if args.quick else ("100,1000,5000", "100,500")
    args.ansible_sizes = [] if args.no_ansible else \
        [int(x) for x in (args.ansible_sizes or default_ansible).split(",") if x.strip() and int(x) > 0]
    args.sizes = sorted({int(x) for x in (args.sizes or default_sizes).split(",") if x.strip()} | set(args.ansible_sizes))
    args.sweep = [int(x) for x in args.sweep.split(",") if x.strip()]
    if args.stages is None:
        args.stages = 1000 if 1000 in args.sizes and not args.with_faults else 0
    if args.ansible_sizes and missing_tools():
        print(f"bench: ansible figures need {', '.join(missing_tools())}: apt-get install -y openssh-client sshpass "
              "(or pass --no-ansible to measure auditor alone)", file=sys.stderr)
        return 2
    raise_nofile()
    # as an install leaves it: a wheel's files are compiled when pip installs them (ansible-core's are), while
    # this checkout's, with PYTHONDONTWRITEBYTECODE set, would be compiled again by every timed run (~0.1 s)
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "auditor")], check=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(args.out) / stamp
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"started": stamp, "mode": "quick" if args.quick else "full", "machine": machine(),
                               "seed": args.seed, "forks": args.forks, "audits": [], "ansible": [], "invalid": [],
                               "notes": ["ansible-core: not run (--no-ansible)"] if args.no_ansible else []}
    if args.ansible_sizes:
        results["machine"]["ansible_version"] = ansible_version()
    # what a one-shot run pays before its first host, in fresh interpreters on a quiet machine (bench/startup.py)
    results["startup"] = startup.measure(3 if args.quick else 5)
    for n in args.sizes:
        bench_size(n, args, workdir, results)
    results["machine"]["load_after"] = os.getloadavg()[0]
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    md = table.render(results)
    (workdir / "results.md").write_text(md)
    print(md)
    print(f"figures: {workdir / 'results.json'} and results.md")
    if results["invalid"]:
        print("bench: these measurements do not count:\n  " + "\n  ".join(results["invalid"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
