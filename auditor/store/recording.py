"""Recording a command-line run into the history store: open the store before anything connects, add the
store sink, close the store whatever happens. Shared by ``auditor run``, ``remediate`` and ``demo``."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from typing import Iterator

from auditor.errors import UsageError
from auditor.sinks import Sink
from auditor.store.sink import StoreSink
from auditor.store.store import Store, open_store
from auditor.store.urls import resolve_store_url


class Recording:
    """The store a run is recorded in and its sink. With the store off (``--store none``) the run still streams
    its results to a private temporary store, deleted afterwards (``temporary``): memory stays flat and the
    reports are written from disk, but nothing is kept and there is no history."""

    def __init__(self, store: Store | None, temporary: bool = False):
        self.store = store
        self.temporary = temporary
        self.sink: StoreSink | None = None

    def sinks(self, planned_hosts: list[str], *, create: bool = True) -> list[Sink]:
        if self.store is None:
            return []
        self.sink = StoreSink(self.store, planned_hosts, create=create)
        return [self.sink]

    @property
    def where(self) -> str | None:
        return str(self.store.where) if self.store is not None and not self.temporary else None


@contextmanager
def recording(store_option: str | None, *, scratch: bool = False) -> Iterator[Recording]:
    """``--store`` (or AUDITOR_STORE, else the default file); ``none`` records nothing (``scratch``: into a
    temporary store that is deleted afterwards). A store that cannot be opened is a one-line error (exit 4)
    before any host is contacted."""
    url = resolve_store_url(store_option)
    with tempfile.TemporaryDirectory(prefix="auditor-results-") as tmp:
        temporary = url is None and scratch
        if temporary:
            url = f"sqlite:///{tmp}/results.db"
        store = open_store(url) if url is not None else None
        try:
            yield Recording(store, temporary=temporary)
        finally:
            if store is not None:
                store.close()


def stored_run_inputs(store_option: str | None, run_id: str) -> tuple[list[str], list[str], str | None]:
    """A stored run's playbooks, inventory sources and limit: what ``--resume`` plans with when not given."""
    with recording(store_option) as history:
        if history.store is None:
            raise UsageError("--resume needs the history store (it is turned off: --store none or AUDITOR_STORE=none)")
        record = history.store.get_run(run_id)
        return [p.id for p in record.playbooks], list(record.inventory_sources), record.limit
