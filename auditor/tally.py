"""What the command line keeps of a run whose full results went to the history store: counts, not results.

A sink. Each host, as it finishes, is counted for the exit code (``--fail-on``: ``auditor.failpolicy``), named in
the retry file when it is not ``ok``, and considered for the recap, which shows at most ``RECAP_ROWS`` hosts, those
needing attention first. Memory does not grow with the fleet but for the retry file's names; ``keep_hosts`` also
keeps every host's slim form (``HostResult.slim``) for callers that want them (the demo, tests).
"""

from __future__ import annotations

from auditor.console import RECAP_ROWS
from auditor.errors import ExitCode
from auditor.failpolicy import FailPolicy
from auditor.outcomes import ATTENTION, attention
from auditor.results import HOST_DOWN_STATUSES, HostResult, HostStatus
from auditor.rules import verdict_catalogue
from auditor.sinks import BaseSink
from auditor.smallest import Smallest


class RunTally(BaseSink):
    """The sink of the module's docstring; ``add`` counts a host that no sink saw (one that never finished)."""

    def __init__(self, policy: FailPolicy = FailPolicy("needs-action"), *, recap_rows: int = RECAP_ROWS,
                 keep_hosts: bool = False):
        self.policy = policy
        self.catalogue = verdict_catalogue()
        self.recap_rows = recap_rows
        self.total = 0
        self.down = 0          # hosts not audited (unreachable, auth failed, timed out, error)
        self.failing = 0       # audited hosts the policy fails
        # the retry file's names in one growing buffer, not a string per host: a small object kept from each host,
        # allocated between its result's objects, would pin their freed memory (nor does it hold the planned names'
        # own strings, which would keep the plans' memory from being returned once they are let go)
        self._not_ok = bytearray()
        self.kept: list[HostResult] | None = [] if keep_hosts else None
        self._worst: Smallest[HostResult] = Smallest(recap_rows)

    def host_finished(self, result: HostResult) -> None:
        self.add(result)

    def add(self, host: HostResult) -> None:
        self.total += 1
        if host.status in HOST_DOWN_STATUSES:
            self.down += 1
        elif self.policy.fails(host, self.catalogue):
            self.failing += 1
        if host.status is not HostStatus.ok:
            self._not_ok += host.name.encode("utf-8", "surrogatepass") + b"\0"
        if self.kept is not None:
            self.kept.append(host.slim())
        why = attention(host, self.catalogue)
        self._worst.add((-ATTENTION[why][0] if why else 0, host.name), host.slim)

    @property
    def not_ok(self) -> list[str]:
        """The hosts whose status is not ``ok``, in the order they finished (the retry file's names)."""
        return self._not_ok.decode("utf-8", "surrogatepass").split("\0")[:-1]

    def recap_hosts(self) -> list[HostResult]:
        """At most ``recap_rows`` hosts, those needing attention first (worst reason first), then by name."""
        return self._worst.items()

    def exit_code(self, interrupted: bool) -> ExitCode:
        """99 interrupted; 3 any host not audited (wins); 2 an audited host fails the policy; else 0."""
        if interrupted:
            return ExitCode.INTERRUPTED
        if self.down:
            return ExitCode.HOSTS_UNREACHABLE
        if self.failing:
            return ExitCode.CHECKS_FAILED
        return ExitCode.OK
