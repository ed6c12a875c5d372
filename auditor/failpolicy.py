"""``--fail-on``: when a run's exit code says "checks failed" (2), for scheduled jobs and CI gates.

- ``needs-action`` (the default): a reached host needs action (``auditor.outcomes``: its verdict needs action, a
  check could not be evaluated, a task failed, or a check failed on a host without verdict);
- a severity (``critical``, ``high``, ``medium``, ``low``, ``info``): a reached host has a failed or errored check
  of that severity or worse (waived checks never count);
- verdict names, comma separated (``CONFLICT_CONFIRMED,AT_RISK_MIRRORED_DOCKER``): a host's headline verdict is
  one of them;
- ``never``: checks never fail the run (hosts that were not audited still exit 3).
Interrupted runs exit 99 and runs with hosts not audited exit 3 whatever the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from auditor.errors import UsageError
from auditor.outcomes import Catalogue, headline_verdict, needs_action
from auditor.results import CheckStatus, HostResult, Severity

SEVERITIES = tuple(s.value for s in Severity)
DEFAULT = "needs-action"


@dataclass(frozen=True)
class FailPolicy:
    kind: str                       # needs-action | severity | verdict | never
    severity: Severity | None = None
    verdicts: frozenset[str] = frozenset()

    def fails(self, host: HostResult, catalogue: Catalogue) -> bool:
        if self.kind == "never":
            return False
        if self.kind == "needs-action":
            return needs_action(host, catalogue)
        if self.kind == "severity":
            assert self.severity is not None
            return any(c.status in (CheckStatus.failed, CheckStatus.error) and c.severity.rank >= self.severity.rank
                       for c in host.all_checks())
        verdict = headline_verdict(host, catalogue)
        return verdict is not None and verdict.name in self.verdicts


def parse_fail_on(value: str | None, known_verdicts: Iterable[str]) -> FailPolicy:
    """The policy ``--fail-on`` names; a value that is none of the forms is a usage error listing them."""
    text = (value or DEFAULT).strip()
    if text.lower() in ("needs-action", "never"):
        return FailPolicy(text.lower())
    if text.lower() in SEVERITIES:
        return FailPolicy("severity", severity=Severity(text.lower()))
    names = {v.strip() for v in text.split(",") if v.strip()}
    known = set(known_verdicts)
    unknown = sorted(names - known)
    if unknown or not names:
        raise UsageError(f"--fail-on: {', '.join(unknown) or repr(text)} is not needs-action, never, a severity "
                         f"({', '.join(SEVERITIES)}) or verdict names ({', '.join(sorted(known))})")
    return FailPolicy("verdict", verdicts=frozenset(names))
