"""Gathering facts: a play's collectors for one host go out as ONE script, come back split and parsed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from auditor.collectors.batch import BatchItem, build_batch, new_nonce, split_batch_output
from auditor.parsers.registry import CollectorOutput, ParseError, get_parser
from auditor.playbook.schema import Collector
from auditor.results import CollectorResult, PlayResult
from auditor.secrets import public_vars
from auditor.transports.base import Transport


@dataclass
class Gathered:
    facts: dict[str, Any] = field(default_factory=dict)
    collectors: list[CollectorResult] = field(default_factory=list)
    malformed: bool = False  # the host answered, but with no recognisable collector output at all
    truncated_at: int | None = None  # the host's output was cut at this many bytes (the bound on remote output)


def selected_collectors(collectors: list[Collector], enabled: set[str]) -> list[Collector]:
    return [c for c in collectors if not c.opt_in or c.opt_in in enabled]


async def gather(transport: Transport, collectors: list[Collector], platform: str, timeout: float) -> Gathered:
    """Run every collector in one round trip; parse each section with its parser."""
    result = Gathered()
    errors: dict[str, str] = {}
    result.facts["_errors"] = errors
    if not collectors:
        return result
    nonce = new_nonce()
    items = [BatchItem(c.name, c.body, c.timeout) for c in collectors]
    script = build_batch(transport.shell, items, nonce)
    started = time.perf_counter()
    exec_result = await transport.run(script, timeout=timeout)
    elapsed = (time.perf_counter() - started) * 1000
    sections = split_batch_output(exec_result.stdout, exec_result.stderr, nonce, [c.name for c in collectors])
    result.malformed = not any(s.complete for s in sections.values())
    if exec_result.truncated:
        result.truncated_at = max(len(exec_result.stdout), len(exec_result.stderr))
    for col in collectors:
        sec = sections[col.name]
        cr = CollectorResult(name=col.name, rc=sec.rc, stdout_bytes=len(sec.stdout), duration_ms=round(elapsed, 2))
        if not sec.complete:
            cr.truncated = exec_result.truncated
            cr.error = (
                "output was cut at the size limit before this collector finished"
                if exec_result.truncated
                else "no complete output section for this collector (malformed or interrupted output)"
            )
            errors[col.name] = cr.error
            result.collectors.append(cr)
            continue
        parser = get_parser(col.parser)
        out = CollectorOutput(col.name, sec.stdout, sec.stderr, sec.rc, exec_result.truncated, platform)
        try:
            result.facts[col.name] = parser(out)  # type: ignore[misc]
        except ParseError as exc:
            cr.error = f"parser {col.parser}: {exc}"
            errors[col.name] = cr.error
        except Exception as exc:  # noqa: BLE001 - a parser bug must not take the host down
            cr.error = f"parser {col.parser} failed: {type(exc).__name__}: {exc}"
            errors[col.name] = cr.error
        result.collectors.append(cr)
    return result


@dataclass
class PlayFacts:
    """A play's facts on one host, ready for checks and tasks: parsed, derived, and the expression context."""

    facts: dict[str, Any]
    variables: dict[str, Any]
    context: dict[str, Any]
    malformed: bool = False
    truncated_at: int | None = None


async def gather_play(transport: Transport, plan: Any, play: Any, enabled: set[str], timeout: float,
                      result: PlayResult) -> PlayFacts:
    """Gather a play's collectors (one round trip), run its derivers, build the expression context.

    Shared by the audit and by remediation; the play's collector results go into ``result.collectors``.
    ``plan`` is the host's ``HostPlan``, ``play`` a ``Play`` or ``RemediationPlay`` (both have gather,
    derive and vars).
    """
    from auditor.rules import get_deriver

    collectors = selected_collectors(play.gather.get(plan.platform) or [], enabled)
    gathered = await gather(transport, collectors, plan.platform, timeout)
    result.collectors = gathered.collectors
    facts = gathered.facts
    variables = {**plan.variables, **public_vars(play.vars)}
    for name in play.derive:
        try:
            facts.update(get_deriver(name)(facts, variables) or {})  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - reported; checks and tasks that need it say so
            facts["_errors"][f"derive:{name}"] = f"{type(exc).__name__}: {exc}"
    context = {
        "facts": facts,
        "vars": variables,
        "host": {"name": plan.name, "address": plan.address, "groups": plan.groups, "platform": plan.platform},
        "enabled": set(enabled),
    }
    return PlayFacts(facts, variables, context, malformed=gathered.malformed and bool(collectors),
                     truncated_at=gathered.truncated_at)
