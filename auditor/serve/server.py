"""``auditor serve``: the scheduler and the web server in one foreground process.

SIGTERM or Ctrl-C stops it cleanly: no new scans start, scans in flight are stopped the tested way (their
stored runs are marked interrupted and can be resumed), the web server finishes its requests, exit code 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Generator
from types import FrameType
from typing import Optional

import uvicorn

from auditor.errors import BadInputError, Location
from auditor.serve.app import create_app
from auditor.serve.config import LoadedConfig, Schedule, host_port
from auditor.serve.context import ServeContext
from auditor.serve.metrics import ServeMetrics
from auditor.serve.notifying import ScanNotifications
from auditor.serve.scanlog import ScanLog
from auditor.serve.scans import ScanOutcome, ScanRunner
from auditor.serve.scheduler import Schedules
from auditor.store import open_store, resolve_store_url

log = logging.getLogger("auditor.serve")


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal that stopped it once it is done; a stopped service exits 0 instead."""

    stopped_by: Optional[int] = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(sig: int, frame: Optional[FrameType]) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.stopped_by = sig
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def build_context(loaded: LoadedConfig) -> ServeContext:
    url = resolve_store_url(loaded.config.store)
    if url is None:
        raise BadInputError("'store: none' turns the history off, and auditor serve keeps every scan in it",
                            Location(str(loaded.path)))
    store = open_store(url)
    metrics = ServeMetrics(store, [s.name for s in loaded.config.schedules])
    notifications = ScanNotifications(store, loaded)

    def finished(schedule: Schedule, outcome: ScanOutcome) -> None:
        metrics.finished(outcome)
        notifications.scan_finished(schedule, outcome, runner.previous_run(schedule.name, outcome.run_id))

    try:
        scan_log = ScanLog(loaded.state_dir)
    except OSError as exc:
        raise BadInputError(f"cannot create the state folder {loaded.state_dir}: {exc.strerror or exc}",
                            Location(str(loaded.path))) from None
    runner = ScanRunner(loaded, url, scan_log=scan_log, on_started=lambda o: metrics.started(o.schedule),
                        on_finished=finished, on_skipped=metrics.skip)
    for name, state in runner.states.items():  # what the scan log remembers from before a restart
        if state.last_success is not None:
            metrics.last_success.labels(name).set(state.last_success.timestamp())
    return ServeContext(loaded, store, runner, Schedules(list(loaded.config.schedules), runner), metrics, notifications)


def serve(loaded: LoadedConfig) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    context = build_context(loaded)
    host, port = host_port(loaded.config.listen)
    server = _Server(uvicorn.Config(create_app(context), host=host, port=port, log_level="info", access_log=False,
                                    server_header=False, lifespan="off"))
    context.schedules.start()
    log.info("auditor serve: dashboard on http://%s:%d/ (%s), %d schedules, store %s", host, port,
             "token required" if loaded.token else "loopback only, no token", len(loaded.config.schedules),
             context.store.engine.url.render_as_string(hide_password=True))
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind; say so as bad input (exit 4) below
        pass
    finally:
        log.info("auditor serve: stopping (scans in flight are marked interrupted and can be resumed)")
        context.schedules.stop()
        context.notifications.close()
        context.store.close()
    if not server.started and server.stopped_by is None:
        raise BadInputError(f"cannot listen on {loaded.config.listen} (in use, or not an address of this machine)",
                            Location(str(loaded.path)))
    log.info("auditor serve: stopped")
    return 0
