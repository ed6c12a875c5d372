"""The async runner: bounded concurrency, deadlines, one HostResult per selected host, events as they happen.

It knows nothing about WSL or what a check means: it connects, gathers (one round trip per play),
hands facts to named derivers, checks and verdict rules, and emits the results.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from auditor import __version__
from auditor.checks import evaluate_checks
from auditor.gather import Gathered, gather, selected_collectors
from auditor.plan import HostPlan, PlannedPlay
from auditor.secrets import public_vars, scrub_text, secret_values
from auditor.results import (
    CheckResult,
    CheckStatus,
    HostResult,
    HostStatus,
    PlayResult,
    RunResult,
    TaskStatus,
    Timings,
    utcnow,
)
from auditor.rules import get_deriver, get_verdict_rule
from auditor.transports.base import (
    AuthFailed,
    ConnectFailed,
    Transport,
    TransportError,
    TransportTimeout,
    get_transport,
)

DEFAULT_FORKS = 100


@dataclass
class RunOptions:
    forks: int = DEFAULT_FORKS
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    host_deadline: float = 120.0
    enabled: set[str] = field(default_factory=set)   # opt-in checks/collectors, e.g. {"probe"}
    include_facts: bool = False
    workers: int = 1  # processes; 0 = auto (one per core when there are enough hosts), see auditor.workers


@dataclass
class Event:
    kind: str  # "run_started" | "host_started" | "host_finished" | "run_finished"
    host: str | None = None
    result: HostResult | None = None
    total: int = 0


EventSink = Callable[[Event], None]
#: Runs one play on one connected host. The default is the audit (gather -> checks -> verdict);
#: `auditor remediate` passes its own (tasks with check mode and diff) and reuses everything else.
PlayExecutor = Callable[["Runner", HostPlan, PlannedPlay, Transport], Awaitable[PlayResult]]


class Runner:
    def __init__(self, options: RunOptions, sinks: list[EventSink] | None = None,
                 transport_factory: Callable[[Any], Transport] = get_transport,
                 play_executor: PlayExecutor | None = None, keep_results: bool = True):
        self.options = options
        self._play_executor = play_executor
        # False in worker processes: each result goes to the parent as an event and need not stay here
        self._keep_results = keep_results
        self.sinks = list(sinks or [])
        self._transport_factory = transport_factory

    def _emit(self, event: Event) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception:  # noqa: BLE001 - a broken display must not stop an audit
                pass

    async def run(self, plans: list[HostPlan], run: RunResult) -> RunResult:
        """Run every plan; fills ``run.hosts`` (in plan order) even when interrupted."""
        results: dict[str, HostResult | None] = {}
        sem = asyncio.Semaphore(max(1, self.options.forks))
        self._emit(Event("run_started", total=len(plans)))

        async def one(plan: HostPlan) -> None:
            async with sem:
                self._emit(Event("host_started", host=plan.host.name))
                result = await self.run_host(plan)
                results[plan.host.name] = result if self._keep_results else None
                self._emit(Event("host_finished", host=plan.host.name, result=result))

        tasks = [asyncio.ensure_future(one(p)) for p in plans]
        try:
            await asyncio.gather(*tasks)
        except (asyncio.CancelledError, KeyboardInterrupt):
            run.interrupted = True
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for plan in plans:
                if plan.host.name not in results:  # never drop a host, whatever happened
                    now = utcnow()
                    results[plan.host.name] = _host_result(plan, HostStatus.error, now, now,
                                                           error="run interrupted before this host finished")
            run.hosts = [r for r in (results[p.host.name] for p in plans) if r is not None]
            run.finished = utcnow()
            run.compute_summary()
            self._emit(Event("run_finished", total=len(plans)))
        return run

    async def run_host(self, plan: HostPlan) -> HostResult:
        """One host, start to finish, inside its deadline. Never raises (except cancellation)."""
        started = utcnow()
        t0 = time.perf_counter()
        spec = plan.spec
        spec.connect_timeout = self.options.connect_timeout
        spec.command_timeout = self.options.command_timeout
        secrets = secret_values(plan.host.vars)
        state = _HostState()
        try:
            await asyncio.wait_for(self._run_plays(plan, state), timeout=self.options.host_deadline)
            status, error = _status_from_checks(state.plays), None
            if state.malformed:
                status, error = HostStatus.error, "malformed output: no collector results could be read"
        except asyncio.TimeoutError:
            phase = state.phase
            status, error = HostStatus.timed_out, f"host deadline of {self.options.host_deadline:g}s exceeded during {phase}"
        except TransportTimeout as exc:
            status, error = HostStatus.timed_out, str(exc) or "timed out"
        except AuthFailed as exc:
            status, error = HostStatus.auth_failed, str(exc) or "authentication failed"
        except ConnectFailed as exc:
            status, error = HostStatus.unreachable, str(exc) or "unreachable"
        except TransportError as exc:
            status, error = HostStatus.error, str(exc) or type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - one host's bug must not take the others down
            status, error = HostStatus.error, f"internal error: {type(exc).__name__}: {exc}"
        finally:
            if state.transport is not None:
                try:
                    await asyncio.wait_for(state.transport.close(), timeout=5)
                except BaseException:  # noqa: BLE001 - closing is best effort
                    pass
        result = _host_result(plan, status, started, utcnow(), error=error, plays=state.plays)
        state.timings.total_ms = round((time.perf_counter() - t0) * 1000, 2)
        result.timings = state.timings
        if secrets:
            result = HostResult.model_validate(scrub_text(result.model_dump(mode="json"), secrets))
        return result

    async def _run_plays(self, plan: HostPlan, state: "_HostState") -> None:
        state.phase = "connect"
        t = time.perf_counter()
        transport = self._transport_factory(plan.spec)
        state.transport = transport
        try:
            await asyncio.wait_for(transport.connect(), timeout=self.options.connect_timeout + 1)
        except asyncio.TimeoutError:
            raise TransportTimeout(f"connect timed out after {self.options.connect_timeout:g}s") from None
        state.timings.connect_ms = round((time.perf_counter() - t) * 1000, 2)
        for planned in plan.plays:
            state.phase = f"play {planned.play.name!r}"
            if self._play_executor is not None:
                state.plays.append(await self._play_executor(self, plan, planned, transport))
            else:
                state.plays.append(await self._run_play(plan, planned, transport, state))

    async def _run_play(self, plan: HostPlan, planned: PlannedPlay, transport: Transport, state: "_HostState") -> PlayResult:
        play = planned.play
        result = PlayResult(play=play.name, playbook=planned.playbook, platform=plan.platform)
        collectors = play.gather.get(plan.platform)  # type: ignore[call-overload]
        if collectors is None and play.gather:
            result.error = f"this play gathers nothing for {plan.platform} hosts"
            result.checks = [_not_applicable(c, result.error) for c in play.checks]
            return result
        state.phase = f"gather ({play.name})"
        t = time.perf_counter()
        gathered: Gathered = await gather(
            transport, selected_collectors(collectors or [], self.options.enabled), plan.platform, self.options.command_timeout
        )
        state.timings.gather_ms += round((time.perf_counter() - t) * 1000, 2)
        state.malformed = state.malformed or (gathered.malformed and bool(collectors))
        result.collectors = gathered.collectors
        state.phase = f"checks ({play.name})"
        t = time.perf_counter()
        facts = gathered.facts
        variables = public_vars({**plan.host.vars, **play.vars})
        for name in play.derive:
            try:
                facts.update(get_deriver(name)(facts, variables) or {})  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001 - reported, checks that need it will error
                facts["_errors"][f"derive:{name}"] = f"{type(exc).__name__}: {exc}"
        context = {
            "facts": facts,
            "vars": variables,
            "host": {"name": plan.host.name, "address": plan.spec.host, "groups": plan.host.groups, "platform": plan.platform},
            "enabled": set(self.options.enabled),
        }
        result.checks = evaluate_checks(play.checks, context, plan.platform, self.options.enabled)
        if play.verdict:
            try:
                result.verdict = get_verdict_rule(play.verdict)(facts, result.checks, variables)  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001
                result.error = f"verdict rule {play.verdict} failed: {type(exc).__name__}: {exc}"
        if self.options.include_facts:
            from auditor.checks import _bounded

            result.facts = _bounded(facts)
        state.timings.checks_ms += round((time.perf_counter() - t) * 1000, 2)
        return result


@dataclass
class _HostState:
    transport: Transport | None = None
    plays: list[PlayResult] = field(default_factory=list)
    phase: str = "start"
    malformed: bool = False
    timings: Timings = field(default_factory=Timings)


def _not_applicable(check, why: str) -> CheckResult:
    return CheckResult(id=check.id, title=check.title, severity=check.severity,
                       status=CheckStatus.not_applicable, message=why, tags=list(check.tags))


def _status_from_checks(plays: list[PlayResult]) -> HostStatus:
    for play in plays:
        for check in play.checks:
            if check.status in (CheckStatus.failed, CheckStatus.error):
                return HostStatus.failed
        if any(t.status is TaskStatus.failed for t in play.tasks):
            return HostStatus.failed
    return HostStatus.ok


def _host_result(plan: HostPlan, status: HostStatus, started, finished, *, error: str | None = None,
                 plays: list[PlayResult] | None = None) -> HostResult:
    return HostResult(
        id=plan.host.name,
        name=plan.host.name,
        address=plan.spec.host,
        port=plan.spec.port,
        connection=plan.spec.connection,
        platform=plan.platform,
        groups=list(plan.host.groups),
        status=status,
        error=error,
        started=started,
        finished=finished,
        plays=list(plays or []),
    )


def new_run(playbooks: list[str], sources: list[str], limit: str | None, options: RunOptions, kind: str = "audit") -> RunResult:
    return RunResult(
        run_id=uuid.uuid4().hex[:12],
        kind=kind,
        auditor_version=__version__,
        started=utcnow(),
        playbooks=playbooks,
        inventory_sources=sources,
        limit=limit,
        options={
            "forks": options.forks,
            "connect_timeout": options.connect_timeout,
            "command_timeout": options.command_timeout,
            "host_deadline": options.host_deadline,
            "enabled": sorted(options.enabled),
        },
    )
