"""Running one audit on several cores: hosts are split across worker processes, each with its own runner.

Python runs one thread at a time, and the WinRM and SSH client libraries burn CPU per host (HTTP,
NTLM sealing, SSH crypto), so one process tops out at one core. With ``workers > 1`` the plans are
dealt to that many processes in round-robin blocks: forked when the parent runs no other thread (instant,
nothing re-imported), otherwise spawned (the parent may run threads, e.g. the lab fleet of
``auditor demo``, whose locks ``fork`` would copy in an unknown state). Each worker runs the ordinary
``Runner`` on its share with a ``PipeSink`` that sends typed messages (``HostStarted``,
``HostFinished``, ``WorkerDone``) the moment they happen; the parent hands them to its own sinks, so the
console, the store and the report see exactly what a single process would show.

Plans carry no secret in clear (``auditor.secrets``): a forked worker inherits the parent's secret
store; a spawned one receives the values its hosts need as a separate argument over its own pipe.
A worker that dies or is interrupted leaves its unfinished hosts in the result as errors saying so;
no host is ever dropped.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import io
import multiprocessing
import os
import pickle
import resource
import signal
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from typing import Any, Iterable, Iterator

from auditor.plan import HostPlan, PlannedPlay
from auditor.results import HostResult, RunResult
from auditor.runner import INTERRUPTED, CheckHook, Finished, PlayExecutor, Plans, RunOptions, Runner
from auditor.secrets import Secret, export_values, import_values
from auditor.sinks import BaseSink, CriticalSinkFailed, Sink, Sinks
from auditor.transports.base import transport_module

#: Below this many hosts per worker a second process costs more (start-up, imports) than it saves.
MIN_HOSTS_PER_WORKER = 50
WORKER_DIED = "its worker process ended unexpectedly"
#: the collector's thresholds in a worker. A host's results are thousands of short-lived containers (parsed JSON,
#: models): at Python's default of 700, the youngest generation ran every few dozen hosts and walked whatever was
#: alive then, then the next generation again: ~3.3 s of CPU per worker of 10,000 hosts (gc.callbacks, 20,000-host
#: lab audit); with 10,000, 0.5 s. The garbage is nearly all freed by reference counting; cycles wait a little longer.
WORKER_GC_THRESHOLD = (10_000, 10, 10)


@dataclass(frozen=True)
class HostStarted:
    name: str


@dataclass(frozen=True)
class HostFinished:
    result_json: str  # HostResult as JSON: smaller and faster to move than the pickled model


@dataclass(frozen=True)
class WorkerDone:
    peak_rss_kb: int


WorkerMessage = HostStarted | HostFinished | WorkerDone


def auto_workers(hosts: int, cpus: int | None = None) -> int:
    """The default for ``--workers 0``: one process per core, but only when each gets real work."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(cpus, 8, hosts // MIN_HOSTS_PER_WORKER))


#: Hosts dealt to a worker at a time. A forked worker copies each memory page of the parent's plans it touches
#: (reference counts are writes): hosts dealt one by one would have both workers touch, and copy, nearly every
#: page; in blocks each copies about its own share (20,000 hosts: ~22 instead of ~34 MB per worker, measured).
DEAL_BLOCK = 64


def deal(plans: list[HostPlan], workers: int) -> list[list[HostPlan]]:
    """The workers' shares: blocks of ``DEAL_BLOCK`` consecutive plans, dealt round-robin (each worker gets every
    kind of host an inventory groups together)."""
    shares: list[list[HostPlan]] = [[] for _ in range(workers)]
    for block, start in enumerate(range(0, len(plans), DEAL_BLOCK)):
        shares[block % workers].extend(plans[start:start + DEAL_BLOCK])
    return shares


class PackedPlans:
    """A forked worker's share as pickled blocks, unpacked one block at a time as its hosts are taken: the worker
    holds the plans of the hosts in flight, not its whole share, and never touches (so never copies) the
    parent's plan objects. What plans share (their ``PlannedPlay``, with the play's checks and scripts) is
    pickled by reference to the parent's objects, which the child inherited."""

    def __init__(self, plans: list[HostPlan], block: int = DEAL_BLOCK):
        self._shared: list[Any] = []
        seen: dict[int, int] = {}
        for plan in plans:
            for planned in plan.plays:
                if id(planned) not in seen:
                    seen[id(planned)] = len(self._shared)
                    self._shared.append(planned)
        self._blocks = [self._dump(plans[i:i + block], seen) for i in range(0, len(plans), block)]
        self._count = len(plans)

    def _dump(self, plans: list[HostPlan], seen: dict[int, int]) -> bytes:
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = lambda obj: seen.get(id(obj)) if isinstance(obj, PlannedPlay) else None  # type: ignore[method-assign]
        pickler.dump(plans)
        return out.getvalue()

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[HostPlan]:
        for blob in self._blocks:
            unpickler = pickle.Unpickler(io.BytesIO(blob))
            unpickler.persistent_load = self._shared.__getitem__  # type: ignore[method-assign]
            plans: list[HostPlan] = unpickler.load()
            yield from plans


