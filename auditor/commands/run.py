"""`auditor run` and `auditor validate`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import typer
from rich.console import Console

from auditor.commands import options as opt
from auditor.distributed import cli as dist
from auditor.errors import BadInputError, ExitCode, UsageError
from auditor.inventory.connection import ConnectionDefaults
from auditor.inventory.model import Inventory
from auditor.inventory.retry import write_retry_file
from auditor.failpolicy import FailPolicy, parse_fail_on
from auditor.playbook.schema import Playbook
from auditor.results import HOST_DOWN_STATUSES, HostResult, PreviousScan, RunResult, RunSummary
from auditor.rules import catalogue_of
from auditor.waivers import WaiverFile
from auditor.runner import RunOptions
from auditor.tally import RunTally

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported when a run starts, not by every command
    from auditor.store.store import Store

DEFAULT_OUTPUT = "reports"
RUN_ID_FORMAT = re.compile(r"[0-9a-f]{12}")


def exit_code_for(run: RunResult, policy: FailPolicy = FailPolicy("needs-action")) -> ExitCode:
    """99 interrupted; 3 any host not audited (wins); 2 a reached host fails ``policy`` (``--fail-on``; default: it
    needs action, ``auditor.outcomes``); else 0."""
    if run.interrupted:
        return ExitCode.INTERRUPTED
    if any(h.status in HOST_DOWN_STATUSES for h in run.hosts):
        return ExitCode.HOSTS_UNREACHABLE
    if any(policy.fails(h, run.verdict_catalogue) for h in run.hosts):
        return ExitCode.CHECKS_FAILED
    return ExitCode.OK


def parse_formats(value: str) -> list[str]:
    from auditor.report.writers import parse_formats as parse

    return parse(value)


@dataclass
class AuditDone:
    """What ``execute_audit`` leaves: the run as reported (its header and summary; ``hosts``: every host's slim form
    when ``keep_hosts``, else only the hosts that did not finish), the report files, and the tally (the exit code).
    Unpacks as ``run, paths``."""

    run: RunResult
    paths: list[Path]
    tally: RunTally

    def __iter__(self) -> Iterator[Any]:
        return iter((self.run, self.paths))

    @property
    def exit_code(self) -> ExitCode:
        return self.tally.exit_code(self.run.interrupted)


def execute_audit(
    playbook_paths: list[str],
    inventory_sources: list[str],
    *,
    limit: str | None,
    options: RunOptions,
    formats: list[str],
    output: Path,
    console: Console,
    quiet: bool = False,
    connection: ConnectionDefaults = ConnectionDefaults(),
    inventory: Inventory | None = None,
    playbooks: list[Playbook] | None = None,
    store: str | None = None,
    waivers: WaiverFile | None = None,
    resume: str | None = None,
    verbose: int = 0,
    new_run_id: str | None = None,
    policy: FailPolicy = FailPolicy("needs-action"),
    keep_hosts: bool = True,
) -> AuditDone:
    """The main job for the command line: plan and run (``auditor.api``) with live progress, recorded in the
    history store (``store``: a URL, ``none``, or None for $AUDITOR_STORE / the default), then the reports (also
    after an interrupt; with what changed since the previous scan), the retry file and the recap.

    Every full result goes to the store as it finishes; this process keeps counts (``RunTally``: exit code under
    ``policy``, retry file, recap), and with ``keep_hosts`` each host's slim form too. The reports read the hosts
    back from the store.

    ``resume``: the id of a stored run that was stopped (Ctrl-C, SIGTERM, SIGKILL, a crash): only its hosts
    without a result are audited, into that run, and the reports cover the whole run. ``waivers``: a loaded
    waiver file, applied between checks and verdicts (``auditor.waivers``)."""
    from auditor import api
    from auditor.console import LiveProgress, print_recap
    from auditor.history.annotate import history_of
    from auditor.inventory import load_inventory
    from auditor.report.writers import check_output_folder, write_reports
    from auditor.store.recording import recording
    from auditor.waivers import WaiverHook, bind, in_force_records

    check_output_folder(output)  # an unwritable folder is refused before anything connects
    inv = inventory if inventory is not None else load_inventory(inventory_sources)
    today = date.today()
    hook = WaiverHook(bind(waivers, inv), today) if waivers is not None else None
    with recording(store, scratch=True) as history:
        assert history.store is not None
        only_hosts, run_id = None, new_run_id
        if resume is not None:
            if history.temporary:
                raise UsageError("--resume needs the history store (it is turned off: --store none or AUDITOR_STORE=none)")
            history.store.claim_run(resume)
            only_hosts, run_id = history.store.missing_hosts(resume), resume
        plan = api.plan_audit(playbooks if playbooks is not None else playbook_paths, inv, limit=limit, options=options,
                              connection=connection, only_hosts=only_hosts, run_id=run_id)
        # plans hold what the run needs; the inventory (~3.5 KB a host) is let go before workers fork and hosts come
        # back (a caller that still holds it keeps it, e.g. the demo)
        del inv, inventory
        tally = RunTally(policy, keep_hosts=keep_hosts)
        sinks = [LiveProgress(console, quiet=quiet, verbose=verbose), tally,
                 *history.sinks([h.name for h in plan.hosts], create=resume is None)]
        run = api.run(plan, sinks=sinks, check_hook=hook, keep_results=False, release_plans=True)
        unfinished = run.hosts  # the hosts that never reached the sinks (an interrupt, a dead worker)
        if resume is not None:  # the run is every host recorded so far, this pass's and the earlier ones'
            tally = RunTally(policy, keep_hosts=keep_hosts)
            run = _resumed(run, history.store, tally)
        else:
            for host in unfinished:
                tally.add(host)
        planned = history.store.planned_hosts(run.run_id)
        if keep_hosts:
            assert tally.kept is not None
            run.hosts = _in_order(tally.kept, planned)
        if waivers is not None:
            run.waivers = in_force_records(waivers, today=today)
        previous: dict[str, PreviousScan] = {}
        if not history.temporary:
            run.history, previous = history_of(run.run_id, history.store)
        paths = write_reports(from_store(run, history.store, previous, planned, unfinished), formats, output)
    not_ok = set(tally.not_ok)
    write_retry_file(output / "last.retry", [name for name in planned if name in not_ok])
    if not quiet:
        print_recap(console, run, [str(p) for p in paths], recorded_in=history.where, worst=tally.recap_hosts(),
                    total=tally.total)
    return AuditDone(run, paths, tally)


def _in_order(hosts: list[HostResult], planned: list[str]) -> list[HostResult]:
    position = {name: i for i, name in enumerate(planned)}
    return sorted(hosts, key=lambda h: position.get(h.name, len(position)))


def from_store(run: RunResult, store: Store, previous: dict[str, PreviousScan], planned: list[str],
               unfinished: list[HostResult]) -> RunResult:
    """``run`` as its reports need it: every planned host's full result read back from ``store`` batch by batch as
    the writers go, in plan order; a host the store does not hold (it never finished) is its ``unfinished`` error."""
    from auditor.history.annotate import with_previous
    from auditor.report.stream import HostStream, streamed_run

    missing = {h.name: h for h in unfinished}

    def hosts() -> Iterator[HostResult]:
        for i in range(0, len(planned), 500):
            chunk = planned[i:i + 500]
            documents = store.documents_by_name(run.run_id, chunk)
            for name in chunk:
                document = documents.pop(name, None)
                host = store.read_host(run.run_id, document) if document is not None else missing.get(name)
                if host is not None:
                    yield with_previous(host, previous)

    # stored documents were scrubbed with the reports' own scrub (auditor.store.rows); unfinished hosts hold
    # nothing but their name and why
    return streamed_run(run.model_copy(update={"hosts": []}), HostStream(hosts, run.summary.hosts, redacted=True))


def _resumed(run: RunResult, store: Store, tally: RunTally) -> RunResult:
    """A resumed run: every recorded host, then this pass's unfinished ones, counted into ``tally`` and the
    summary, under this pass's header (``hosts``: the unfinished ones)."""
    summary = RunSummary()
    recorded: set[str] = set()
    for host in store.iter_hosts(run.run_id):
        recorded.add(host.name)
        tally.add(host)
        summary.add(host)
    rest = [h for h in run.hosts if h.name not in recorded]
    for host in rest:
        tally.add(host)
        summary.add(host)
    full = run.model_copy(update={"hosts": rest, "started": store.get_run(run.run_id).started, "summary": summary})
    full.verdict_catalogue = catalogue_of(summary.by_verdict)
    return full


