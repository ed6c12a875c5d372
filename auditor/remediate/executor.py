"""The remediation PlayExecutor: one remediation play on one connected host.

It plugs into ``auditor.runner.Runner(play_executor=...)``, so connection handling, forks, deadlines,
events, secret scrubbing and "every host ends in exactly one HostResult" are the runner's. Here: gather the
play's facts (same collectors and derivers as an audit), then run the tasks in order, each task (or each
loop item) one ``TaskResult``. After a task fails (and ``ignore_errors`` is not set) the remaining tasks
of the host are skipped: a half-fixed host should stop, not pile changes on a surprise.
"""

from __future__ import annotations

import time
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from auditor.playbook.expressions import ExpressionError, evaluate
from auditor.remediate.modules import ModuleContext, Outcome, get_module
from auditor.remediate.modules.base import elapsed_ms
from auditor.remediate.schema import RemediationPlay, Task
from auditor.remediate.templating import render_value
from auditor.remediate.wire import ReplyError
from auditor.plan import HostPlan, PlannedPlay
from auditor.results import PlayResult, TaskResult, TaskStatus
from auditor.transports.base import Transport, TransportError
from auditor.waivers import BoundWaivers, WaiverDecision, WaiverState, decide

if TYPE_CHECKING:
    from auditor.runner import Runner

MAX_LOOP_ITEMS = 500
MAX_MESSAGE = 4000


class RemediationExecutor:
    """``await executor(runner, plan, planned, transport) -> PlayResult``; ``check_mode`` changes nothing."""

    def __init__(self, check_mode: bool, waivers: BoundWaivers | None = None, today: date | None = None):
        self.check_mode = check_mode
        self.waivers = waivers
        self.today = today or date.today()

    def waived(self, play: RemediationPlay, host: str) -> WaiverDecision | None:
        """The active waiver that covers one of the checks ``play`` fixes on ``host``, if any."""
        if self.waivers is None:
            return None
        for check in play.fixes:
            decision = decide(self.waivers, host, check, None, today=self.today)
            if decision.state is WaiverState.active:
                return decision
        return None

    async def __call__(self, runner: Runner, plan: HostPlan, planned: PlannedPlay, transport: Transport) -> PlayResult:
        play: RemediationPlay = planned.play
        options = runner.options
        result = PlayResult(play=play.name, playbook=planned.playbook, playbook_id=planned.playbook_id, platform=plan.platform)
        waived = self.waived(play, plan.name)
        if waived is not None:  # an accepted exception: nothing on this host is touched, and the report says why
            why = f"{waived.check}: {waived.message}"
            result.tasks = [_result(task, TaskStatus.skipped, why) for task in play.tasks]
            return result
        gathered = await runner.gather(plan, planned, transport, result)
        context = {**gathered.context, "check_mode": self.check_mode}
        assert plan.spec is not None
        ctx = ModuleContext(transport, plan.platform, self.check_mode, plan.spec.command_timeout, plan.name)
        stopped: str | None = None
        for task in play.tasks:
            if stopped:
                result.tasks.append(_result(task, TaskStatus.skipped, f"not run: {stopped}"))
                continue
            for tr, fatal in await self._task(task, context, ctx, set(options.enabled)):
                result.tasks.append(tr)
                if fatal and not stopped:
                    stopped = f"an earlier task failed ({task.name})"
                    result.error = f"stopped after task {task.name!r} failed: {tr.message[:300]}"
        return result

    async def _task(self, task: Task, context: dict[str, Any], ctx: ModuleContext,
                    enabled: set[str]) -> list[tuple[TaskResult, bool]]:
        """Run one task (every loop item); returns (result, stops the host) pairs and registers the outcome."""
        module = get_module(task.module)
        assert module is not None  # the loader checked the name
        if ctx.platform not in module.platforms:
            return [(_result(task, TaskStatus.skipped, f"module {task.module} is for {', '.join(module.platforms)} hosts"), False)]
        if module.opt_in and module.opt_in not in enabled:
            why = f"opt-in: {task.module} interrupts the user; run with --enable {module.opt_in} to allow it"
            _register(task, context, [], _skip_value(why))
            return [(_result(task, TaskStatus.skipped, why), False)]
        if task.loop is None:
            items: list[Any] = [None]
        else:
            try:
                raw = evaluate(task.loop, context) if isinstance(task.loop, str) else task.loop
            except ExpressionError as exc:
                return [(_result(task, TaskStatus.failed, f"loop: {exc}"), not task.ignore_errors)]
            if raw is None:
                raw = []
            if not isinstance(raw, (list, tuple)):
                return [(_result(task, TaskStatus.failed, f"loop: expected a list, got {type(raw).__name__}"),
                         not task.ignore_errors)]
            items = list(raw)[:MAX_LOOP_ITEMS]
        out: list[tuple[TaskResult, bool]] = []
        values: list[dict[str, Any]] = []
        for item in items:
            scope = dict(context) if task.loop is None else {**context, task.loop_var: item}
            t0 = time.perf_counter()
            label = _label(task, scope, item) if task.loop is not None else None
            outcome = await self._one(task, module, scope, ctx)
            value = _value(outcome)
            outcome = _apply_overrides(task, scope, outcome, value)
            value = _value(outcome)
            values.append({**value, task.loop_var: item} if task.loop is not None else value)
            tr = _result(task, outcome.status, outcome.message, diff=outcome.diff, backup=outcome.backup_path,
                         item=label, check=ctx.check_mode, ms=elapsed_ms(t0))
            out.append((tr, outcome.failed and not task.ignore_errors))
            if outcome.data.get("_broken"):
                break  # the connection is gone: the other items cannot run either
        if task.loop is not None and not items:
            out.append((_result(task, TaskStatus.skipped, "loop: no items", check=ctx.check_mode), False))
        _register(task, context, values, values[0] if task.loop is None and values else None)
        return out

    async def _one(self, task: Task, module, scope: dict[str, Any], ctx: ModuleContext) -> Outcome:
        try:
            if task.when and not all(bool(evaluate(c, scope)) for c in task.when):
                return Outcome(TaskStatus.skipped, "condition (when) was false")
            args = module.Args.model_validate(render_value(task.args, scope))
        except ExpressionError as exc:
            return Outcome(TaskStatus.failed, str(exc))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            return Outcome(TaskStatus.failed, f"{task.module}: {loc + ': ' if loc else ''}{err['msg'].removeprefix('Value error, ')}")
        try:
            return await module.run(ctx, args)
        except ReplyError as exc:
            return Outcome(TaskStatus.failed, str(exc))
        except ValueError as exc:  # a module's own argument problem found late (e.g. an unsplittable command)
            return Outcome(TaskStatus.failed, f"{task.module}: {exc}")
        except TransportError as exc:
            return Outcome(TaskStatus.failed, f"connection problem: {exc or type(exc).__name__}", data={"_broken": True})


