"""A defensive pass run on every report before it is written: drop anything that looks like a secret.

Collectors and checks are not supposed to put secrets into evidence or facts; this pass is the seatbelt in
case one does. It drops (not masks) every dict entry whose *key* names a secret (password, token, secret,
private/API/access key, credential, cookie, authorization header), replaces any string *value* that holds
PEM key material, and lists what it dropped under ``REDACTED_MARKER`` in the same dict so a reader knows
something was removed. It walks ``evidence``, ``facts``, remediation task messages and diffs, and the
run's ``options``.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.results import HostResult, RunResult
from auditor.secrets import is_secret_name

REDACTED_MARKER = "_redacted"
REDACTED_VALUE = "[redacted: key material]"
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")

def scrub(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys dropped and PEM private keys replaced."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        dropped: list[str] = []
        for key, item in value.items():
            if isinstance(key, str) and is_secret_name(key) and key != REDACTED_MARKER:
                dropped.append(key)
                continue
            out[key] = scrub(item)
        if dropped:
            previous = out.get(REDACTED_MARKER)
            earlier = [str(k) for k in previous] if isinstance(previous, list) else []
            out[REDACTED_MARKER] = sorted(set(earlier) | set(dropped))
        return out
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    if isinstance(value, str) and _PEM_PRIVATE.search(value):
        return REDACTED_VALUE
    return value


def redact_host(host: HostResult) -> HostResult:
    """A copy of ``host`` that is safe to write: evidence, facts, task messages and diffs scrubbed."""
    return host.model_copy(update={"plays": [
        play.model_copy(update={
            "facts": scrub(play.facts) if play.facts is not None else None,
            "checks": [check.model_copy(update={"evidence": scrub(check.evidence)}) for check in play.checks],
            # a diff shows file content: a key file edited by a task must not reach the report either
            "tasks": [task.model_copy(update={"diff": scrub(task.diff), "message": scrub(task.message)})
                      for task in play.tasks],
        })
        for play in host.plays
    ]})


def redact_run(run: RunResult) -> RunResult:
    """A copy of ``run`` that is safe to write: evidence, facts and options scrubbed; ``run`` is untouched.

    Only the containers on the way to scrubbed values are copied (``scrub`` builds new dicts), which
    keeps this cheap for thousands of hosts; the copy must not be mutated in place. A streamed run
    (``auditor.report.stream``) stays streamed: each host is scrubbed as it is read.
    """
    from auditor.report.stream import HostStream, streamed_run

    if isinstance(run.hosts, HostStream):
        hosts = run.hosts if run.hosts.redacted else run.hosts.map(redact_host, redacted=True)
        return streamed_run(run.model_copy(update={"hosts": []}), hosts)
    return run.model_copy(update={"options": scrub(run.options), "hosts": [redact_host(h) for h in run.hosts]})
