"""The library API: plan an audit or a remediation, then run it (async, sync, or as a stream of hosts).

    from auditor import api

    plan = api.plan_audit(["playbooks/mirrored-mode.yml"], ["inventories/fleet.yml"], limit="windows")
    result = api.run(plan, sinks=[MySink()])          # or: await api.run_async(plan) inside a loop
    async for host in api.stream(plan): ...           # each HostResult as it finishes

The command line, ``auditor serve`` and the Celery workers are all glue over these functions. A plan holds
no secret in clear (see ``auditor.secrets``): it can be pickled to another process. Planning only some hosts
of a run (``only_hosts``) under an existing ``run_id`` is how a resumed run and a Celery shard are built.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, Sequence

from auditor.errors import BadInputError
from auditor.inventory.connection import ConnectionDefaults
from auditor.inventory.model import Inventory
from auditor.plan import HostPlan, build_plan, playbook_id
from auditor.results import HostResult, PlaybookRef, RunKind, RunResult
from auditor.runner import CheckHook, PlayExecutor, RunOptions, Runner, new_run
from auditor.sinks import BaseSink, Sink

if TYPE_CHECKING:
    from auditor.waivers import BoundWaivers

__all__ = [
    "AuditPlan",
    "BaseSink",
    "CheckHook",
    "ConnectionDefaults",
    "HostResult",
    "RunOptions",
    "RunResult",
    "Sink",
    "plan_audit",
    "plan_remediation",
    "run",
    "run_async",
    "stream",
]

REMEDIATION_COMMAND_TIMEOUT = 120.0  # a remediation step (restarts, file writes) may take longer than a collector


@dataclass
class AuditPlan:
    """What to run where: the hosts' plans (connections resolved, no secret in clear) and the run's header."""

    header: RunResult                 # run id, kind, playbooks with digests, inventory, options; no hosts yet
    hosts: list[HostPlan]
    options: RunOptions
    play_executor: PlayExecutor | None = field(default=None, repr=False)  # remediation's; None = audit

    @property
    def run_id(self) -> str:
        return self.header.run_id

    @property
    def kind(self) -> RunKind:
        return self.header.kind


def _inventory(inventory: Inventory | Sequence[str]) -> Inventory:
    if isinstance(inventory, Inventory):
        return inventory
    from auditor.inventory import load_inventory

    return load_inventory(list(inventory))


def _refs(books: Iterable[Any]) -> list[PlaybookRef]:
    return [PlaybookRef(path=b.path, id=playbook_id(b), sha256=b.sha256) for b in books]


def _plan(kind: RunKind, books: list[Any], inventory: Inventory | Sequence[str], limit: str | None, options: RunOptions,
          connection: ConnectionDefaults, only_hosts: Iterable[str] | None, run_id: str | None,
          executor: PlayExecutor | None, **record: Any) -> AuditPlan:
    inv = _inventory(inventory)
    cli = ConnectionDefaults(
        connect_timeout=options.connect_timeout if options.connect_timeout is not None else connection.connect_timeout,
        command_timeout=options.command_timeout if options.command_timeout is not None else connection.command_timeout,
        host_key_checking=connection.host_key_checking, known_hosts_file=connection.known_hosts_file,
    )
    hosts = build_plan(inv, books, limit=limit, cli=cli, only_hosts=only_hosts)
    if not hosts and only_hosts is None:
        patterns = ", ".join(sorted({str(play.hosts) for book in books for play in book.plays}))
        raise BadInputError(f"no hosts matched: the plays select {patterns!r}" + (f" and --limit is {limit!r}" if limit else "")
                            + f" in {', '.join(inv.sources) or 'the inventory'}")
    header = new_run(_refs(books), list(inv.sources), limit, options, kind=kind, run_id=run_id, **record)
    return AuditPlan(header=header, hosts=hosts, options=options, play_executor=executor)


def plan_audit(playbooks: Sequence[str | Path] | Sequence[Any], inventory: Inventory | Sequence[str], *,
               limit: str | None = None, options: RunOptions | None = None,
               connection: ConnectionDefaults = ConnectionDefaults(), only_hosts: Iterable[str] | None = None,
               run_id: str | None = None) -> AuditPlan:
    """Plan an audit: playbook paths (or loaded ``Playbook`` objects), inventory sources (or an ``Inventory``,
    e.g. loaded with vault secrets). ``only_hosts`` plans just those names (resume, shards); ``run_id`` reuses
    an existing run's id. Raises ``BadInputError`` (file:line:col) for bad input, or when no host matches."""
    from auditor.playbook import load_playbooks

    books = [p for p in playbooks if not isinstance(p, (str, Path))]
    if len(books) != len(playbooks):
        books = load_playbooks([str(p) for p in playbooks])
    return _plan("audit", books, inventory, limit, options or RunOptions(), connection, only_hosts, run_id, None)


