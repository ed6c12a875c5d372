"""``auditor run --dispatch celery``: plan here, run the hosts on the workers, report here from the store.

1. plan (``api.plan_audit``: inventory, pattern, limit) and split the hosts into shards per queue;
2. open the store (exit 4 if unusable) and ping the broker (exit 3 if unreachable): nothing is sent yet;
3. create the run in the store with its planned hosts, then send one task per shard (names and paths, never
   a credential: see ``auditor.distributed.shards``);
4. watch the shards' states in the result backend (woken by Redis as they change) and feed the finished
   hosts to the same live progress a local run shows; beat the run's heartbeat;
5. when every shard is done, end the run in the store and write the reports from ``store.load_run`` as a
   local run does. Hosts no shard recorded (a shard that kept failing, a host a runner's inventory lacks)
   are in the report as errors saying why; none is dropped.

Ctrl-C or SIGTERM: the run is marked ``interrupted`` in the store (running shards see it, stop and keep
what they finished; shards not started yet skip), its pending shards are revoked, and the partial reports
are written after a short grace (exit 99).
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Iterator, Sequence

from rich.console import Console

from auditor import api
from auditor.distributed.cli import require_celery
from auditor.distributed.config import BrokerUnreachable, default_queue, display_url, resolve_broker_url
from auditor.failpolicy import FailPolicy
from auditor.distributed.shards import ShardSpec, shard_specs, task_id
from auditor.errors import UsageError
from auditor.inventory.connection import ConnectionDefaults
from auditor.inventory.model import Inventory
from auditor.playbook.schema import Playbook
from auditor.plan import HostPlan
from auditor.results import HostStatus, RunResult
from auditor.rules import catalogue_of
from auditor.runner import INTERRUPTED, RunOptions, unfinished_host
from auditor.sinks import Sink
from auditor.store import RunState, Store, open_store, resolve_store_url

HEARTBEAT_EVERY = 10.0   # seconds: the run's owner is alive (the store reads a silent run as interrupted)
WAKE_EVERY = 1.0         # seconds: look at every shard at least this often, updates or not
STOP_GRACE = 15.0        # seconds running shards get to stop and flush after Ctrl-C/SIGTERM
_FINAL = {"SUCCESS", "FAILURE", "REVOKED"}


@dataclass
class Shard:
    spec: ShardSpec
    id: str
    state: str = "PENDING"
    worker: str | None = None
    attempt: int = 0
    outcome: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.state in _FINAL


def dispatch_command(dispatch: str, playbooks: Sequence[Path], inventory_sources: list[str], *, limit: str | None,
                     options: RunOptions, connection: ConnectionDefaults, formats: list[str], output: Path, quiet: bool,
                     store: str | None, broker: str | None, shard_size: int, vault_password_files: list[str] | None,
                     vault_ids: list[str] | None, ask_vault_pass: bool, policy: FailPolicy | None = None) -> int:
    """``auditor run ... --dispatch celery``: what ``run_command`` hands over to; returns the exit code."""
    from auditor.commands.run import exit_code_for
    from auditor.distributed.config import check_dispatch
    from auditor.inventory.cli import load_from_options
    from auditor.playbook import load_playbooks

    check_dispatch(dispatch, ask_vault_pass, vault_ids)
    require_celery()
    books = load_playbooks([str(p) for p in playbooks])  # bad playbooks fail before the vault is opened
    inv = load_from_options(inventory_sources, vault_password_files, vault_ids, False)
    run = dispatch_audit(books, inv, limit=limit, options=options, connection=connection, formats=formats,
                         output=output, console=Console(stderr=False), quiet=quiet, store=store, broker=broker,
                         shard_size=shard_size, vault_password_files=vault_password_files or [],
                         vault_ids=vault_ids or [])
    return int(exit_code_for(run, policy or FailPolicy("needs-action")))


def dispatch_audit(books: list[Playbook], inventory: Inventory, *, limit: str | None, options: RunOptions,
                   connection: ConnectionDefaults, formats: list[str], output: Path, console: Console, quiet: bool,
                   store: str | None, broker: str | None, shard_size: int, vault_password_files: Sequence[str],
                   vault_ids: Sequence[str]) -> RunResult:
    """The whole dispatched run, reports included; returns the run as reported (exit code: ``exit_code_for``)."""
    from auditor.console import LiveProgress, print_recap
    from auditor.inventory.retry import write_retry_file
    from auditor.report.writers import write_reports

    require_celery()
    from auditor.distributed.app import make_app, ping

    broker_url = resolve_broker_url(broker)
    store_url = resolve_store_url(store)
    if store_url is None:
        raise UsageError("--dispatch celery: the workers' results meet in the store; --store none is not possible")
    plan = api.plan_audit(books, inventory, limit=limit, options=options, connection=connection)
    specs = shard_specs(plan.header, plan.hosts, size=shard_size, default_queue=default_queue(), options=options,
                        connection=connection, inventory_sources=inventory.sources,
                        vault_password_files=vault_password_files, vault_ids=vault_ids)
    app = make_app(broker_url)
    with open_store(store_url) as db:
        ping(app)
        db.create_run(plan.header, planned_hosts=[h.name for h in plan.hosts])
        live = LiveProgress(console, quiet=quiet)
        watch = Watch(app, db, plan, specs, live)
        run = watch.run()
        where = str(db.where)
    paths = write_reports(run, formats, output)
    write_retry_file(output / "last.retry", [h.name for h in run.hosts if h.status is not HostStatus.ok])
    if not quiet:
        console.print(watch.summary(), highlight=False, markup=False)
        print_recap(console, run, [str(p) for p in paths], recorded_in=where)
    return run


class Watch:
    """Sends the shards and follows them to the end (or to an interrupt)."""

    def __init__(self, app: Any, store: Store, plan: api.AuditPlan, specs: list[ShardSpec], live: Sink):
        self.app = app
        self.store = store
        self.plan = plan
        self.live = live
        self.shards = [Shard(s, task_id(plan.run_id, s.index)) for s in specs]
        self.by_name: dict[str, HostPlan] = {h.name: h for h in plan.hosts}
        self.seen: set[str] = set()
        self.interrupted = False

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        from auditor.distributed.app import TASK_NAME

        self.live.run_started(self.plan.header, len(self.plan.hosts))
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            try:
                for shard in self.shards:
                    try:
                        self.app.send_task(TASK_NAME, args=[shard.spec.model_dump(mode="json")], task_id=shard.id,
                                           queue=shard.spec.queue)
                    except Exception as exc:  # noqa: BLE001 - the broker went away after the ping
                        raise BrokerUnreachable(f"broker {display_url(str(self.app.conf.broker_url))} lost while "
                                                f"sending {shard.spec.label}: {str(exc).splitlines()[0] if str(exc) else exc!r}; "
                                                f"run {self.plan.run_id} is marked interrupted") from None
                self._follow(lambda: all(s.final for s in self.shards), deadline=None)
            except KeyboardInterrupt:
                self._stop()
        except BaseException:
            self._end_run(RunState.interrupted)  # the coordinator itself failed: the run did not finish
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
        return self._result()

    def _stop(self) -> None:
        """Mark the run interrupted (running shards stop, undelivered ones skip), revoke what is pending,
        give running shards a bounded grace to flush what they finished."""
        self.interrupted = True
        self._end_run(RunState.interrupted)
        pending = [s.id for s in self.shards if not s.final]
        if pending:
            self.app.control.revoke(pending)
        try:
            self._follow(lambda: not any(s.state == "PROGRESS" for s in self.shards), deadline=time.monotonic() + STOP_GRACE)
        except KeyboardInterrupt:  # a second Ctrl-C: report at once
            pass

    def _end_run(self, state: RunState | None) -> None:
        try:
            self.store.finish_run(self.plan.run_id, state)
        except Exception:  # noqa: BLE001 - the report must still be written; the store error shows at load
            pass

    # --- following the shards -----------------------------------------------------------------

    def _follow(self, done: Any, deadline: float | None) -> None:
        """Read every shard's state until ``done()``; Redis wakes us when a shard's state changes."""
        backend = self.app.backend
        keys = [backend.get_key_for_task(s.id) for s in self.shards]
        pubsub = backend.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(*keys)
        next_beat = time.monotonic() + HEARTBEAT_EVERY
        try:
            while True:
                self._read(backend, keys)
                if done() or (deadline is not None and time.monotonic() >= deadline):
                    return
                if time.monotonic() >= next_beat:
                    self.store.heartbeat(self.plan.run_id)
                    next_beat = time.monotonic() + HEARTBEAT_EVERY
                wait = WAKE_EVERY if deadline is None else max(0.0, min(WAKE_EVERY, deadline - time.monotonic()))
                if pubsub.get_message(timeout=wait) is not None:
                    while pubsub.get_message(timeout=0) is not None:  # several updates: one read covers them
                        pass
        finally:
            pubsub.close()

    def _read(self, backend: Any, keys: list[str]) -> None:
        open_shards = [(s, k) for s, k in zip(self.shards, keys) if not s.final]
        if not open_shards:
            return
        values = backend.mget([k for _, k in open_shards])
        for (shard, _), raw in zip(open_shards, values):
            if raw is not None:
                self._update(shard, backend.decode(raw))

    def _update(self, shard: Shard, meta: dict[str, Any]) -> None:
        shard.state = str(meta.get("status") or "PENDING")
        result = meta.get("result")
        if isinstance(meta.get("retries"), int):  # extended results: the request's retry count
            shard.attempt = max(shard.attempt, meta["retries"] + 1)
        if shard.state in ("PROGRESS", "SUCCESS") and isinstance(result, dict):
            shard.outcome = result
            shard.worker = result.get("worker") or shard.worker
            shard.attempt = max(shard.attempt, int(result.get("attempt") or 0))
            for name, status, error in result.get("hosts") or []:
                self._finished(name, status, error)
        elif shard.state in ("FAILURE", "RETRY"):
            shard.error = _exception_text(result)

    def _finished(self, name: str, status: str, error: str | None) -> None:
        plan = self.by_name.get(name)
        if plan is None or name in self.seen:
            return
        self.seen.add(name)
        try:
            host_status = HostStatus(status)
        except ValueError:
            host_status = HostStatus.error
        self.live.host_finished(unfinished_host(plan, error or "").model_copy(update={"status": host_status,
                                                                                      "error": error}))

    # --- the result -----------------------------------------------------------------------------

    def _result(self) -> RunResult:
        if not self.interrupted:
            self._end_run(None)  # complete, or incomplete when some host has no result
        run = self.store.load_run(self.plan.run_id)
        recorded = {h.name: h for h in run.hosts}
        reasons = dict(self._reasons())
        run.hosts = [recorded.get(p.name) or unfinished_host(p, reasons.get(p.name, INTERRUPTED)) for p in self.plan.hosts]
        run.options.workers = len({s.worker for s in self.shards if s.worker}) or None  # processes that ran shards
        run.interrupted = self.interrupted
        run.stop_reason = "interrupted" if self.interrupted else None
        run.compute_summary()
        run.verdict_catalogue = catalogue_of(run.summary.by_verdict)
        for host in run.hosts:  # what progress did not show (missed updates, hosts no shard recorded)
            if host.name not in self.seen:
                self.seen.add(host.name)
                self.live.host_finished(host)
        self.live.run_finished(run)
        return run

    def _reasons(self) -> Iterator[tuple[str, str]]:
        """Why each host of a shard may be missing from the store, by what became of its shard."""
        for shard in self.shards:
            label = shard.spec.label
            where = f" on {shard.worker}" if shard.worker else ""
            not_planned = set(shard.outcome.get("not_planned") or [])
            for name in shard.spec.hosts:
                if self.interrupted or shard.outcome.get("stopped"):
                    yield name, INTERRUPTED
                elif shard.state == "FAILURE":
                    attempts = f" after {shard.attempt} attempts" if shard.attempt > 1 else ""
                    yield name, f"{label} failed{where}{attempts}: {shard.error or 'unknown error'}"
                elif name in not_planned:
                    yield name, f"{label}: no play selects this host in the inventory{where}"
                else:
                    yield name, f"{label} ended{where} without a result for this host"

    def summary(self) -> str:
        queues = Counter(s.spec.queue for s in self.shards)
        workers = Counter(s.worker.split(" (pid")[0] for s in self.shards if s.worker and s.state == "SUCCESS")
        failed = sum(1 for s in self.shards if s.state == "FAILURE")
        text = (f"dispatched {len(self.shards)} shards (" + ", ".join(f"{q}: {n}" for q, n in queues.items())
                + ") to " + (", ".join(f"{w} ×{n}" for w, n in sorted(workers.items())) or "no worker"))
        return text + (f"; {failed} shards failed" if failed else "")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _exception_text(result: Any) -> str:
    """A stored exception as one line, read from its JSON without importing its class."""
    if isinstance(result, dict):
        message = result.get("exc_message")
        if isinstance(message, (list, tuple)):
            message = " ".join(str(m) for m in message)
        text = str(message or result.get("exc_type") or "error")
    else:
        text = str(result)
    return (text.splitlines()[0] if text else "error")[:500]


