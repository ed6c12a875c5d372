"""Reports from results on disk: a run whose hosts are read back one batch at a time, never all at once.

``HostStream`` is a re-iterable, sized stand-in for ``RunResult.hosts`` (each iteration reads the hosts again,
e.g. from the history store with ``Store.iter_hosts``); ``streamed_run`` puts one into a run header without
pydantic copying it into a list. The JSON, CSV and JUnit writers iterate it host by host; the HTML report
iterates it as it needs (it keeps a compact view of each host, not the host).
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from auditor.results import HostResult, RunResult


class HostStream:
    """``redacted``: the hosts were scrubbed for reports before they were stored (the history store does it
    with the reports' own scrub), so ``redact_run`` leaves them as they are."""

    def __init__(self, factory: Callable[[], Iterable[HostResult]], count: int, redacted: bool = False):
        self.factory = factory
        self.count = count
        self.redacted = redacted

    def __iter__(self) -> Iterator[HostResult]:
        return iter(self.factory())

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def map(self, fn: Callable[[HostResult], HostResult], redacted: bool | None = None) -> "HostStream":
        return HostStream(lambda: (fn(h) for h in self.factory()), self.count,
                          self.redacted if redacted is None else redacted)


def streamed_run(header: RunResult, hosts: HostStream) -> RunResult:
    """``header`` with ``hosts`` as its host list, lazily (no validation, no copy)."""
    fields = {name: getattr(header, name) for name in RunResult.model_fields}
    fields["hosts"] = hosts
    return RunResult.model_construct(**fields)


def is_streamed(run: RunResult) -> bool:
    return isinstance(run.hosts, HostStream)
