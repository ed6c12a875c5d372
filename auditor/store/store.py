"""The store's API: runs in, hosts in as they finish, runs back out as ``RunResult``; listing and pruning.

Every write is one short transaction (SQLite: ``BEGIN IMMEDIATE``, waited for), so several processes can
write one store at once. Recording a host is an idempotent upsert keyed by run and host: a redelivered
shard or a resumed run replaces the host's rows instead of adding a second copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import zlib
from operator import itemgetter
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Engine, Row, Select, and_, delete, func, insert, null, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from auditor.errors import Location
from auditor.report.redact import scrub
from auditor.results import SCHEMA_VERSION, HostResult, RunOptionsRecord, RunResult, RunSummary, utcnow
from auditor.results import PlaybookRef as ResultPlaybookRef
from auditor.rules import catalogue_of
from auditor.store.engine import StoreError, db_error_text, make_engine, read_transaction, write_transaction
from auditor.store.migrate import upgrade
from auditor.store.models import PlaybookRef, PruneCounts, RunListing, RunRecord, RunState, TrendPoint
from auditor.store.rows import HostRows, host_rows
from auditor.store.schema import check_results, host_results, runs
from auditor.store.urls import default_store_url, display_url, parse_store_url
from auditor.store.verdicts import VerdictRank, default_verdict_rank

if TYPE_CHECKING:
    from auditor.store.writer import StoreWriter

#: A running run owned on another machine is taken as dead when its owner has not beaten for this long.
STALE_AFTER = timedelta(seconds=60)
#: On this machine the owner's pid decides; past this age a heartbeat is too old to trust the pid (reuse).
PID_TRUST = timedelta(days=1)
_IN_CHUNK = 500  # names per IN (...) list: well under every backend's bound-parameter limit
_NO_VERDICT = "-"


class HostSummary(NamedTuple):
    status: str
    verdict: str | None
    confidence: str | None
    check_digest: str | None


class CheckTransition(NamedTuple):
    """One check of one host whose status or file listing differs between two runs (None: not run there)."""

    host: str
    key: str
    check_id: str
    severity: str
    old_status: str | None
    new_status: str | None
    old_listing: str | None   # the listing_row JSON, when the check has a file listing
    new_listing: str | None


def open_store(url: str | None = None, *, verdict_rank: VerdictRank = default_verdict_rank,
               create: bool = True) -> Store:
    """Open (creating and migrating as needed) the store at a SQLAlchemy URL; None: the default SQLite file.
    ``create`` False: a SQLite file that does not exist is a ``StoreMissing`` error instead (read-only commands)."""
    parsed = parse_store_url(url or default_store_url())
    engine = make_engine(parsed, create=create)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, verdict_rank=verdict_rank)


def playbook_digest(path: str) -> str:
    """sha256 of a playbook file, '' when it cannot be read (the run still records its id)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def playbook_set_key(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(set(ids))).encode()).hexdigest()