def transport_modules(plans: list[HostPlan]) -> list[str]:
    """The modules of the transports ``plans`` connect with: those ``get_transport`` imports on first use."""
    return sorted({m for m in (transport_module(p.connection) for p in plans) if m is not None})


def preload_transports(plans: list[HostPlan]) -> None:
    """Import the plans' transports here, before forking: each forked worker would otherwise import them
    itself (~0.2 s of CPU each for ssh and winrm), and the pages would not be shared."""
    for module in transport_modules(plans):
        try:
            importlib.import_module(module)
        except ImportError:  # e.g. paramiko not installed: each host reports it, as without workers
            pass


class PipeSink(BaseSink):
    """In a worker: each event becomes one typed message to the parent. When the parent is gone (the pipe is
    broken), the worker's run stops, as after Ctrl-C, instead of going on with no one to report to."""

    def __init__(self, conn: Connection):
        self.conn = conn
        #: results' JSON texts the runner already made (``Runner(serialised=...)``), taken here by host name
        self.serialised: dict[str, str] = {}

    def _send(self, message: WorkerMessage) -> None:
        try:
            self.conn.send(message)
        except OSError:
            os.kill(os.getpid(), signal.SIGINT)

    def host_started(self, name: str) -> None:
        self._send(HostStarted(name))

    def host_finished(self, result: HostResult) -> None:
        text = self.serialised.pop(result.name, None)
        self._send(HostFinished(text if text is not None else result.model_dump_json()))


def _plan_secrets(plans: Iterable[HostPlan]) -> list[Secret]:
    out: list[Secret] = []
    for plan in plans:
        out.extend(plan.secrets)
        if plan.spec is not None and plan.spec.password is not None:
            out.append(plan.spec.password)
        kerberos = plan.spec.winrm.kerberos if plan.spec is not None and plan.spec.winrm is not None else None
        if kerberos is not None and kerberos.password is not None:
            out.append(kerberos.password)
    return out


PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """A worker must never outlive its parent (a remediation would go on changing hosts with nobody to stop
    it): the kernel sends it SIGTERM when the parent dies (Linux prctl), and a watchdog thread checks the
    parent where prctl is not available. SIGTERM interrupts the run like Ctrl-C (``auditor.cli``)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _worker_main(plans: list[HostPlan] | PackedPlans, header: RunResult, options: RunOptions, executor: PlayExecutor | None,
                 hook: CheckHook | None, secret_values: dict[str, str], parent_pid: int,
                 inherited: list[Connection], conn: Connection) -> None:
    """In the worker: run the share; the pipe sink streams its events; a last ``WorkerDone``."""
    for other in inherited:  # forked: the parent's ends of every pipe, this worker's own included. Held here,
        other.close()        # they would keep a pipe open after the parent died and block its writer for good
    die_with_parent(parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    import_values(secret_values)  # empty when forked: the inherited store has them
    gc.set_threshold(*WORKER_GC_THRESHOLD)
    pipe = PipeSink(conn)
    runner = Runner(options, sinks=[pipe], play_executor=executor, check_hook=hook, keep_results=False,
                    serialised=pipe.serialised)
    try:
        asyncio.run(runner.run(plans, header))
    except KeyboardInterrupt:  # the parent decides what an interrupt means
        pass
    finally:
        try:
            conn.send(WorkerDone(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
        except OSError:  # the parent is gone or stopped listening (an interrupt): nothing left to tell it
            pass
        finally:
            conn.close()


def run_in_workers(
    plans: list[HostPlan],
    header: RunResult,
    options: RunOptions,
    sinks: Iterable[Sink],
    workers: int,
    play_executor: PlayExecutor | None = None,
    check_hook: CheckHook | None = None,
    keep_results: bool = True,
    release: bool = False,
) -> RunResult:
    """Run ``plans`` across ``workers`` processes; returns the run like ``Runner.run`` does (``keep_results``
    False: only the hosts that never finished, every host counted in its summary, the full results having gone
    to ``sinks``). ``release`` (with ``keep_results`` False): ``plans`` is emptied once the forked workers' shares
    are packed, before they fork, for a caller that needs the plans no more (the command line)."""
    if threading.active_count() == 1:  # fork ahead: children inherit the imports (spawned ones re-import)
        preload_transports(plans)
    # checked after the preload too: an import that started a thread would make fork unsafe
    ctx: Any = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
    forked = ctx.get_start_method() == "fork"
    shares: list[Any] = deal(plans, workers)
    if forked:
        shares = [PackedPlans(share) for share in shares]
    per_worker = replace(options, forks=max(1, options.forks // workers))
    run = header.model_copy()
    out = Sinks(sinks)
    results = Finished(plans, keep_results, by_name=True)
    total = len(plans)
    in_order: Plans = plans
    procs: list[Any] = []
    conns: list[Connection] = []
    stop: list[str] = []
    try:
        out.run_started(run, total)
        if release and forked and not keep_results:
            in_order = _InPlanOrder(shares, results)  # first: an interrupt while releasing still finds every host
            _release(plans, results)
        if forked:
            # the collector's passes write to every object they scan, which would copy, in each child, the
            # pages it shares with the parent (the preloaded transports too): leave inherited objects out
            gc.freeze()
        for share in shares:
            parent_end, child_end = ctx.Pipe(duplex=False)
            values = {} if forked else export_values(_plan_secrets(share))
            inherited = [*conns, parent_end] if forked else []
            proc = ctx.Process(target=_worker_main, args=(share, header, per_worker, play_executor, check_hook, values,
                                                          os.getpid(), inherited, child_end), daemon=True)
            proc.start()
            child_end.close()
            procs.append(proc)
            conns.append(parent_end)
        rss_kb = _collect(conns, results, out)
        run.options.worker_peak_rss_mb = [round(kb / 1024, 1) for kb in rss_kb]
    except CriticalSinkFailed as exc:
        stop.append(str(exc))
    except KeyboardInterrupt:
        stop.append("interrupted")
    finally:
        gc.unfreeze()
        for proc in procs:
            if not stop:  # it said WorkerDone and is on its way out: a SIGTERM now would print its interrupt
                proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=5)
        if stop:
            run.interrupted, run.stop_reason = True, stop[0]
        results.finish(run, in_order, INTERRUPTED if run.interrupted else WORKER_DIED)
        run.options.workers = workers
        out.run_finished(run)
    return run


def _release(plans: list[HostPlan], results: Finished) -> None:
    """Let go of ``plans`` (the packed shares hold all the workers and ``Finished.finish`` need) before forking.
    At 20,000 hosts they are ~60 MB the workers would inherit and the parent, reusing their freed slots for each
    host's results, would copy page by page during the run. Their memory goes back to the system only if nothing
    keeps one of their small objects: the names ``results`` looks hosts up by are made again afterwards, from one
    string, and the sinks keep none (``RunTally``, ``StoreSink`` once the run is created)."""
    names = "\0".join(plan.name for plan in plans)
    try:
        plans.clear()
        results.known_names([])
        gc.collect()
    finally:
        results.known_names(names.split("\0") if names else [])


class _InPlanOrder:
    """The plans of packed shares in plan order, for ``Finished.finish`` once the plan list itself is let go: unpacked
    only when some host never finished (a worker died, an interrupt)."""

    def __init__(self, shares: list[PackedPlans], results: Finished):
        self._shares = shares
        self._results = results

    def __len__(self) -> int:
        return sum(len(share) for share in self._shares)

    def __iter__(self) -> Iterator[HostPlan]:
        plans = [plan for share in self._shares for plan in share]
        plans.sort(key=lambda plan: self._results.position(plan.name))
        return iter(plans)


def _collect(conns: list[Connection], results: Finished, out: Sinks) -> list[int]:
    """Hand the workers' messages to ``out`` until every worker is done or gone; returns their peak RSS (KiB)."""
    rss_kb: list[int] = []
    open_conns = list(conns)
    while open_conns:
        for conn in wait(open_conns):
            assert isinstance(conn, Connection)
            try:
                message: WorkerMessage = conn.recv()
            except (EOFError, OSError):  # the worker died: its missing hosts are filled in by the caller
                open_conns.remove(conn)
                continue
            if isinstance(message, HostStarted):
                out.host_started(message.name)
            elif isinstance(message, HostFinished):
                # pydantic's own JSON parser: 0.16 ms a host against 0.22 for json.loads + model_validate, measured
                # with a few hundred results alive at a time, as the store writer's queue holds them
                result = HostResult.model_validate_json(message.result_json)
                results.add(result)
                out.host_finished(result)
            elif isinstance(message, WorkerDone):
                rss_kb.append(message.peak_rss_kb)
                open_conns.remove(conn)
    return rss_kb
