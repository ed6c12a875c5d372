"""Running one audit on several cores: hosts are split across worker processes, each with its own runner.

Python runs one thread at a time, and the WinRM and SSH client libraries burn CPU per host (HTTP,
NTLM sealing, SSH crypto), so one process tops out at one core. With ``workers > 1`` the plans are
dealt round-robin to that many processes: forked when the parent runs no other thread (instant,
nothing re-imported), otherwise spawned (the parent may run threads, e.g. the lab fleet of
``auditor demo``, whose locks ``fork`` would copy in an unknown state). Each
worker runs the ordinary ``Runner`` on its share and streams every host's events back the moment
they happen, so the console, the events and the report are exactly those of a single process.
A worker that dies or is interrupted leaves its unfinished hosts in the report with an error; no
host is ever dropped.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import multiprocessing
import os
import resource
import threading
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any

from auditor.plan import HostPlan
from auditor.results import HostResult, HostStatus, RunResult, utcnow
from auditor.runner import Event, EventSink, PlayExecutor, RunOptions, Runner, _host_result
from auditor.transports.base import transport_module

#: Below this many hosts per worker a second process costs more (start-up, imports) than it saves.
MIN_HOSTS_PER_WORKER = 50


def auto_workers(hosts: int, cpus: int | None = None) -> int:
    """The default for ``--workers 0``: one process per core, but only when each gets real work."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(cpus, 8, hosts // MIN_HOSTS_PER_WORKER))


def transport_modules(plans: list[HostPlan]) -> list[str]:
    """The modules of the transports ``plans`` connect with: those ``get_transport`` imports on first use."""
    return sorted({m for m in (transport_module(p.spec.connection) for p in plans) if m is not None})


def preload_transports(plans: list[HostPlan]) -> None:
    """Import the plans' transports here, before forking: each forked worker would otherwise import them
    itself (~0.2 s of CPU each for ssh and winrm), and the pages would not be shared."""
    for module in transport_modules(plans):
        try:
            importlib.import_module(module)
        except ImportError:  # e.g. paramiko not installed: each host reports it, as without workers
            pass


def _worker_main(plans: list[HostPlan], options: RunOptions, executor: PlayExecutor | None, conn: Connection) -> None:
    """In the worker: run the share, send ("started", name) and ("finished", name, json) as they happen."""

    def forward(event: Event) -> None:
        if event.kind == "host_started":
            conn.send(("started", event.host, None))
        elif event.kind == "host_finished" and event.result is not None:
            conn.send(("finished", event.host, event.result.model_dump_json()))

    run = RunResult(run_id="worker", auditor_version="", started=utcnow())
    try:
        asyncio.run(Runner(options, sinks=[forward], play_executor=executor, keep_results=False).run(plans, run))
    except KeyboardInterrupt:  # the parent decides what an interrupt means
        pass
    finally:
        peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send(("done", None, str(peak_rss_kb)))
        conn.close()


def run_in_workers(
    plans: list[HostPlan],
    run: RunResult,
    options: RunOptions,
    sinks: list[EventSink],
    workers: int,
    play_executor: PlayExecutor | None = None,
) -> RunResult:
    """Run ``plans`` across ``workers`` processes; fills ``run`` like ``Runner.run`` does."""
    if threading.active_count() == 1:  # fork ahead: children inherit the imports (spawned ones re-import)
        preload_transports(plans)
    # checked after the preload too: an import that started a thread would make fork unsafe
    ctx = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
    shares = [plans[i::workers] for i in range(workers)]
    per_worker = replace(options, forks=max(1, options.forks // workers))
    results: dict[str, HostResult] = {}
    procs, conns = [], []
    emit = Runner(options, sinks=sinks)._emit
    emit(Event("run_started", total=len(plans)))
    if ctx.get_start_method() == "fork":
        # the collector's passes write to every object they scan, which would copy, in each child, the
        # pages it shares with the parent (the preloaded transports too): leave inherited objects out
        gc.freeze()
    try:
        for share in shares:
            parent_end, child_end = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker_main, args=(share, per_worker, play_executor, child_end), daemon=True)
            proc.start()
            child_end.close()
            procs.append(proc)
            conns.append(parent_end)
        worker_rss_kb = _collect(conns, results, emit)
        run.options["worker_peak_rss_mb"] = [round(kb / 1024, 1) for kb in worker_rss_kb]
    except KeyboardInterrupt:
        run.interrupted = True
    finally:
        gc.unfreeze()
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=5)
        for plan in plans:
            if plan.host.name not in results:
                now = utcnow()
                why = "run interrupted before this host finished" if run.interrupted else "its worker process ended unexpectedly"
                results[plan.host.name] = _host_result(plan, HostStatus.error, now, now, error=why)
        run.hosts = [results[p.host.name] for p in plans]
        run.finished = utcnow()
        run.options["workers"] = workers
        run.compute_summary()
        emit(Event("run_finished", total=len(plans)))
    return run


def _collect(conns: list[Connection], results: dict[str, HostResult], emit: Any) -> list[int]:
    """Forward the workers' events until every worker is done; returns their peak RSS (KiB)."""
    rss_kb: list[int] = []
    open_conns = list(conns)
    while open_conns:
        for conn in wait(open_conns):
            try:
                kind, host, payload = conn.recv()  # type: ignore[union-attr]
            except (EOFError, OSError):  # the worker died: its missing hosts are filled in by the caller
                kind = "done"
            if kind == "started":
                emit(Event("host_started", host=host))
            elif kind == "finished":
                result = HostResult.model_validate_json(payload)
                results[host] = result
                emit(Event("host_finished", host=host, result=result))
            if kind == "done":
                if payload:
                    rss_kb.append(int(payload))
                open_conns.remove(conn)
    return rss_kb
