"""The worker's side: run one shard and record every host into the shared store as it finishes.

A shard task (``auditor.run_shard``, body: ``ShardSpec`` as JSON):

1. counts its deliveries in the result backend (a shard whose worker keeps dying stops being retried and
   fails: the coordinator then reports its hosts one by one, with the reason);
2. checks the run is still running in the store (the coordinator marks it interrupted on Ctrl-C/SIGTERM);
3. skips the hosts the store already has for the run (a redelivered shard redoes only what is missing);
4. loads the inventory (with the vault secrets of *this* runner's files) and the playbooks (refusing a
   playbook whose sha256 differs from the coordinator's), plans the rest with ``api.plan_audit(...,
   only_hosts=..., run_id=...)`` and runs it with ``api.run_async`` and a ``StoreSink(create=False,
   finish=False)``: each host is upserted (run, host) as it finishes;
5. publishes progress (the hosts finished so far) as the task's ``PROGRESS`` state, and stops early when
   the run is no longer running.

Any exception is retried by Celery (``MAX_RETRIES``, with back-off); a worker process that dies mid-shard
puts the message back (``reject_on_worker_lost``) or retries it (``retry_on_worker_lost``).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from celery import Celery, Task

from auditor import api
from auditor.distributed.app import TASK_NAME
from auditor.distributed.config import ShardError
from auditor.distributed.shards import ShardSpec
from auditor.inventory.model import Inventory
from auditor.playbook.schema import Playbook
from auditor.results import HostResult, RunResult
from auditor.sinks import BaseSink
from auditor.store import RunState, Store, open_store
from auditor.store.sink import StoreSink

PROGRESS = "PROGRESS"
MAX_RETRIES = 3
#: deliveries of one shard before it is given up: its retries, plus redeliveries after whole-runner deaths
MAX_DELIVERIES = MAX_RETRIES + 3
PROGRESS_EVERY = 0.5   # seconds between progress updates of a shard
STOP_POLL = 1.0        # seconds between looks at the run's state (stopped by the coordinator?)
ERROR_CHARS = 300


class ShardGaveUp(ShardError):
    """Delivered too many times: not retried again."""


class _Process:
    """What one worker process keeps between shards: its store, the last run's inventory and playbooks."""

    store_url: str | None = None
    store: Store | None = None
    inventory_key: tuple[Any, ...] | None = None
    inventory: Inventory | None = None
    playbooks: dict[tuple[str, str | None, str], Playbook] = {}


_process = _Process()


def configure(store_url: str) -> None:
    """Set in the worker's main process before the pool forks; each process opens the store itself."""
    _process.store_url = store_url


def register(app: Celery) -> Task:
    task: Task = app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
                          retry_on_worker_lost=True, autoretry_for=(Exception,), dont_autoretry_for=(ShardGaveUp,),
                          max_retries=MAX_RETRIES, default_retry_delay=1, retry_backoff=1, retry_backoff_max=30,
                          retry_jitter=False)(run_shard)
    return task


def run_shard(task: Task, body: dict[str, Any]) -> dict[str, Any]:
    spec = ShardSpec.model_validate(body)
    attempt = _count_delivery(task)
    if attempt > MAX_DELIVERIES:
        raise ShardGaveUp(f"{spec.label} was delivered {attempt - 1} times without finishing (its worker died "
                          "each time); given up")
    worker = f"{task.request.hostname or 'worker'} (pid {os.getpid()})"
    outcome: dict[str, Any] = {"worker": worker, "attempt": attempt, "audited": 0, "already_recorded": 0,
                               "not_planned": [], "stopped": False, "hosts": []}
    progress = ShardProgress(task, outcome)
    progress.publish()  # at once: the coordinator waits for shards it sees running when it stops the run
    store = _store()
    if _run_stopped(store, spec.run_id):
        outcome["stopped"] = True
        return outcome
    done = store.recorded_hosts(spec.run_id)
    todo = [h for h in spec.hosts if h not in done]
    outcome["already_recorded"] = len(spec.hosts) - len(todo)
    if not todo:
        return outcome
    plan = api.plan_audit(_playbooks(spec), _inventory(spec), options=spec.options.run_options(),
                          connection=spec.options.connection(), only_hosts=todo, run_id=spec.run_id)
    planned = {p.name for p in plan.hosts}
    outcome["not_planned"] = [h for h in todo if h not in planned]
    run, stopped = asyncio.run(_audit(plan, [StoreSink(store, [], create=False, finish=False), progress],
                                      store, spec.run_id))
    if run.stop_reason and not stopped:  # the store sink failed: retry the shard (recorded hosts are kept)
        raise ShardError(f"{spec.label} stopped on {worker}: {run.stop_reason}")
    outcome["stopped"] = stopped
    outcome["audited"] = len(progress.finished)
    return outcome


