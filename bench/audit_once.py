"""One audit as a library call, for profiling: ``python -m bench.audit_once INVENTORY OUT.json [--forks N]``.

Runs the main job in-process (``execute_audit``, both shipped playbooks, JSON report, host-key
checking off) and writes what it measured inside the process: wall and CPU time of the audit itself
(imports excluded), the sum of its processes' peak RSS, host statuses and verdicts. Handy under
``python -m cProfile``; the benchmark's figures come from ``auditor run`` timed as a user runs it
(bench/run.py), which this deliberately is not. ``bench.sharded`` runs several of these.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import time
from pathlib import Path

from bench.common import PLAYBOOKS, raise_nofile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inventory")
    ap.add_argument("out")
    ap.add_argument("--forks", type=int, default=200)
    ap.add_argument("--reports", default=None, help="folder for the audit's JSON report")
    ap.add_argument("--host-deadline", type=float, default=60.0)
    ap.add_argument("--connect-timeout", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=0, help="auditor worker processes (0 = auto, as the CLI)")
    ap.add_argument("--limit", default=None, help="Ansible --limit pattern or @file (bench.sharded uses it)")
    args = ap.parse_args()
    raise_nofile()

    from rich.console import Console

    from auditor.commands.run import execute_audit
    from auditor.inventory.connection import ConnectionDefaults
    from auditor.runner import RunOptions

    options = RunOptions(forks=args.forks, connect_timeout=args.connect_timeout, host_deadline=args.host_deadline,
                         command_timeout=min(60.0, args.host_deadline), workers=args.workers)
    reports = Path(args.reports or Path(args.out).with_suffix(".reports"))
    console = Console(file=open("/dev/null", "w"))  # noqa: SIM115 - quiet run, nothing to show
    cpu0, t0 = time.process_time(), time.perf_counter()
    run, _ = execute_audit([str(p) for p in PLAYBOOKS], [args.inventory], limit=args.limit, options=options,
                           formats=["json"], output=reports, console=console, quiet=True,
                           connection=ConnectionDefaults(host_key_checking="off"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # worker processes (--workers) are joined children: their CPU counts, and so does each one's own
    # peak RSS, which the workers report (the parent's peak plus theirs: an upper bound, since pages the
    # forked workers share with the parent count once per process)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = int(run.options.workers or 1)
    cpu += children.ru_utime + children.ru_stime
    rss_kb = usage.ru_maxrss + sum(run.options.worker_peak_rss_mb) * 1024
    statuses = collections.Counter(h.status.value for h in run.hosts)
    verdicts = collections.Counter(p.verdict.name if p.verdict else "-" for h in run.hosts for p in h.plays)
    result = {
        "hosts_in_report": len(run.hosts),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "cpu_user_s": round(usage.ru_utime + children.ru_utime, 3),
        "cpu_sys_s": round(usage.ru_stime + children.ru_stime, 3),
        "rss_mb": round(rss_kb / 1024, 1),
        "workers": workers,
        "statuses": dict(statuses),
        "verdicts": dict(verdicts),
        "interrupted": run.interrupted,
    }
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