def plan_remediation(playbooks: Sequence[str | Path] | Sequence[Any], inventory: Inventory | Sequence[str], *,
                     check_mode: bool, limit: str | None = None, options: RunOptions | None = None,
                     connection: ConnectionDefaults = ConnectionDefaults(), only_hosts: Iterable[str] | None = None,
                     run_id: str | None = None, waivers: BoundWaivers | None = None,
                     today: date | None = None) -> AuditPlan:
    """Plan a remediation run (``check_mode`` changes nothing; the result says what would change). ``waivers``
    (bound to the inventory): a play leaves a host alone when an active waiver covers a check the play ``fixes``."""
    from auditor.remediate.executor import RemediationExecutor
    from auditor.remediate.loader import load_remediation_playbooks

    books = [p for p in playbooks if not isinstance(p, (str, Path))]
    if len(books) != len(playbooks):
        books = load_remediation_playbooks([str(p) for p in playbooks])
    options = options or RunOptions()
    if connection.command_timeout is None and options.command_timeout is None:
        connection = ConnectionDefaults(connection.connect_timeout, REMEDIATION_COMMAND_TIMEOUT,
                                        connection.host_key_checking, connection.known_hosts_file)
    return _plan("remediation", books, inventory, limit, options, connection, only_hosts, run_id,
                 RemediationExecutor(check_mode, waivers, today), check_mode=check_mode)


async def run_async(plan: AuditPlan, sinks: Iterable[Sink] = (), *, check_hook: CheckHook | None = None,
                    keep_results: bool = True) -> RunResult:
    """Run ``plan`` in the running event loop (one process; ``options.workers`` is not used here).
    ``keep_results`` False: the full results go only to the sinks (e.g. the history store) and are counted into
    the returned run's ``summary``; its ``hosts`` holds only the hosts that never finished (an interrupt, a dead
    worker), which no sink saw: memory stays flat at any fleet size."""
    runner = Runner(plan.options, sinks=sinks, play_executor=plan.play_executor, check_hook=check_hook,
                    keep_results=keep_results)
    return await runner.run(plan.hosts, plan.header)


class _Last(BaseSink):
    """Keeps the run as the runner last reported it, for a Ctrl-C that lands outside the runner."""

    def __init__(self) -> None:
        self.run: RunResult | None = None

    def run_finished(self, run: RunResult) -> None:
        self.run = run


def run(plan: AuditPlan, sinks: Iterable[Sink] = (), *, check_hook: CheckHook | None = None,
        keep_results: bool = True, release_plans: bool = False) -> RunResult:
    """Run ``plan`` to the end in this thread (its own event loop); across worker processes when
    ``options.workers`` asks for it (0 = one per core once there are enough hosts). ``release_plans`` (with
    ``keep_results`` False) spends the plan: its hosts are let go once dealt to forked workers (``plan.hosts`` is
    then empty), which keeps the parent and its workers from sharing, and then copying, their memory."""
    from auditor.workers import auto_workers, run_in_workers

    sinks = list(sinks)
    workers = max(1, min(plan.options.workers or auto_workers(len(plan.hosts)), len(plan.hosts) or 1))
    if workers > 1:
        return run_in_workers(plan.hosts, plan.header, plan.options, sinks, workers, plan.play_executor, check_hook,
                              keep_results, release=release_plans)
    last = _Last()
    try:
        result = asyncio.run(run_async(plan, [*sinks, last], check_hook=check_hook, keep_results=keep_results))
    except KeyboardInterrupt:
        if last.run is None:
            raise
        result = last.run
        result.interrupted = True
        result.stop_reason = result.stop_reason or "interrupted"
    result.options.workers = 1
    return result


async def stream(plan: AuditPlan, *, check_hook: CheckHook | None = None) -> AsyncIterator[HostResult]:
    """Each host's result as it finishes (in finishing order). Leaving the loop early cancels the rest."""
    queue: asyncio.Queue[HostResult | None] = asyncio.Queue()

    class _Queue(BaseSink):
        def host_finished(self, result: HostResult) -> None:
            queue.put_nowait(result)

    task = asyncio.ensure_future(run_async(plan, [_Queue()], check_hook=check_hook))
    task.add_done_callback(lambda _: queue.put_nowait(None))
    try:
        while (item := await queue.get()) is not None:
            yield item
        await task  # re-raise what the run raised, if anything
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