class ShardProgress(BaseSink):
    """Publishes the hosts finished so far as the task's PROGRESS state, at most every PROGRESS_EVERY s."""

    def __init__(self, task: Task, outcome: dict[str, Any]):
        self.task = task
        self.outcome = outcome
        self.finished: list[list[Any]] = outcome["hosts"]
        self._last = 0.0

    def run_started(self, run: RunResult, total: int) -> None:
        self.publish()

    def host_finished(self, result: HostResult) -> None:
        self.finished.append([result.name, result.status.value, (result.error or "")[:ERROR_CHARS] or None])
        if time.monotonic() - self._last >= PROGRESS_EVERY:
            self.publish()

    def run_finished(self, run: RunResult) -> None:
        self.publish()

    def publish(self) -> None:
        self._last = time.monotonic()
        if self.task.request.id:  # None when called directly (not through a worker)
            self.task.update_state(state=PROGRESS, meta=self.outcome)


async def _audit(plan: api.AuditPlan, sinks: list[Any], store: Store, run_id: str) -> tuple[RunResult, bool]:
    """Run the plan; cancel it (finished hosts stay recorded) when the run stops being ``running``."""
    job = asyncio.ensure_future(api.run_async(plan, sinks))
    stopped = False
    while not job.done():
        await asyncio.wait({job}, timeout=STOP_POLL)
        if not job.done() and not stopped and await asyncio.to_thread(_run_stopped, store, run_id):
            stopped = True
            job.cancel()
    return await job, stopped


def _run_stopped(store: Store, run_id: str) -> bool:
    return store.get_run(run_id).stored_state is not RunState.running


def _count_delivery(task: Task) -> int:
    """This delivery's number (1 = first), kept in the result backend; 1 when it cannot count."""
    backend: Any = task.backend
    task_id = task.request.id
    if not task_id or not hasattr(backend, "client"):
        return 1
    key = f"auditor-shard-deliveries-{task_id}"
    count = int(backend.client.incr(key))
    backend.client.expire(key, 7 * 24 * 3600)
    return count


def _store() -> Store:
    if _process.store is None:
        if _process.store_url is None:
            raise ShardError("this worker was started without a store")
        _process.store = open_store(_process.store_url)
    return _process.store


def _inventory(spec: ShardSpec) -> Inventory:
    """The run's inventory as this runner sees it, loaded once per run and process (shards of one run share it)."""
    from auditor.inventory import load_inventory
    from auditor.inventory.cli import secrets_from_options

    key = (spec.run_id, tuple(spec.inventory), tuple(spec.vault_password_files), tuple(spec.vault_ids))
    if _process.inventory_key != key or _process.inventory is None:
        secrets = secrets_from_options(spec.vault_password_files, spec.vault_ids, False)
        _process.inventory = load_inventory(list(spec.inventory), vault_secrets=secrets)
        _process.inventory_key = key
    return _process.inventory


def _playbooks(spec: ShardSpec) -> list[Playbook]:
    from auditor.playbook import load_playbook

    books = []
    for pin in spec.playbooks:
        key = (pin.file, pin.sha256, pin.path)
        book = _process.playbooks.get(key)
        if book is None:
            loaded = load_playbook(pin.file)
            if pin.sha256 and loaded.sha256 != pin.sha256:
                raise ShardError(f"{pin.file} on this runner is not the coordinator's playbook "
                                 f"(sha256 {loaded.sha256} instead of {pin.sha256})")
            book = _process.playbooks[key] = loaded.model_copy(update={"path": pin.path})
        books.append(book)
    return books
