"""What auditor's own work costs per host, stage by stage: ``python -m bench.stages --hosts 1000`` (or a running lab's
``INVENTORY [--floor FLOOR.json]``).

The benchmark's "CPU vs floor" says how much auditor adds to moving the bytes; py-spy says roughly where. This
says it exactly, in this process, timed with ``time.process_time`` (best of ``--repeat``), the garbage collector set
as in the process each part runs in:

- **rungs, over the lab's real transports**: auditor's own transports alone (connect, each play's batch as the
  audit builds it, close), then a worker's whole run over them (``Runner``, each result made into its JSON text);
  with ``--floor`` (or ``--hosts``) the transport floor (``bench.floor``) is the rung below;
- **stages, on the answers the first audit recorded**, replayed through auditor's own code one at a time:
  **the worker's whole host without a transport** (asyncio lanes, deadlines, gathering, checks, verdicts, the
  result and its JSON text) and its parts **gather** (the batch's output split, parsed, derived), **checks and
  verdict**, **the result's JSON text**; **the parent's parse** of that text; **the store sink** (rows, digests,
  zlib, SQLite, a real store in a temporary folder), of which **the rows**; **the reports** (JSON and HTML, the
  hosts read back from that store, as ``auditor run`` writes them).

Every batch carries one fixed nonce while measuring (a recorded answer must fit its replayed script); nothing else
differs from a run. Not here: the pipe between worker and parent, the console, inventory and planning, start-up
(``bench.startup``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import json
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from auditor.sinks import BaseSink
from auditor.workers import WORKER_GC_THRESHOLD
from bench.common import PLAYBOOKS, batch_end, raise_nofile

FIXED_NONCE = "00b3e4c4f1dec0de"  # hex, as new_nonce makes them


@dataclass
class Recorded:
    """Every answer each host gave, in order, and the shell its transport speaks, by host name."""

    answers: dict[str, list[Any]] = field(default_factory=dict)
    shells: dict[str, str] = field(default_factory=dict)


@dataclass
class Stage:
    name: str
    cpu_s: float
    hosts: int
    note: str = ""

    @property
    def ms_per_host(self) -> float:
        return self.cpu_s / self.hosts * 1000 if self.hosts else 0.0


class _AsAWorker(BaseSink):
    """What a worker's pipe sink does with each result: makes its JSON text and lets the model go (the text is kept
    here, where a worker sends it to its parent)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.statuses: Counter[str] = Counter()

    def host_finished(self, result: Any) -> None:
        self.statuses[result.status.value] += 1
        self.texts.append(result.model_dump_json())


@contextmanager
def _fixed_nonce() -> Iterator[None]:
    """Every batch carries the same markers while measuring, so that a recorded answer fits the replayed script."""
    import auditor.gather

    real = auditor.gather.new_nonce
    auditor.gather.new_nonce = lambda: FIXED_NONCE
    try:
        yield
    finally:
        auditor.gather.new_nonce = real


def recording_factory(recorded: Recorded) -> Callable[[Any], Any]:
    from auditor.transports.base import Transport, get_transport

    class RecordingTransport(Transport):
        def __init__(self, spec: Any):
            super().__init__(spec)
            self.inner = get_transport(spec)
            self.shell = recorded.shells[spec.name] = self.inner.shell

        async def connect(self) -> None:
            await self.inner.connect()

        async def run(self, script: str, timeout: float | None = None) -> Any:
            result = await self.inner.run(script, timeout)
            recorded.answers.setdefault(self.spec.name, []).append(result)
            return result

        async def close(self) -> None:
            await self.inner.close()

    return RecordingTransport


def replay_factory(recorded: Recorded) -> Callable[[Any], Any]:
    from auditor.transports.base import Transport

    class ReplayTransport(Transport):
        def __init__(self, spec: Any):
            super().__init__(spec)
            self.shell = recorded.shells[spec.name]
            self.answers: Iterator[Any] = iter(recorded.answers[spec.name])

        async def connect(self) -> None:
            return None

        async def run(self, script: str, timeout: float | None = None) -> Any:
            return next(self.answers)

        async def close(self) -> None:
            return None

    return ReplayTransport


#: ``--profile DIR``: each stage once more under cProfile, into DIR/<stage>.prof (not counted in the figures)
PROFILE_DIR: Path | None = None


def _profiled(fn: Callable[[], Any], name: str) -> None:
    if PROFILE_DIR is None:
        return
    profile = cProfile.Profile()
    profile.runcall(fn)
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    profile.dump_stats(PROFILE_DIR / (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".prof"))