def _apply_overrides(task: Task, scope: dict[str, Any], outcome: Outcome, value: dict[str, Any]) -> Outcome:
    """``failed_when`` / ``changed_when`` decide over the module's own verdict (not for skipped items)."""
    if outcome.status is TaskStatus.skipped or outcome.data.get("_broken"):
        return outcome
    local = {**scope, "result": value}
    if task.register_as:
        local[task.register_as] = value
    try:
        if task.failed_when:
            failed = any(bool(evaluate(c, local)) for c in task.failed_when)
            if failed:
                return Outcome(TaskStatus.failed, f"failed_when matched; {outcome.message}", outcome.diff,
                               outcome.backup_path, outcome.data)
            if outcome.failed:
                outcome = Outcome(TaskStatus.changed, outcome.message, outcome.diff, outcome.backup_path, outcome.data)
        if task.changed_when and not outcome.failed:
            changed = all(bool(evaluate(c, local)) for c in task.changed_when)
            outcome = Outcome(TaskStatus.changed if changed else TaskStatus.ok, outcome.message, outcome.diff,
                              outcome.backup_path, outcome.data)
    except ExpressionError as exc:
        return Outcome(TaskStatus.failed, f"{exc}; {outcome.message}", outcome.diff, outcome.backup_path, outcome.data)
    return outcome


def _value(outcome: Outcome) -> dict[str, Any]:
    """What ``register`` stores (Ansible-like keys)."""
    value = {k: v for k, v in outcome.data.items() if not k.startswith("_")}
    value.update(status=outcome.status.value, changed=outcome.changed, failed=outcome.failed,
                 skipped=outcome.status is TaskStatus.skipped, msg=outcome.message, diff=outcome.diff,
                 backup=outcome.backup_path)
    return value


def _skip_value(why: str) -> dict[str, Any]:
    return _value(Outcome(TaskStatus.skipped, why))


def _register(task: Task, context: dict[str, Any], items: list[dict[str, Any]], single: dict[str, Any] | None) -> None:
    if not task.register_as:
        return
    if task.loop is None or single is not None:
        context[task.register_as] = single or _skip_value("not run")
        return
    context[task.register_as] = {"results": items, "changed": any(i["changed"] for i in items),
                              "failed": any(i["failed"] for i in items),
                              "skipped": all(i["skipped"] for i in items) if items else True}


def _label(task: Task, scope: dict[str, Any], item: Any) -> str:
    if task.label:
        try:
            return str(evaluate(task.label, scope))[:200]
        except ExpressionError as exc:
            return f"(label: {exc})"[:200]
    if isinstance(item, dict):
        for key in ("account", "user", "name", "path"):
            if item.get(key):
                return str(item[key])[:200]
    return str(item)[:200]


def _result(task: Task, status: TaskStatus, message: str, *, diff: str | None = None, backup: str | None = None,
            item: str | None = None, check: bool = False, ms: float = 0.0) -> TaskResult:
    return TaskResult(name=task.name, module=task.module, status=status, message=message[:MAX_MESSAGE],
                      check_mode=check, diff=diff, backup_path=backup, loop_item=item, duration_ms=ms)
