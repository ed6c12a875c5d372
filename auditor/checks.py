"""Evaluating a play's checks over facts: pure, no I/O. One CheckResult per check, always."""

from __future__ import annotations

import time
from typing import Any

from auditor.playbook.expressions import ExpressionError, ExpressionScope
from auditor.playbook.schema import Check
from auditor.results import CheckResult, CheckStatus

MAX_EVIDENCE_CHARS = 20_000


def evaluate_checks(checks: list[Check], context: dict[str, Any], platform: str, enabled: set[str],
                    only: frozenset[str] | None = None) -> list[CheckResult]:
    """One result per check; with ``only`` (``--check-id``), the others are ``skipped``, not evaluated."""
    scope = ExpressionScope(context)
    return [evaluate_check(c, scope, platform, enabled) if only is None or c.id in only else _not_selected(c)
            for c in checks]


def _not_selected(check: Check) -> CheckResult:
    return CheckResult(id=check.id, title=check.title, severity=check.severity, status=CheckStatus.skipped,
                       message="not selected (--check-id)", tags=list(check.tags), refs=list(check.refs))


def evaluate_check(check: Check, context: dict[str, Any] | ExpressionScope, platform: str,
                   enabled: set[str]) -> CheckResult:
    started = time.perf_counter()
    scope = context if isinstance(context, ExpressionScope) else ExpressionScope(context)
    status, message = _decide(check, scope, platform, enabled)
    evidence: dict[str, Any] = {}
    remediation = None
    if status in (CheckStatus.passed, CheckStatus.failed, CheckStatus.error):
        evidence = _evidence(check, scope)
        if status is not CheckStatus.passed and check.remediation:
            remediation = _safe_render(check.remediation, scope)
    # built once with every field (setting them one by one on the model cost as much as a few expressions)
    return CheckResult(
        id=check.id,
        title=check.title,
        severity=check.severity,
        status=status,
        message=message,
        description=check.description,
        evidence=evidence,
        remediation=remediation,
        tags=list(check.tags),
        refs=list(check.refs),
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _decide(check: Check, scope: ExpressionScope, platform: str, enabled: set[str]) -> tuple[CheckStatus, str]:
    if check.platforms and platform not in check.platforms:
        return CheckStatus.not_applicable, f"applies to {', '.join(check.platforms)} hosts only"
    if check.opt_in and check.opt_in not in enabled:
        return CheckStatus.skipped, f"opt-in check: run with --enable {check.opt_in}"
    try:
        if check.applies_if and not scope.evaluate(check.applies_if):
            return CheckStatus.not_applicable, f"not applicable: {check.applies_if}"
        if check.when and not scope.evaluate(check.when):
            return CheckStatus.skipped, f"skipped: condition {check.when} is false"
        for cond in check.that:
            if not scope.evaluate(cond):
                return CheckStatus.failed, _safe_render(check.fail_msg, scope) or f"assertion failed: {cond}"
    except ExpressionError as exc:
        return CheckStatus.error, f"could not evaluate: {_missing_fact_hint(exc, scope.context)}"
    return CheckStatus.passed, _safe_render(check.success_msg, scope)


def _missing_fact_hint(exc: ExpressionError, ctx: dict[str, Any]) -> str:
    errors = ctx.get("facts", {}).get("_errors") or {}
    if errors:
        failed = "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
        return f"{exc} (collector problems: {failed})"
    return str(exc)


def _safe_render(template: str, scope: ExpressionScope) -> str:
    try:
        return scope.render(template)
    except ExpressionError as exc:
        return f"{template} [message could not be rendered: {exc}]"


def _evidence(check: Check, scope: ExpressionScope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, expr in check.evidence.items():
        try:
            out[key] = bounded(scope.evaluate(expr))
        except ExpressionError as exc:
            out[key] = f"<unavailable: {exc}>"
    return out


def bounded(value: Any, depth: int = 0) -> Any:
    """Evidence is remote data: keep it JSON-friendly and bounded in size and depth."""
    if depth > 8:
        return "<nested too deep>"
    if isinstance(value, str):
        return value if len(value) <= MAX_EVIDENCE_CHARS else value[:MAX_EVIDENCE_CHARS] + "…[truncated]"
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): bounded(v, depth + 1) for k, v in list(value.items())[:500]}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [bounded(v, depth + 1) for v in list(value)[:1000]]
    if hasattr(value, "to_dict"):
        return bounded(value.to_dict(), depth + 1)
    if hasattr(value, "model_dump"):
        return bounded(value.model_dump(mode="json"), depth + 1)
    return bounded(str(value), depth + 1)