def _cpu(fn: Callable[[], Any], repeat: int, worker: bool = False, name: str = "") -> tuple[float, Any]:
    """Best CPU seconds of ``repeat`` calls, and the last call's value. The garbage collector works as in the
    process the stage runs in (a worker's thresholds, or the parent's defaults), and what the stage is handed
    (every host's answers or results, held here at once, where the real process holds a few) is left out of its
    passes: otherwise each stage would pay for walking 1,000 hosts' objects again and again (a parse of the
    parent's that costs 0.05 ms a host would measure 0.37)."""
    best, value = float("inf"), None
    threshold = gc.get_threshold()
    for attempt in range(repeat):
        value = None
        gc.collect()
        gc.freeze()
        if worker:
            gc.set_threshold(*WORKER_GC_THRESHOLD)
        try:
            t = time.process_time()
            value = fn()
            best = min(best, time.process_time() - t)
            if name and attempt == repeat - 1:
                _profiled(fn, name)
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()
    return best, value


@dataclass
class Measured:
    rungs: list[Stage]       # over the lab's real transports, each rung adding a layer of auditor
    stages: list[Stage]      # replayed answers, stage by stage
    statuses: dict[str, int]


def measure(inventory: str, repeat: int, forks: int) -> Measured:
    with _fixed_nonce():
        return _measure(inventory, repeat, forks)


def _transports_alone(plans: list[Any], forks: int, enabled: set[str]) -> int:
    """Per host: connect through auditor's own transport, send each play's batch as the audit builds it, read the
    answer, close; nothing parsed. Returns the answers that carried the batch's END marker."""
    from auditor.collectors.batch import BatchItem, build_batch
    from auditor.gather import selected_collectors
    from auditor.transports.base import get_transport

    end = batch_end(FIXED_NONCE)

    async def go() -> int:
        lanes, answered = asyncio.Semaphore(forks), 0

        async def one(plan: Any) -> None:
            nonlocal answered
            async with lanes:
                transport = get_transport(plan.spec)
                await transport.connect()
                try:
                    for planned in plan.plays:
                        collectors = selected_collectors(planned.play.gather.get(plan.platform) or [], enabled)
                        items = [BatchItem(c.name, c.body, c.timeout) for c in collectors]
                        if items:
                            result = await transport.run(build_batch(transport.shell, items, FIXED_NONCE), timeout=60)
                            answered += end in result.stdout
                finally:
                    await transport.close()

        await asyncio.gather(*(one(p) for p in plans))
        return answered

    return asyncio.run(go())


