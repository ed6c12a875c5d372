"""The async runner: bounded concurrency, deadlines, one HostResult per selected host, sinks told as it happens.

It knows nothing about WSL or what a check means: it connects, gathers (one round trip per play), hands
facts to named derivers, checks and verdict rules, lets the check hook act between checks and verdict
(waivers), and tells its sinks (``auditor.sinks``) about every host the moment it finishes.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable, Iterator, Protocol

from auditor import __version__
from auditor.checks import bounded, evaluate_checks
from auditor.errors import AuthFailed, ConnectFailed, TransportError, TransportTimeout
from auditor.gather import PlayFacts, gather_play
from auditor.outcomes import needs_action
from auditor.plan import HostPlan, PlannedPlay
from auditor.results import (
    CheckResult,
    CheckStatus,
    HostResult,
    HostStatus,
    PlaybookRef,
    PlayResult,
    RunKind,
    RunOptionsRecord,
    RunResult,
    RunSummary,
    Timings,
    utcnow,
)
from auditor.rules import catalogue_of, get_verdict_rule, verdict_catalogue
from auditor.secrets import SecretUnavailable, scrub_text
from auditor.sinks import CriticalSinkFailed, Sink, Sinks
from auditor.transports.base import Transport, get_transport

DEFAULT_FORKS = 100
INTERRUPTED = "run interrupted before this host finished"


@dataclass
class RunOptions:
    forks: int = DEFAULT_FORKS
    #: explicit command-line values; None = each host's own setting (inventory), else the default
    connect_timeout: float | None = None
    command_timeout: float | None = None
    host_deadline: float = 120.0
    enabled: set[str] = field(default_factory=set)   # opt-in checks/collectors, e.g. {"probe"}
    include_facts: bool = False
    workers: int = 1  # processes; 0 = auto (one per core when there are enough hosts), see auditor.workers
    check_ids: frozenset[str] | None = None  # --check-id: only these checks are evaluated (the others: skipped)

    def record(self, **extra: object) -> RunOptionsRecord:
        return RunOptionsRecord(forks=self.forks, connect_timeout=self.connect_timeout,
                                command_timeout=self.command_timeout, host_deadline=self.host_deadline,
                                enabled=sorted(self.enabled), include_facts=self.include_facts,
                                check_ids=sorted(self.check_ids) if self.check_ids is not None else None, **extra)  # type: ignore[arg-type]


#: Runs one play on one connected host. The default is the audit (gather -> checks -> hook -> verdict);
#: `auditor remediate` passes its own (tasks with check mode and diff) and reuses everything else.
PlayExecutor = Callable[["Runner", HostPlan, PlannedPlay, Transport], Awaitable[PlayResult]]
#: Acts between check evaluation and verdict (waivers): gets the host's plan and a check result (its
#: ``key`` is unique in the run), returns the result to keep (the same one, or a replacement).
CheckHook = Callable[[HostPlan, CheckResult], CheckResult]


class Runner:
    def __init__(self, options: RunOptions, sinks: Iterable[Sink] = (),
                 transport_factory: Callable[..., Transport] = get_transport,
                 play_executor: PlayExecutor | None = None, check_hook: CheckHook | None = None,
                 keep_results: bool = True, serialised: dict[str, str] | None = None):
        self.options = options
        self.sinks = Sinks(sinks)
        self.check_hook = check_hook
        self.catalogue = verdict_catalogue()
        self._play_executor = play_executor
        self._transport_factory = transport_factory
        # False: each full result goes to the sinks (the parent process, the history store) and is only counted
        # here (``RunSummary.add``): memory stays flat whatever the fleet's size
        self._keep_results = keep_results
        # a worker's pipe sink: the JSON text of a host's result when ``run_host`` already made it (to look for
        # secrets), by host name, taken by the sink right after, so that the result is serialised once
        self._serialised = serialised

    async def run(self, plans: Plans, header: RunResult) -> RunResult:
        """Run every plan and return the run: ``header`` (see ``new_run``) with every host, in plan order,
        also when interrupted or stopped by a critical sink. ``header`` itself is not changed."""
        run = header.model_copy()
        results = Finished(plans, self._keep_results)
        stop: list[str] = []
        tasks: list[asyncio.Task[None]] = []
        waiting = enumerate(plans)  # shared by the lanes: each plan is taken once, when a lane is free

        async def lane() -> None:
            # ``forks`` lanes take hosts one after the other: a task per lane, not per host (20,000 tasks would
            # cost ~25 MB before the first host finished)
            for index, plan in waiting:
                if stop:
                    return
                self.sinks.host_started(plan.name)
                result = await self.run_host(plan)
                results.add(result, index)
                try:
                    self.sinks.host_finished(result)
                except CriticalSinkFailed as exc:
                    stop.append(str(exc))
                    for task in tasks:
                        if task is not asyncio.current_task():
                            task.cancel()

        try:
            self.sinks.run_started(run, len(plans))
            tasks.extend(asyncio.ensure_future(lane()) for _ in range(min(max(1, self.options.forks), len(plans))))
            await asyncio.gather(*tasks)
        except CriticalSinkFailed as exc:
            stop.append(str(exc))
        except (asyncio.CancelledError, KeyboardInterrupt):
            stop.append("interrupted")
        finally:
            if stop:
                run.interrupted = True
                run.stop_reason = stop[0]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            results.finish(run, plans, INTERRUPTED)
            self.sinks.run_finished(run)
        return run

    async def run_host(self, plan: HostPlan) -> HostResult:
        """One host, start to finish, inside its deadline. Never raises (except cancellation)."""
        started = utcnow()
        t0 = time.perf_counter()
        state = _HostState()
        if plan.spec is None:
            return _host_result(plan, HostStatus.error, started, utcnow(), error=plan.spec_error or "unusable connection options")
        try:
            await asyncio.wait_for(self._run_plays(plan, state), timeout=self.options.host_deadline)
            status, error = HostStatus.ok, None
            if state.malformed and state.truncated_at is not None:
                status, error = HostStatus.error, (f"output too large: the host sent more than {state.truncated_at} bytes "
                                                   "(the bound on remote output) before any collector finished")
            elif state.malformed:
                status, error = HostStatus.error, "malformed output: no collector results could be read"
        except asyncio.TimeoutError:
            status, error = HostStatus.timed_out, f"host deadline of {self.options.host_deadline:g}s exceeded during {state.phase}"
        except TransportTimeout as exc:
            status, error = HostStatus.timed_out, str(exc) or "timed out"
        except AuthFailed as exc:
            status, error = HostStatus.auth_failed, str(exc) or "authentication failed"
        except ConnectFailed as exc:
            status, error = HostStatus.unreachable, str(exc) or "unreachable"
        except (TransportError, SecretUnavailable) as exc:
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
        if status is HostStatus.ok and needs_action(result, self.catalogue):
            result.status = HostStatus.failed
        state.timings.total_ms = round((time.perf_counter() - t0) * 1000, 2)
        result.timings = state.timings
        secrets = {s.reveal() for s in plan.secrets}
        if secrets:
            text = secret_free_json(result, secrets)
            if text is None:
                result = HostResult.model_validate(scrub_text(result.model_dump(mode="json"), secrets))
            elif self._serialised is not None:
                self._serialised[result.name] = text
        return result

    async def _run_plays(self, plan: HostPlan, state: "_HostState") -> None:
        assert plan.spec is not None
        state.phase = "connect"
        t = time.perf_counter()
        transport = self._transport_factory(plan.spec)
        state.transport = transport
        try:
            await asyncio.wait_for(transport.connect(), timeout=plan.spec.connect_timeout + 1)
        except asyncio.TimeoutError:
            raise TransportTimeout(f"connect timed out after {plan.spec.connect_timeout:g}s") from None
        state.timings.connect_ms = round((time.perf_counter() - t) * 1000, 2)
        for planned in plan.plays:
            state.phase = f"play {planned.play.name!r}"
            if self._play_executor is not None:
                state.plays.append(await self._play_executor(self, plan, planned, transport))
            else:
                state.plays.append(await self._run_play(plan, planned, transport, state))

    async def gather(self, plan: HostPlan, planned: PlannedPlay, transport: Transport, result: PlayResult) -> PlayFacts:
        """Gather and derive a play's facts into ``result.collectors``; shared with the remediation executor."""
        assert plan.spec is not None
        return await gather_play(transport, plan, planned.play, self.options.enabled, plan.spec.command_timeout, result)

    async def _run_play(self, plan: HostPlan, planned: PlannedPlay, transport: Transport, state: "_HostState") -> PlayResult:
        play = planned.play
        result = PlayResult(play=play.name, playbook=planned.playbook, playbook_id=planned.playbook_id, platform=plan.platform)
        if play.gather.get(plan.platform) is None and play.gather:
            result.error = f"this play gathers nothing for {plan.platform} hosts"
            result.checks = [_not_applicable(planned, c, result.error) for c in play.checks]
            return result
        state.phase = f"gather ({play.name})"
        t = time.perf_counter()
        gathered = await self.gather(plan, planned, transport, result)
        state.timings.gather_ms += round((time.perf_counter() - t) * 1000, 2)
        state.malformed = state.malformed or gathered.malformed
        state.truncated_at = state.truncated_at or gathered.truncated_at
        state.phase = f"checks ({play.name})"
        t = time.perf_counter()
        checks = evaluate_checks(play.checks, gathered.context, plan.platform, self.options.enabled,
                                 self.options.check_ids)
        for check in checks:
            check.key = check_key(planned, check.id)
        if self.check_hook is not None:
            checks = [self.check_hook(plan, c) for c in checks]
        result.checks = checks
        if play.verdict:
            try:
                result.verdict = get_verdict_rule(play.verdict)(gathered.facts, result.checks, gathered.variables)  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001
                result.error = f"verdict rule {play.verdict} failed: {type(exc).__name__}: {exc}"
        if self.options.include_facts:
            result.facts = bounded(gathered.facts)
        state.timings.checks_ms += round((time.perf_counter() - t) * 1000, 2)
        return result