def run_command(
    playbooks: Annotated[Optional[list[Path]], typer.Argument(
        help="Playbook files (YAML), run in order (with --resume: the stored run's, unless given).",
        metavar="PLAYBOOK...")] = None,
    inventory: opt.InventoryOptional = None,
    limit: opt.Limit = None,
    forks: opt.Forks = 100,
    workers: int = typer.Option(0, "-w", "--workers", min=0, max=64,
                                help="Processes to spread hosts over (one core each); 0 = auto: one per core, "
                                     "once there are at least 50 hosts per process."),
    connect_timeout: opt.ConnectTimeout = None,
    command_timeout: opt.CommandTimeout = None,
    host_deadline: opt.HostDeadline = 120.0,
    report: opt.Report = "json,html",
    output: opt.Output = Path(DEFAULT_OUTPUT),
    enable: list[str] = typer.Option([], "--enable", help="Opt-in checks to run: user-context, probe (repeatable)."),
    host_key_checking: opt.HostKeyChecking = None,
    known_hosts: opt.KnownHosts = None,
    include_facts: bool = typer.Option(False, "--include-facts", help="Store gathered facts in the JSON report."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress or recap; exit code only."),
    store: opt.Store = None,
    resume: Optional[str] = typer.Option(None, "--resume", metavar="RUN_ID",
                                         help="Finish a stored run that was stopped: audit only its hosts without a "
                                              "result (same playbooks, inventory and limit unless given)."),
    waiver_file: opt.WaiverFile = None,
    fail_on: Optional[str] = typer.Option(None, "--fail-on", metavar="POLICY",
                                          help="When checks make the exit code 2: needs-action (default: a host needs "
                                               "action), a severity (critical|high|medium|low|info: a failed check that "
                                               "severe or worse), VERDICT[,VERDICT] (a host's headline verdict), or never."),
    check_id: Optional[str] = typer.Option(None, "--check-id", metavar="ID[,ID]",
                                           help="Evaluate only these checks (ids or keys); the others are skipped."),
    list_hosts: opt.ListHosts = False,
    syntax_check: opt.SyntaxCheck = False,
    verbose: opt.Verbose = 0,
    vault_password_file: opt.VaultPasswordFile = None,
    vault_id: opt.VaultId = None,
    ask_vault_pass: opt.AskVaultPass = False,
    dispatch: dist.Dispatch = None,
    broker: dist.Broker = None,
    shard_size: dist.ShardSize = dist.DEFAULT_SHARD_SIZE,
    run_id: Optional[str] = typer.Option(None, "--run-id", hidden=True, metavar="ID",
                                         help="The new run's id (12 lowercase hex digits), chosen by the caller: "
                                              "`auditor serve` uses it to find the scan it started."),
) -> int:
    """Run PLAYBOOK(s) against the hosts of an inventory and write reports.

    A host needs action when its verdict says so (conflict, at risk, inconclusive), it could not be audited, or a
    check could not be evaluated; a healthy verdict outweighs low-severity notes (docs/reports.md).

    Exit codes: 0 no host needs action (see --fail-on); 2 a host needs action; 3 hosts unreachable, auth failed,
    timed out or errored (wins over 2); 4 bad input; 5 usage error; 99 interrupted (Ctrl-C, SIGTERM); 250 internal error.
    """
    connection = opt.connection_defaults(host_key_checking, known_hosts)
    formats = parse_formats(report)
    options = RunOptions(forks=forks, connect_timeout=connect_timeout, command_timeout=command_timeout,
                         host_deadline=host_deadline, include_facts=include_facts, workers=workers)
    from auditor.inventory.cli import load_from_options
    from auditor.playbook import load_playbooks
    from auditor.waivers import load_waivers

    paths = [str(p) for p in playbooks or []]
    sources = list(inventory or [])
    if resume is not None and not (paths and sources):
        from auditor.store.recording import stored_run_inputs

        stored_books, stored_sources, stored_limit = stored_run_inputs(store, resume)
        paths, sources, limit = paths or stored_books, sources or stored_sources, limit or stored_limit
    if run_id is not None and (resume is not None or not RUN_ID_FORMAT.fullmatch(run_id)):
        raise UsageError("--run-id: expected 12 lowercase hex digits, and no --resume")
    if not paths:
        raise UsageError("give at least one PLAYBOOK (or --resume RUN_ID)")
    if not sources:
        raise UsageError("give an inventory with -i/--inventory (or --resume RUN_ID)")
    books = load_playbooks(paths)  # bad playbooks and waiver files fail before any vault prompt
    options.enabled = opt.enabled_option(enable, opt.opt_ins(books))
    from auditor.rules import verdict_catalogue

    policy = parse_fail_on(fail_on, verdict_catalogue())
    if check_id:
        options.check_ids = opt.check_ids_option(check_id, books)
    waivers = load_waivers(waiver_file) if waiver_file is not None else None
    if syntax_check:
        return opt.print_syntax_check(paths)
    if dispatch is not None:  # the hosts run on `auditor worker` runners (auditor/distributed/, docs/scale.md)
        if resume is not None or waivers is not None or list_hosts:
            raise UsageError("--dispatch celery does not take --resume, --waiver-file or --list-hosts yet")
        from auditor.distributed.coordinator import dispatch_command

        return dispatch_command(dispatch, [Path(p) for p in paths], sources, limit=limit, options=options,
                                connection=connection, formats=formats, output=output, quiet=quiet, store=store,
                                broker=broker, shard_size=shard_size, vault_password_files=vault_password_file,
                                vault_ids=vault_id, ask_vault_pass=ask_vault_pass, policy=policy)
    if list_hosts:
        return opt.print_list_hosts(books, load_from_options(sources, vault_password_file, vault_id, ask_vault_pass),
                                    limit)
    console = Console(stderr=False)
    # the inventory is not held here: execute_audit lets it go once the hosts are planned (flat memory)
    done = execute_audit(paths, sources, limit=limit, options=options, formats=formats, output=output,
                         console=console, quiet=quiet, connection=connection,
                         inventory=load_from_options(sources, vault_password_file, vault_id, ask_vault_pass),
                         playbooks=books, store=store, waivers=waivers, resume=resume, verbose=verbose,
                         new_run_id=run_id, policy=policy, keep_hosts=False)
    return int(done.exit_code)


def validate_command(
    playbooks: list[Path] = typer.Argument(..., help="Playbook files to check: audits and remediation playbooks.",
                                           metavar="PLAYBOOK..."),
) -> int:
    """Check playbooks (schema, parser, rule and module names, expressions) without connecting anywhere.
    Every file is checked, and each bad one reported.

    Exit codes: 0 all valid; 4 at least one has an error (printed as file:line:column: message).
    """
    from auditor.playbook import load_playbook
    from auditor.playbook.yamlpos import read_positioned_file
    from auditor.remediate.loader import load_remediation_playbook

    bad = 0
    for path in playbooks:
        try:
            doc = read_positioned_file(path, "playbook", 4 * 1024 * 1024)
            plays = doc.data if isinstance(doc.data, list) else []
            if any(isinstance(p, dict) and "tasks" in p for p in plays):  # a remediation playbook
                book = load_remediation_playbook(str(path))
                tasks = sum(len(p.tasks) for p in book.plays)
                typer.echo(f"{path}: ok (remediation: {len(book.plays)} plays, {tasks} tasks)")
            else:
                audit = load_playbook(str(path))
                checks = sum(len(p.checks) for p in audit.plays)
                typer.echo(f"{path}: ok ({len(audit.plays)} plays, {checks} checks)")
        except BadInputError as exc:
            bad += 1
            typer.secho(f"ERROR: {exc}", err=True, fg="red")
    if bad:
        if len(playbooks) > 1:
            typer.secho(f"{bad} of {len(playbooks)} playbooks have errors", err=True, fg="red")
        return int(ExitCode.BAD_INPUT)
    return int(ExitCode.OK)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("validate")(validate_command)