def _measure(inventory: str, repeat: int, forks: int) -> Measured:
    from auditor import api
    from auditor.checks import evaluate_checks
    from auditor.commands.run import from_store
    from auditor.gather import gather_play
    from auditor.report.writers import write_reports
    from auditor.results import HostResult, PlayResult
    from auditor.rules import get_verdict_rule
    from auditor.runner import Runner, RunOptions
    from auditor.store.rows import host_rows
    from auditor.store.sink import StoreSink
    from auditor.store.store import open_store
    from auditor.workers import preload_transports

    options = RunOptions(forks=forks, workers=1)
    plan = api.plan_audit([str(p) for p in PLAYBOOKS], [inventory], options=options)
    plans = list(plan.hosts)
    n = len(plans)
    preload_transports(plans)  # as before a run's workers fork: the first host pays no import
    recorded = Recorded()
    live = asyncio.run(Runner(options, transport_factory=recording_factory(recorded)).run(plans, plan.header))
    statuses = Counter(h.status.value for h in live.hosts)
    if set(statuses) - {"ok", "failed"}:
        raise SystemExit(f"bench.stages: hosts not audited over their transports: {dict(statuses)}")
    batches = sum(len(answers) for answers in recorded.answers.values())
    rungs: list[Stage] = []
    stages: list[Stage] = []

    cpu, answered = _cpu(lambda: _transports_alone(plans, forks, options.enabled), repeat, worker=True,
                         name="transports alone")
    if answered != batches:
        raise SystemExit(f"bench.stages: {batches - answered} of {batches} batches were not answered over the transports")
    rungs.append(Stage("auditor's transports alone: connect, the audit's batch, close", cpu, n))

    def live_worker() -> _AsAWorker:
        sink = _AsAWorker()
        asyncio.run(Runner(options, sinks=[sink], keep_results=False).run(plans, plan.header))
        return sink

    cpu, worker = _cpu(live_worker, repeat, worker=True, name="worker live")
    if worker.statuses != statuses:
        raise SystemExit(f"bench.stages: a second audit of the lab ended otherwise: {dict(worker.statuses)}")
    rungs.append(Stage("a worker's whole run over them: Runner, every host's result as JSON text", cpu, n))

    def whole_hosts() -> _AsAWorker:
        sink = _AsAWorker()
        runner = Runner(options, sinks=[sink], transport_factory=replay_factory(recorded), keep_results=False)
        asyncio.run(runner.run(plans, plan.header))
        return sink

    cpu, worker = _cpu(whole_hosts, repeat, worker=True, name="whole host")
    if worker.statuses != statuses:
        raise SystemExit("bench.stages: replayed hosts ended otherwise than recorded ones")
    stages.append(Stage("worker: the whole host without a transport", cpu, n,
                        "Runner.run on replayed answers: lanes, deadlines, gather, checks, verdicts, result model, "
                        "its JSON text"))
    texts: list[str] = worker.texts
    run = live.model_copy(update={"hosts": []})

    gathered: list[tuple[Any, Any, Any]] = []

    def gather_all() -> None:
        gathered.clear()
        factory = replay_factory(recorded)

        async def go() -> None:
            for p in plans:
                assert p.spec is not None
                transport = factory(p.spec)
                for planned in p.plays:
                    result = PlayResult(play=planned.play.name, playbook=planned.playbook, platform=p.platform)
                    facts = await gather_play(transport, p, planned.play, options.enabled, 60.0, result)
                    gathered.append((p, planned, facts))

        asyncio.run(go())

    cpu, _ = _cpu(gather_all, repeat, worker=True, name="gather")
    stages.append(Stage("  of which gather: split, parse, derive", cpu, n))

    def checks_all() -> None:
        for p, planned, facts in gathered:
            checks = evaluate_checks(planned.play.checks, facts.context, p.platform, options.enabled)
            if planned.play.verdict:
                get_verdict_rule(planned.play.verdict)(facts.facts, checks, facts.variables)  # type: ignore[misc]

    cpu, _ = _cpu(checks_all, repeat, worker=True, name="checks")
    stages.append(Stage("  of which checks and verdict", cpu, n))

    parsed = [HostResult.model_validate_json(t) for t in texts]
    cpu, _ = _cpu(lambda: [h.model_dump_json() for h in parsed], repeat, worker=True, name="result text")
    stages.append(Stage("  of which result to JSON text", cpu, n, "what a worker sends its parent"))

    def parse_each() -> None:  # the parent hands each result on and keeps none
        for text in texts:
            HostResult.model_validate_json(text)

    cpu, _ = _cpu(parse_each, repeat, name="parent parse")
    stages.append(Stage("parent: JSON text to result", cpu, n))

    def rows_each() -> None:
        for h in parsed:
            host_rows("r", h, h.finished)

    rows_cpu, _ = _cpu(rows_each, repeat, name="store rows")
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        ids, opened = itertools.count(), []

        def sink_all() -> Any:
            i = next(ids)
            store = open_store(f"sqlite:///{tmp}/history-{i}.db")
            opened.append(store)
            header = run.model_copy(update={"hosts": [], "run_id": f"{run.run_id}-{i}"})
            sink = StoreSink(store, [h.name for h in parsed])
            sink.run_started(header, n)
            for h in parsed:
                sink.host_finished(h)
            sink.run_finished(header)
            return store, header

        def reports_of(store: Any, header: Any, i: int) -> None:
            planned = store.planned_hosts(header.run_id)
            write_reports(from_store(header, store, {}, planned, []), ["json", "html"], Path(tmp) / f"reports-{i}")

        best_sink, best_reports = float("inf"), float("inf")
        try:
            for i in range(repeat):
                cpu, (store, header) = _cpu(sink_all, 1, name="store sink" if i == repeat - 1 else "")
                best_sink = min(best_sink, cpu)
                cpu, _ = _cpu(partial(reports_of, store, header, i), 1, name="reports" if i == repeat - 1 else "")
                best_reports = min(best_reports, cpu)
        finally:
            for store in opened:
                store.close()
    stages.append(Stage("parent: store sink", best_sink, n, "rows, digests, zlib, SQLite (its writer thread included)"))
    stages.append(Stage("  of which store rows (before SQL)", rows_cpu, n))
    stages.append(Stage("reports: JSON and HTML from the store", best_reports, n))
    return Measured(rungs, stages, dict(statuses))