class Plans(Protocol):
    """What a run goes through: the plans in order and how many (a list, or a worker's packed share)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[HostPlan]: ...


class Finished:
    """The hosts of a run as they finish: each whole result (``keep``), or only counted (the full results went to
    the sinks: a history store, a worker's pipe), so that memory stays flat at any fleet size."""

    def __init__(self, plans: Plans, keep: bool = True, *, by_name: bool = False):
        """``by_name``: results will come without their index (from worker processes): the names' positions are
        looked up now, before workers are forked (touched later, the plans' memory would be copied)."""
        self.keep = keep
        self.results: dict[str, HostResult] = {}
        self._plans = plans
        # which plans finished, by position: a flag each, not a name that would outlive the result it came with
        self._done = bytearray(len(plans))
        self._position: dict[str, int] | None = {p.name: i for i, p in enumerate(plans)} if by_name and not keep else None
        self.summary = RunSummary()

    def known_names(self, names: list[str]) -> None:
        """Look hosts up by ``names`` (in plan order) from now on, not by the plans' own names (let go)."""
        self._plans = []
        self._position = {name: i for i, name in enumerate(names)}

    def position(self, name: str) -> int:
        """The plan order of host ``name`` (results counted by name only)."""
        assert self._position is not None
        return self._position[name]

    def add(self, result: HostResult, index: int | None = None) -> None:
        """Count ``result``, the plan at ``index`` (found by the host's name when not given)."""
        if self.keep:
            self.results[result.name] = result
            return
        if index is None:
            if self._position is None:
                self._position = {p.name: i for i, p in enumerate(self._plans)}
            index = self._position.get(result.name)
        if index is not None:
            self._done[index] = 1
        self.summary.add(result)

    def finish(self, run: RunResult, plans: Plans, why: str) -> None:
        """Complete ``run``: every planned host, a host that did not finish as an error saying ``why`` (never
        dropped). Without ``keep``, ``run.hosts`` holds only the hosts that did not finish; ``summary`` counts all."""
        now = utcnow()
        if self.keep:
            run.hosts = [self.results.get(p.name) or _host_result(p, HostStatus.error, now, now, error=why) for p in plans]
            run.compute_summary()
        else:
            missing = self._done.count(0)  # going through packed plans again only when some never finished
            run.hosts = [_host_result(p, HostStatus.error, now, now, error=why) for i, p in enumerate(plans)
                         if not self._done[i]] if missing else []
            summary = self.summary.model_copy(deep=True)
            for host in run.hosts:
                summary.add(host)
            run.summary = summary
        run.finished = now
        run.verdict_catalogue = catalogue_of(run.summary.by_verdict)


@dataclass
class _HostState:
    transport: Transport | None = None
    plays: list[PlayResult] = field(default_factory=list)
    phase: str = "start"
    malformed: bool = False
    truncated_at: int | None = None
    timings: Timings = field(default_factory=Timings)


#: Characters a JSON string writes as themselves: a secret made only of these appears in a result's JSON text exactly
#: when it appears in one of its strings (or in a key, which only makes the check err on the safe side).
_PLAIN_JSON = re.compile(r'[\x20-\x7e]*')


def secret_free_json(result: HostResult, secrets: set[str]) -> str | None:
    """``result``'s JSON text when none of ``secrets`` can be in it; None when one could (the scrub decides). One
    C-speed search of the text instead of the scrub's walk of a dumped copy (~1 ms per host): nearly every host
    sends back nothing secret. A secret with characters JSON escapes (quotes, backslashes, control or non-ASCII
    characters) is always assumed present."""
    if any(not _PLAIN_JSON.fullmatch(s) or '"' in s or "\\" in s for s in secrets):
        return None
    text = result.model_dump_json()
    return None if any(s in text for s in secrets) else text


def check_key(planned: PlannedPlay, check_id: str) -> str:
    """A check's stable key, unique across a run: ``<playbook id>/<play>/<check id>``."""
    return f"{planned.playbook_id}/{planned.play.name}/{check_id}"


def _not_applicable(planned: PlannedPlay, check, why: str) -> CheckResult:
    return CheckResult(id=check.id, key=check_key(planned, check.id), title=check.title, severity=check.severity,
                       status=CheckStatus.not_applicable, message=why, tags=list(check.tags))


def _host_result(plan: HostPlan, status: HostStatus, started, finished, *, error: str | None = None,
                 plays: list[PlayResult] | None = None) -> HostResult:
    return HostResult(
        id=plan.name,
        name=plan.name,
        address=plan.address,
        port=plan.port,
        connection=plan.connection,
        platform=plan.platform,
        groups=list(plan.groups),
        status=status,
        error=error,
        started=started,
        finished=finished,
        plays=list(plays or []),
    )


def unfinished_host(plan: HostPlan, why: str = INTERRUPTED) -> HostResult:
    """The result of a host that never finished (interrupt, dead worker): an error saying why."""
    now = utcnow()
    return _host_result(plan, HostStatus.error, now, now, error=why)


def new_run(playbooks: list[PlaybookRef], sources: list[str], limit: str | None, options: RunOptions,
            kind: RunKind = "audit", run_id: str | None = None, **record: object) -> RunResult:
    """The header of a run (no hosts yet): what ``Runner.run`` starts from."""
    return RunResult(
        run_id=run_id or uuid.uuid4().hex[:12],
        kind=kind,
        auditor_version=__version__,
        started=utcnow(),
        playbooks=playbooks,
        inventory_sources=sources,
        limit=limit,
        options=options.record(**record),
    )
