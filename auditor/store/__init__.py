"""Scan history: every run recorded as its hosts finish, in SQLite (default) or PostgreSQL.

    store = open_store(url)                       # None: $XDG_DATA_HOME/auditor/history.db
    store.create_run(run, planned_hosts=names)    # run: the RunResult header of a new run
    with store.writer(run.run_id) as writer:      # batches commits in a thread
        writer.record(host_result)                # as each host finishes
    store.load_run(run_id)                        # -> RunResult, for any report format

See docs/history.md for the data model, states, resume and pruning.
"""

from auditor.store.engine import StoreError, StoreMissing
from auditor.store.models import PlaybookRef, PruneCounts, RunListing, RunRecord, RunState, TrendPoint
from auditor.store.rows import check_key
from auditor.store.store import CheckTransition, HostSummary, Store, open_store, playbook_set_key
from auditor.store.urls import DISABLED, STORE_ENV, default_store_path, default_store_url, resolve_store_url
from auditor.store.verdicts import VerdictRank, default_verdict_rank, worst_verdict
from auditor.store.writer import StoreWriter, WriterStats

__all__ = [
    "DISABLED", "STORE_ENV", "CheckTransition", "HostSummary", "PlaybookRef", "PruneCounts", "RunListing", "RunRecord",
    "RunState", "Store", "StoreError", "StoreMissing", "StoreWriter", "TrendPoint", "VerdictRank", "WriterStats", "check_key",
    "default_store_path", "default_store_url", "default_verdict_rank", "open_store", "playbook_set_key",
    "resolve_store_url", "worst_verdict",
]
