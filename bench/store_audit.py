"""One audit in its own process, with or without the store: ``python -m bench.store_audit INVENTORY OUT.json [--store URL]``.

The audit is what ``auditor run`` does (plan, worker processes, JSON report); with ``--store`` a
``StoreWriter`` records every host as its ``host_finished`` event arrives, and the run is finished in the
store before the clock stops. Writes wall and CPU seconds and the writer's figures to OUT.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from bench.common import PLAYBOOKS, raise_nofile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inventory")
    ap.add_argument("out")
    ap.add_argument("--store", default=None, help="store URL; none: no store")
    ap.add_argument("--forks", type=int, default=200)
    args = ap.parse_args()
    raise_nofile()

    from auditor import api
    from auditor.inventory.connection import ConnectionDefaults
    from auditor.report.writers import write_reports
    from auditor.results import HostResult
    from auditor.runner import RunOptions
    from auditor.sinks import BaseSink
    from auditor.store import open_store

    options = RunOptions(forks=args.forks, connect_timeout=10.0, host_deadline=60.0, command_timeout=60.0, workers=0)
    reports = Path(args.out).with_suffix(".reports")
    cpu0, t0 = time.process_time(), time.perf_counter()
    plan = api.plan_audit([str(p) for p in PLAYBOOKS], [args.inventory], options=options,
                          connection=ConnectionDefaults(host_key_checking="off"))
    sinks: list[Any] = []
    store = writer = None
    if args.store:
        store = open_store(args.store)
        store.create_run(plan.header, planned_hosts=[p.name for p in plan.hosts])
        writer = store.writer(plan.run_id)

        class Record(BaseSink):
            def host_finished(self, result: HostResult) -> None:
                assert writer is not None
                writer.record(result)
        sinks.append(Record())
    run = api.run(plan, sinks)
    workers = run.options.workers
    write_reports(run, ["json"], reports)
    state = None
    if writer is not None and store is not None:
        finished = writer.close()  # the last batch committed, the run finished in the store
        state = finished.state.value if finished is not None else None
        store.close()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "hosts": len(run.hosts), "workers": workers, "wall_s": round(wall, 3),
        "cpu_s": round(cpu + children.ru_utime + children.ru_stime, 3),
        "store": bool(args.store), "state": state,
        "writer": None if writer is None else {
            "recorded": writer.stats.recorded, "failed": writer.stats.failed, "batches": writer.stats.batches,
            "busy_s": round(writer.stats.busy_s, 3)},
        "statuses": {s: sum(1 for h in run.hosts if h.status.value == s) for s in {h.status.value for h in run.hosts}},
    }
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
