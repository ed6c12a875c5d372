"""The history store as a sink: a run is recorded as it happens (``auditor run``, ``remediate``, ``demo``,
``serve``, the Celery workers all use this).

- ``run_started`` creates the run in the store (state ``running``, the planned hosts in plan order) unless
  the run already exists there (``--resume``, a Celery shard: ``create=False``);
- ``host_finished`` queues the host for the writer thread, which commits small batches (a SIGKILL loses at
  most the last fraction of a second, which ``--resume`` audits again);
- ``run_finished`` flushes and ends the run: ``interrupted`` when it was stopped, else ``complete`` when every
  planned host is recorded and ``incomplete`` otherwise (``finish=False`` leaves the run open: a shard).

The sink is critical: when the user asked for history and it cannot be written, the run stops (its finished
hosts are kept and reported) rather than going on unrecorded.
"""

from __future__ import annotations

from typing import Sequence

from auditor.results import HostResult, RunResult
from auditor.sinks import BaseSink
from auditor.store.models import RunRecord, RunState
from auditor.store.store import Store
from auditor.store.writer import StoreWriter


class StoreSink(BaseSink):
    critical = True

    def __init__(self, store: Store, planned_hosts: Sequence[str], *, create: bool = True, finish: bool = True):
        self.store = store
        self.planned_hosts = list(planned_hosts)
        self.create = create
        self.finish = finish
        self.writer: StoreWriter | None = None
        self.record: RunRecord | None = None

    def run_started(self, run: RunResult, total: int) -> None:
        if self.create:
            self.store.create_run(run, planned_hosts=self.planned_hosts)
        self.planned_hosts = []  # in the store now; held, the names would keep the plans' memory once they are let go
        # the writer's thread starts with the first host, after any worker processes were forked
        self.writer = self.store.writer(run.run_id)

    def host_finished(self, result: HostResult) -> None:
        if self.writer is not None:
            self.writer.record(result)

    def run_finished(self, run: RunResult) -> None:
        if self.writer is None:
            return
        state = RunState.interrupted if run.interrupted else None
        self.record = self.writer.close(state, finish=self.finish)
