"""A separate process that records hosts into a store, for the multi-process and SIGKILL tests.

``python -m tests.store_child URL RUN_ID COUNT PREFIX [--create] [--pace SECONDS] [--offset N]``
opens the store (migrating a new one), optionally creates the run, records COUNT hosts named
PREFIX-NNNNN through a StoreWriter (pacing them like hosts finishing), closes the writer and prints
one JSON line: start and end wall times and the writer's stats.
"""

from __future__ import annotations

import argparse
import json
import time

from auditor.store import open_store
from tests.report_factory import make_run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("run_id")
    ap.add_argument("count", type=int)
    ap.add_argument("prefix")
    ap.add_argument("--create", action="store_true")
    ap.add_argument("--finish", action="store_true")
    ap.add_argument("--pace", type=float, default=0.0)
    ap.add_argument("--offset", type=int, default=0)
    args = ap.parse_args()
    template = make_run(16, hostile=False)
    names = [f"{args.prefix}-{i:05d}" for i in range(args.offset, args.offset + args.count)]
    hosts = [template.hosts[i % 16].model_copy(update={"name": n, "id": n}) for i, n in enumerate(names)]
    started = time.time()
    store = open_store(args.url)
    if args.create:
        store.create_run(template.model_copy(update={"run_id": args.run_id, "hosts": []}), planned_hosts=names)
    writer = store.writer(args.run_id, interval=0.05)
    for host in hosts:
        writer.record(host)
        if args.pace:
            time.sleep(args.pace)  # hosts finish over time, as in an audit
    writer.close(finish=args.finish)
    print(json.dumps({"start": started, "end": time.time(), "recorded": writer.stats.recorded,
                      "failed": writer.stats.failed, "batches": writer.stats.batches}))


if __name__ == "__main__":
    main()