class Store:
    """A history store. Thread-safe (each call takes its own pooled connection); ``close()`` when done."""

    def __init__(self, engine: Engine, *, verdict_rank: VerdictRank = default_verdict_rank,
                 stale_after: timedelta = STALE_AFTER) -> None:
        self.engine = engine
        self.verdict_rank = verdict_rank
        self.stale_after = stale_after
        self.where = Location(display_url(engine.url))
        self._owner_host = socket.gethostname()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs -------------------------------------------------------------------------------------

    def create_run(self, run: RunResult, *, planned_hosts: Sequence[str] = (),
                   playbook_digests: Mapping[str, str] | None = None) -> RunRecord:
        """Record a new run (state ``running``, owned by this process) from its header: id, kind,
        playbooks, inventory sources, pattern, limit, options, version, start. ``planned_hosts`` (in plan
        order) are what ``missing_hosts`` and ``finish_run`` compare the recorded hosts with."""
        paths = [p.path for p in run.playbooks]
        digests = dict(playbook_digests or {})
        refs = [PlaybookRef(id=p.path, digest=digests.get(p.path) or p.sha256 or playbook_digest(p.path)) for p in run.playbooks]
        now = utcnow()
        row = {
            "id": run.run_id, "kind": run.kind, "state": RunState.running.value,
            "playbook_set": playbook_set_key(paths),
            "playbooks": [r.model_dump() for r in refs],
            "inventory_sources": list(run.inventory_sources), "pattern": None, "host_limit": run.limit,
            "options": _json_safe(scrub(_plain(run.options))),
            "auditor_version": run.auditor_version, "result_schema": run.schema_version,
            "started": run.started, "finished": None,
            "hosts_planned": len(planned_hosts), "planned_hosts": list(planned_hosts),
            "owner_host": self._owner_host, "owner_pid": os.getpid(), "heartbeat": now,
        }
        with self._guard():
            try:
                with write_transaction(self.engine) as conn:
                    conn.execute(insert(runs), row)
            except IntegrityError:
                raise StoreError(f"run {run.run_id} is already in the store", self.where) from None
        return self.get_run(run.run_id)

    def claim_run(self, run_id: str) -> RunRecord:
        """Take over a stopped run to resume it: it becomes ``running`` again, owned by this process.

        Refused for a run that is complete, or live (its owner still beating)."""
        with self._guard(), write_transaction(self.engine) as conn:
            row = self._run_row(conn, run_id)
            record = self._record(row)
            if record.stored_state is RunState.complete:
                raise StoreError(f"run {run_id} is complete: there is nothing to resume", self.where)
            mine = record.owner_host == self._owner_host and record.owner_pid == os.getpid()
            if record.live and not mine:
                raise StoreError(f"run {run_id} is still running (pid {record.owner_pid} on {record.owner_host}, "
                                 f"last heartbeat {record.heartbeat:%Y-%m-%d %H:%M:%S} UTC)", self.where)
            conn.execute(update(runs).where(runs.c.id == row.id).values(
                state=RunState.running.value, finished=None, owner_host=self._owner_host,
                owner_pid=os.getpid(), heartbeat=utcnow()))
        return self.get_run(row.id)

    def heartbeat(self, run_id: str) -> None:
        """Tell other processes the run's owner is alive (the writer does this every few seconds)."""
        with self._guard(), write_transaction(self.engine) as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat=utcnow()))

    def finish_run(self, run_id: str, state: RunState | None = None, *, finished: datetime | None = None) -> RunRecord:
        """End a run. ``state`` None: ``complete`` when every planned host is recorded, else ``incomplete``."""
        with self._guard(), write_transaction(self.engine) as conn:
            row = self._run_row(conn, run_id)
            if state is None:
                state = RunState.incomplete if self._missing(conn, row) else RunState.complete
            now = utcnow()
            conn.execute(update(runs).where(runs.c.id == row.id).values(
                state=state.value, finished=finished or now, heartbeat=now))
        return self.get_run(row.id)

    def get_run(self, run_id: str) -> RunRecord:
        """A run by id (or by a unique prefix of it)."""
        with self._guard(), read_transaction(self.engine) as conn:
            return self._record(self._run_row(conn, run_id))

    # --- hosts ------------------------------------------------------------------------------------

    def host_rows(self, run_id: str, host: HostResult) -> HostRows:
        """The rows ``host`` becomes (scrubbed, bounded, digested): the CPU part of recording, lock-free."""
        return host_rows(run_id, host, utcnow(), self.verdict_rank)

    def record_host(self, run_id: str, host: HostResult) -> None:
        """Record one finished host (replacing any earlier result of the same host in this run)."""
        self.write_rows(run_id, [self.host_rows(run_id, host)])

    def record_hosts(self, run_id: str, hosts: Sequence[HostResult]) -> None:
        """Record several finished hosts in one transaction."""
        self.write_rows(run_id, [self.host_rows(run_id, h) for h in hosts])

    def write_rows(self, run_id: str, rows: Sequence[HostRows], *, heartbeat: bool = False) -> None:
        """Upsert prepared host rows in one transaction (the last of a host wins); optionally beat."""
        latest = {r.host["host"]: r for r in rows}
        for attempt in range(3):
            try:
                with self._guard(), write_transaction(self.engine) as conn:
                    self._upsert(conn, run_id, list(latest.values()), heartbeat)
                return
            except IntegrityError as exc:
                # no such run, or a concurrent writer recorded the same host between our delete and insert
                with self._guard(), read_transaction(self.engine) as conn:
                    self._run_row(conn, run_id, prefix=False)
                if attempt == 2:
                    raise StoreError(f"could not record hosts of run {run_id}: {db_error_text(exc)}", self.where) from None

    def _upsert(self, conn: Connection, run_id: str, rows: list[HostRows], heartbeat: bool) -> None:
        names = [r.host["host"] for r in rows]
        for chunk in _chunks(names):
            conn.execute(delete(check_results).where(check_results.c.run_id == run_id, check_results.c.host.in_(chunk)))
            conn.execute(delete(host_results).where(host_results.c.run_id == run_id, host_results.c.host.in_(chunk)))
        if rows:
            conn.execute(insert(host_results), [r.host for r in rows])
        checks = [_CHECK_VALUES(c) for r in rows for c in r.checks]
        if checks:
            _insert_checks(conn, checks)
        if heartbeat:
            conn.execute(update(runs).where(runs.c.id == run_id).values(heartbeat=utcnow()))

    def recorded_hosts(self, run_id: str) -> set[str]:
        """Names of the hosts the run has a result for."""
        with self._guard(), read_transaction(self.engine) as conn:
            row = self._run_row(conn, run_id)
            return set(conn.execute(select(host_results.c.host).where(host_results.c.run_id == row.id)).scalars())

    def missing_hosts(self, run_id: str) -> list[str]:
        """Planned hosts without a result, in plan order: what ``--resume`` audits."""
        with self._guard(), read_transaction(self.engine) as conn:
            return self._missing(conn, self._run_row(conn, run_id))

    def _missing(self, conn: Connection, row: Row[Any]) -> list[str]:
        done = set(conn.execute(select(host_results.c.host).where(host_results.c.run_id == row.id)).scalars())
        return [h for h in row.planned_hosts if h not in done]

    def load_run(self, run_id: str) -> RunResult:
        """A stored run as the ``RunResult`` its reports are made from (hosts in plan order). For a large run,
        prefer ``run_header`` + ``iter_hosts``: they never hold every host at once."""
        run = self.run_header(run_id)
        run.hosts = list(self.iter_hosts(run.run_id))
        run.compute_summary()
        run.verdict_catalogue = catalogue_of(run.summary.by_verdict)
        return run

    def run_header(self, run_id: str) -> RunResult:
        """A stored run without its hosts: the header, and the summary counted in the database."""
        with self._guard(), read_transaction(self.engine) as conn:
            row = self._run_row(conn, run_id)
            record = self._record(row)
            if record.result_schema.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
                raise StoreError(f"run {record.id} was stored with result schema {record.result_schema}; this "
                                 f"auditor reads {SCHEMA_VERSION}", self.where)
            hosts = conn.execute(select(host_results.c.status, host_results.c.verdict)
                                 .where(host_results.c.run_id == row.id)).all()
            checks = conn.execute(select(check_results.c.status, func.count()).where(check_results.c.run_id == row.id)
                                  .group_by(check_results.c.status)).all()
        summary = RunSummary(hosts=len(hosts))
        for status, verdict in hosts:
            summary.by_status[status] = summary.by_status.get(status, 0) + 1
            if verdict:
                summary.by_verdict[verdict] = summary.by_verdict.get(verdict, 0) + 1
        summary.checks = {status: int(n) for status, n in checks}
        return RunResult(
            run_id=record.id, kind="remediation" if record.kind == "remediation" else "audit",
            auditor_version=record.auditor_version, started=record.started, finished=record.finished,
            playbooks=[ResultPlaybookRef(path=p.id, id=PurePath(p.id).stem, sha256=p.digest or None) for p in record.playbooks],
            inventory_sources=record.inventory_sources, limit=record.limit,
            options=RunOptionsRecord.model_validate({k: v for k, v in record.options.items() if k in RunOptionsRecord.model_fields}),
            interrupted=record.state is RunState.interrupted, summary=summary,
            verdict_catalogue=catalogue_of(summary.by_verdict),
        )

    def planned_hosts(self, run_id: str) -> list[str]:
        """The run's host names in plan order (every host it set out to audit, recorded or not)."""
        with self._guard(), read_transaction(self.engine) as conn:
            return list(self._run_row(conn, run_id).planned_hosts)

    def iter_hosts(self, run_id: str, batch: int = 500) -> Iterator[HostResult]:
        """The run's host results in plan order (then any unplanned ones by name), read ``batch`` at a time."""
        with self._guard(), read_transaction(self.engine) as conn:
            row = self._run_row(conn, run_id)
            recorded = {r.host for r in conn.execute(select(host_results.c.host).where(host_results.c.run_id == row.id))}
        planned = [h for h in row.planned_hosts if h in recorded]
        names = planned + sorted(recorded - set(planned))
        for i in range(0, len(names), batch):
            chunk = names[i:i + batch]
            found = self.hosts_by_name(row.id, chunk)
            yield from (found[name] for name in chunk if name in found)

    def hosts_by_name(self, run_id: str, names: Sequence[str]) -> dict[str, HostResult]:
        """The recorded results of ``names`` in run ``run_id`` (names without a result are left out)."""
        return {name: self.read_host(run_id, doc) for name, doc in self.documents_by_name(run_id, names).items()}

    def documents_by_name(self, run_id: str, names: Sequence[str]) -> dict[str, bytes]:
        """The stored (compressed) documents of ``names``: a batch costs a few KB each until ``read_host`` makes a
        result of one (tens of KB), so a caller going through a run holds one full host at a time."""
        with self._guard(), read_transaction(self.engine) as conn:
            docs = conn.execute(select(host_results.c.host, host_results.c.document)
                                .where(host_results.c.run_id == run_id, host_results.c.host.in_(list(names)))).all()
        return {d.host: d.document for d in docs}

    def read_host(self, run_id: str, document: bytes) -> HostResult:
        try:
            return HostResult.model_validate_json(zlib.decompress(document))  # no dict in between: ~30 % cheaper
        except (ValidationError, ValueError) as exc:
            raise StoreError(f"run {run_id} holds a host result this auditor cannot read: {exc}", self.where) from None

    def import_run(self, run: RunResult, state: RunState | None = None) -> RunRecord:
        """Store a whole run at once (e.g. a saved JSON report); ``state`` None: as the run ended."""
        self.create_run(run, planned_hosts=[h.name for h in run.hosts])
        for i in range(0, len(run.hosts), 500):
            self.record_hosts(run.run_id, run.hosts[i:i + 500])
        if state is None and run.interrupted:
            state = RunState.interrupted
        return self.finish_run(run.run_id, state, finished=run.finished)

    # --- reading for drift ------------------------------------------------------------------------

    def host_summaries(self, run_id: str) -> dict[str, HostSummary]:
        """Every recorded host's outcome, headline verdict and check digest (one indexed query)."""
        with self._guard(), read_transaction(self.engine) as conn:
            row = self._run_row(conn, run_id)
            found = conn.execute(select(host_results.c.host, host_results.c.status, host_results.c.verdict,
                                        host_results.c.confidence, host_results.c.check_digest)
                                 .where(host_results.c.run_id == row.id))
            return {r.host: HostSummary(r.status, r.verdict, r.confidence, r.check_digest) for r in found}

    def check_transitions(self, old_run: str, new_run: str,
                          hosts: Collection[str] | None = None) -> dict[str, list[CheckTransition]]:
        """Per host, the checks whose status or file listing differs between two runs, and checks run in
        only one of them (for ``hosts``, None: every host). The database does the comparing: only the
        differences come back, whatever the fleet's size."""
        o, n = check_results.alias("o"), check_results.alias("n")
        pair = and_(n.c.run_id == new_run, n.c.host == o.c.host, n.c.key == o.c.key)
        both = (select(o.c.host, o.c.key, n.c.check_id, n.c.severity, o.c.status, n.c.status, o.c.listing, n.c.listing)
                .select_from(o.join(n, pair))
                .where(o.c.run_id == old_run,
                       or_(o.c.status != n.c.status, o.c.listing_digest.is_distinct_from(n.c.listing_digest))))
        only_old = (select(o.c.host, o.c.key, o.c.check_id, o.c.severity, o.c.status, null(), o.c.listing, null())
                    .select_from(o.outerjoin(n, pair)).where(o.c.run_id == old_run, n.c.key.is_(None)))
        back = and_(o.c.run_id == old_run, o.c.host == n.c.host, o.c.key == n.c.key)
        only_new = (select(n.c.host, n.c.key, n.c.check_id, n.c.severity, null(), n.c.status, null(), n.c.listing)
                    .select_from(n.outerjoin(o, back)).where(n.c.run_id == new_run, o.c.key.is_(None)))
        found: list[tuple[Any, ...]] = []
        groups: list[list[str] | None] = [None] if hosts is None else list(_chunks(list(hosts)))
        with self._guard(), read_transaction(self.engine) as conn:
            for group in groups:
                for query, col in ((both, o.c.host), (only_old, o.c.host), (only_new, n.c.host)):
                    found.extend(tuple(r) for r in conn.execute(query if group is None else query.where(col.in_(group))))
        out: dict[str, list[CheckTransition]] = defaultdict(list)
        for row in found:
            out[row[0]].append(CheckTransition(*row))
        for changes in out.values():
            changes.sort(key=lambda t: t.key)
        return dict(out)

    # --- listing ----------------------------------------------------------------------------------

    def list_runs(self, limit: int | None = 20, *, kind: str | None = None, state: RunState | None = None,
                  playbook_set: str | None = None) -> list[RunListing]:
        """Runs, newest first, with host counts by outcome and headline verdict."""
        query = select(*_RECORD_COLUMNS).order_by(runs.c.started.desc(), runs.c.id.desc())
        if kind is not None:
            query = query.where(runs.c.kind == kind)
        if playbook_set is not None:
            query = query.where(runs.c.playbook_set == playbook_set)
        if state in (RunState.running, RunState.interrupted):
            # a dead owner's 'running' run reads 'interrupted': filter on the state as it stands now
            query = query.where(runs.c.state.in_([RunState.running.value, RunState.interrupted.value]))
        elif state is not None:
            query = query.where(runs.c.state == state.value)
        if limit is not None and state not in (RunState.running, RunState.interrupted):
            query = query.limit(limit)  # no state to recompute after reading: the database can stop early
        with self._guard(), read_transaction(self.engine) as conn:
            records = [self._record(r) for r in conn.execute(query)]
            if state is not None:
                records = [r for r in records if r.state is state]
            records = records[:limit] if limit is not None else records
            counts = self._counts(conn, [r.id for r in records])
        return [RunListing(**r.model_dump(), **counts.get(r.id, {})) for r in records]

    def run_listing(self, run_id: str) -> RunListing:
        """One run (an id or a unique prefix) with its counts, as ``list_runs`` gives each."""
        with self._guard(), read_transaction(self.engine) as conn:
            record = self._record(self._run_row(conn, run_id))
            counts = self._counts(conn, [record.id])
        return RunListing(**record.model_dump(), **counts.get(record.id, {}))

    def previous_complete_run(self, run_id: str) -> RunRecord | None:
        """The newest complete run of the same kind and playbooks that started before ``run_id``."""
        with self._guard(), read_transaction(self.engine) as conn:
            row = self._run_row(conn, run_id)
            prev = conn.execute(_earlier_complete(row).limit(1)).first()
            return self._record(prev) if prev is not None else None

    def latest_complete_run(self, kind: str = "audit") -> RunRecord | None:
        with self._guard(), read_transaction(self.engine) as conn:
            row = conn.execute(select(*_RECORD_COLUMNS).where(runs.c.kind == kind, runs.c.state == RunState.complete.value)
                               .order_by(runs.c.started.desc(), runs.c.id.desc()).limit(1)).first()
            return self._record(row) if row is not None else None

    def trend(self, run_id: str, limit: int = 10) -> list[TrendPoint]:
        """Verdict and outcome counts of up to ``limit`` scans of the same playbooks, oldest first, ending
        with ``run_id`` (complete runs only, and the run itself whatever its state)."""
        with self._guard(), read_transaction(self.engine) as conn:
            row = self._run_row(conn, run_id)
            earlier = conn.execute(_earlier_complete(row).limit(max(0, limit - 1))).all()
            chosen = [self._record(r) for r in reversed(earlier)] + [self._record(row)]
            counts = self._counts(conn, [r.id for r in chosen])
        return [TrendPoint(run_id=r.id, started=r.started, state=r.state, hosts=counts.get(r.id, {}).get("hosts_recorded", 0),
                           by_status=counts.get(r.id, {}).get("by_status", {}),
                           by_verdict=counts.get(r.id, {}).get("by_verdict", {})) for r in chosen]

    def _counts(self, conn: Connection, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {i: {"hosts_recorded": 0, "by_status": {}, "by_verdict": {}} for i in run_ids}
        for chunk in _chunks(run_ids):
            found = conn.execute(select(host_results.c.run_id, host_results.c.status, host_results.c.verdict,
                                        func.count().label("n"))
                                 .where(host_results.c.run_id.in_(chunk))
                                 .group_by(host_results.c.run_id, host_results.c.status, host_results.c.verdict))
            for r in found:
                entry = out[r.run_id]
                entry["hosts_recorded"] += r.n
                entry["by_status"][r.status] = entry["by_status"].get(r.status, 0) + r.n
                verdict = r.verdict or _NO_VERDICT
                entry["by_verdict"][verdict] = entry["by_verdict"].get(verdict, 0) + r.n
        return out

    # --- pruning ----------------------------------------------------------------------------------

    def prune(self, older_than: timedelta, *, now: datetime | None = None) -> PruneCounts:
        """Delete runs that started more than ``older_than`` ago (never a live one), with their rows."""
        cutoff = (now or utcnow()) - older_than
        counts = PruneCounts()
        with self._guard():
            with read_transaction(self.engine) as conn:
                old = [self._record(r) for r in conn.execute(select(*_RECORD_COLUMNS).where(runs.c.started < cutoff))]
            ids = [r.id for r in old if not r.live]
            for chunk in _chunks(ids, 100):  # short write transactions: other writers are not held up long
                with write_transaction(self.engine) as conn:
                    counts.checks += conn.execute(delete(check_results).where(check_results.c.run_id.in_(chunk))).rowcount
                    counts.hosts += conn.execute(delete(host_results).where(host_results.c.run_id.in_(chunk))).rowcount
                    counts.runs += conn.execute(delete(runs).where(runs.c.id.in_(chunk))).rowcount
            if ids and self.engine.dialect.name == "sqlite":
                with write_transaction(self.engine) as conn:  # give freed pages back to the file system
                    conn.exec_driver_sql("PRAGMA incremental_vacuum")
        return counts

    # --- helpers ----------------------------------------------------------------------------------

    def writer(self, run_id: str, **kwargs: Any) -> StoreWriter:
        """A ``StoreWriter`` for ``run_id`` (see ``auditor.store.writer``)."""
        from auditor.store.writer import StoreWriter

        return StoreWriter(self, run_id, **kwargs)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Database failures become one-line StoreErrors (exit 4) naming the store, never a traceback."""
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StoreError(f"store error: {db_error_text(exc)}", self.where) from None

    def _run_row(self, conn: Connection, run_id: str, *, prefix: bool = True) -> Row[Any]:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        if row is None and prefix and run_id:
            like = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            found = conn.execute(select(runs).where(runs.c.id.like(like, escape="\\")).limit(2)).all()
            if len(found) > 1:
                raise StoreError(f"run id {run_id!r} is ambiguous: give more characters", self.where)
            row = found[0] if found else None
        if row is None:
            raise StoreError(f"no run {run_id!r} in the store", self.where)
        return row

    def _record(self, row: Row[Any]) -> RunRecord:
        stored = RunState(row.state)
        live = stored is RunState.running and self._owner_alive(row)
        state = RunState.interrupted if stored is RunState.running and not live else stored
        return RunRecord(
            id=row.id, kind=row.kind, state=state, stored_state=stored, live=live,
            playbooks=[PlaybookRef(**p) for p in row.playbooks], playbook_set=row.playbook_set,
            inventory_sources=list(row.inventory_sources), pattern=row.pattern, limit=row.host_limit,
            options=dict(row.options), auditor_version=row.auditor_version, result_schema=row.result_schema,
            started=row.started, finished=row.finished, hosts_planned=row.hosts_planned,
            owner_host=row.owner_host, owner_pid=row.owner_pid, heartbeat=row.heartbeat,
        )

    def _owner_alive(self, row: Row[Any]) -> bool:
        age = utcnow() - row.heartbeat
        if row.owner_host != self._owner_host:
            return age <= self.stale_after  # another machine: its heartbeat is all there is to go by
        return age <= PID_TRUST and _pid_alive(row.owner_pid)


#: What a ``RunRecord`` is made of: every column of a run but its planned host names (a JSON list of every host:
#: 20,000 names to parse for each of the ten runs of a trend).
_RECORD_COLUMNS = tuple(c for c in runs.columns if c.name != "planned_hosts")


def _earlier_complete(row: Row[Any]) -> Select[Any]:
    """Complete runs of the same kind and playbooks as ``row`` that started before it, newest first."""
    return (select(*_RECORD_COLUMNS).where(runs.c.playbook_set == row.playbook_set, runs.c.kind == row.kind,
                               runs.c.state == RunState.complete.value, runs.c.id != row.id,
                               runs.c.started <= row.started)
            .order_by(runs.c.started.desc(), runs.c.id.desc()))


_CHECK_COLUMNS = tuple(c.name for c in check_results.columns)
_CHECK_VALUES = itemgetter(*_CHECK_COLUMNS)


def _insert_checks(conn: Connection, checks: list[tuple[Any, ...]]) -> None:
    """Check rows are plain values (no type processing needed), so they go straight to the driver:
    PostgreSQL's COPY, SQLite's executemany. Each is several times faster than a Core insert."""
    columns = ", ".join(_CHECK_COLUMNS)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY check_results ({columns}) FROM STDIN") as copy:
            for row in checks:
                copy.write_row(row)
        return
    marks = ", ".join("?" if conn.dialect.paramstyle == "qmark" else "%s" for _ in _CHECK_COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO check_results ({columns}) VALUES ({marks})", checks)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _chunks(items: list[str], size: int = _IN_CHUNK) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _plain(options: Any) -> Any:
    return options.model_dump(mode="json") if isinstance(options, BaseModel) else options


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
