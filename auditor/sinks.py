"""Sinks: everything that consumes a run as it happens (terminal, history store, notifier, worker pipe).

A sink implements the four ``Sink`` methods (``BaseSink`` gives no-op defaults). The runner calls them in
order: ``run_started`` once, then per host ``host_started`` and ``host_finished`` (hosts interleave), then
``run_finished`` once with the complete result.

A sink that raises is logged (logger ``auditor``) and the run goes on without noticing, unless the sink
is ``critical``: then the run stops as if interrupted (hosts in flight are cancelled and end as errors,
every finished host is kept), the run records ``stop_reason`` and the exit code is 99. A history store
that cannot be written is critical when the user asked for history: an audit that cannot be recorded
should not go on as if it were.
"""

from __future__ import annotations

import logging
from typing import Iterable, Protocol, runtime_checkable

from auditor.results import HostResult, RunResult

log = logging.getLogger("auditor")


@runtime_checkable
class Sink(Protocol):
    critical: bool

    def run_started(self, run: RunResult, total: int) -> None: ...

    def host_started(self, name: str) -> None: ...

    def host_finished(self, result: HostResult) -> None: ...

    def run_finished(self, run: RunResult) -> None: ...


class BaseSink:
    """No-op implementations: subclass and override what you need."""

    critical: bool = False

    def run_started(self, run: RunResult, total: int) -> None:
        pass

    def host_started(self, name: str) -> None:
        pass

    def host_finished(self, result: HostResult) -> None:
        pass

    def run_finished(self, run: RunResult) -> None:
        pass


class CriticalSinkFailed(Exception):
    """A critical sink raised: the run must stop (partial results are kept)."""

    def __init__(self, sink: object, error: BaseException):
        super().__init__(f"{type(sink).__name__} failed: {type(error).__name__}: {error}")
        self.sink = sink
        self.error = error


class Sinks:
    """Calls every sink in turn; one sink's failure never reaches another sink or the audit (see module doc)."""

    def __init__(self, sinks: Iterable[Sink] = ()):
        self.sinks = list(sinks)

    def _call(self, method: str, *args: object) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, method)(*args)
            except Exception as exc:  # noqa: BLE001 - logged; only a critical sink stops the run
                log.error("sink %s.%s failed: %s: %s", type(sink).__name__, method, type(exc).__name__, exc,
                          exc_info=log.isEnabledFor(logging.DEBUG))
                if getattr(sink, "critical", False):
                    raise CriticalSinkFailed(sink, exc) from exc

    def run_started(self, run: RunResult, total: int) -> None:
        self._call("run_started", run, total)

    def host_started(self, name: str) -> None:
        self._call("host_started", name)

    def host_finished(self, result: HostResult) -> None:
        self._call("host_finished", result)

    def run_finished(self, run: RunResult) -> None:
        self._call("run_finished", run)