def table(measured: Measured, floor_ms: float | None) -> str:
    lines = ["Over the lab's transports, each rung adding a layer:", "",
             "| rung | CPU ms/host | added ms/host |", "|---|---:|---:|"]
    below = floor_ms
    if floor_ms is not None:
        lines.append(f"| the floor (bench.floor: connect, one command, close) | {floor_ms:.3f} | |")
    for rung in measured.rungs:
        added = f"{rung.ms_per_host - below:.3f}" if below is not None else ""
        lines.append(f"| {rung.name} | {rung.ms_per_host:.3f} | {added} |")
        below = rung.ms_per_host
    lines += ["", "On the recorded answers, replayed stage by stage:", "", "| stage | CPU ms/host |", "|---|---:|"]
    for stage in measured.stages:
        lines.append(f"| {stage.name} | {stage.ms_per_host:.3f} |")
    own = sum(stage.ms_per_host for stage in measured.stages if not stage.name.startswith(" "))
    lines.append(f"| **auditor's own work, the stages above summed** | **{own:.3f}** |")
    if floor_ms is not None:
        lines.append(f"| what the 1.5x target leaves for auditor's own work (half the floor) | {floor_ms / 2:.3f} |")
    return "\n".join(lines)


def markdown_of(doc: dict[str, Any]) -> str:
    """The tables of a ``--json`` document (``bench.run`` puts it in its report)."""
    def stage(row: dict[str, Any]) -> Stage:
        return Stage(("  " if row["part"] else "") + row["stage"], row["cpu_s"], doc["hosts"], row.get("note", ""))

    measured = Measured([stage(r) for r in doc["rungs"]], [stage(r) for r in doc["stages"]], doc["statuses"])
    return table(measured, doc.get("floor_ms_per_host"))


def _rows(stages: list[Stage]) -> list[dict[str, Any]]:
    return [{"stage": s.name.strip(), "part": s.name.startswith(" "), "cpu_s": round(s.cpu_s, 4),
             "ms_per_host": round(s.ms_per_host, 4), "note": s.note} for s in stages]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.split("\n\n")[0])
    ap.add_argument("inventory", nargs="?", help="a running lab's inventory (python -m bench.labserve --inventory-out)")
    ap.add_argument("--hosts", type=int, help="instead of INVENTORY: start a lab of this many hosts (as bench.run "
                                              "does), run the floor on it, measure, stop the lab")
    ap.add_argument("--seed", type=int, default=1, help="the lab's seed with --hosts")
    ap.add_argument("--repeat", type=int, default=3, help="replays of each stage; the best counts")
    ap.add_argument("--forks", type=int, default=50, help="hosts audited at once, as auditor run --forks (default 50)")
    ap.add_argument("--floor", help="bench.floor's JSON on the same lab: adds the floor's CPU per host")
    ap.add_argument("--json", dest="json_out", help="also write the stages as JSON here")
    ap.add_argument("--profile", metavar="DIR", help="each stage once more under cProfile, into DIR/<stage>.prof")
    args = ap.parse_args(argv)
    if (args.inventory is None) == (args.hosts is None):
        ap.error("give a running lab's INVENTORY or --hosts N, one of them")
    raise_nofile()
    global PROFILE_DIR
    PROFILE_DIR = Path(args.profile) if args.profile else None
    if args.hosts is None:
        return _report(args, args.inventory, json.loads(Path(args.floor).read_text()) if args.floor else None)
    from bench.run import Lab, run_floor

    with tempfile.TemporaryDirectory(prefix="bench-stages-lab-") as tmp:
        lab = Lab(args.hosts, args.seed, Path(tmp), with_faults=False)
        try:
            lab.wait_ready()
            floor = run_floor(lab.inventory, Path(tmp) / "floor.json", args.forks)
            if "error" in floor:
                raise SystemExit(f"bench.stages: the floor failed: {floor['error']}")
            return _report(args, str(lab.inventory), floor)
        finally:
            lab.stop()


def _report(args: argparse.Namespace, inventory: str, floor: dict[str, Any] | None) -> int:
    measured = measure(inventory, args.repeat, args.forks)
    floor_ms = floor["cpu_s"] / floor["hosts"] * 1000 if floor else None
    n = measured.stages[0].hosts
    print(f"{n} hosts ({', '.join(f'{k} {v}' for k, v in sorted(measured.statuses.items()))}), best of {args.repeat}\n")
    print(table(measured, floor_ms))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "hosts": n, "statuses": measured.statuses, "floor_ms_per_host": floor_ms,
            "rungs": _rows(measured.rungs), "stages": _rows(measured.stages)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
