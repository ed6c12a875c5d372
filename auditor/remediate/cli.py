"""`auditor remediate`: dry run first, confirmation, then the change; reports like `auditor run`."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from auditor.commands import options as opt
from auditor.commands.run import DEFAULT_OUTPUT, exit_code_for, parse_formats
from auditor.errors import ExitCode, UsageError
from auditor.inventory.connection import ConnectionDefaults
from auditor.inventory.model import Inventory
from auditor.waivers import WaiverFile
from auditor.results import RunResult
from auditor.runner import RunOptions
from auditor.sinks import Sink

NO_TTY = ("refusing to change hosts without confirmation: there is no terminal to ask on. "
          "Preview with --check (changes nothing), then apply with --yes")


def execute_remediation(playbook_paths: list[Any], inventory_sources: list[str], *, limit: str | None, options: RunOptions,
                        check_mode: bool, connection: ConnectionDefaults = ConnectionDefaults(),
                        console: Console | None = None, quiet: bool = True, inventory: Inventory | None = None,
                        store: str | None = "none", waivers: WaiverFile | None = None) -> RunResult:
    """One pass (check mode or real) through ``auditor.api`` with live progress, recorded in the history store
    (``store``: a URL, None for $AUDITOR_STORE / the default, "none" for no record); reports are the caller's.
    ``waivers``: hosts whose active waiver covers a check a play ``fixes`` are left alone by that play."""
    from auditor import api
    from auditor.console import LiveProgress
    from auditor.inventory import load_inventory
    from auditor.store.recording import recording
    from auditor.waivers import bind, in_force_records

    inv = inventory if inventory is not None else load_inventory(inventory_sources)
    today = date.today()
    plan = api.plan_remediation(playbook_paths, inv, check_mode=check_mode, limit=limit, options=options,
                                connection=connection, waivers=bind(waivers, inv) if waivers is not None else None,
                                today=today)
    label = "remediating (check mode)" if check_mode else "remediating"
    sinks: list[Sink] = [LiveProgress(console, quiet=quiet, label=label)] if console is not None else []
    with recording(store) as history:
        run = api.run(plan, sinks=[*sinks, *history.sinks([h.name for h in plan.hosts])])
    if waivers is not None:
        run.waivers = in_force_records(waivers, today=today)
    return run


def remediate_command(
    playbooks: Annotated[list[Path], typer.Argument(help="Remediation playbooks (YAML), run in order.", metavar="PLAYBOOK...")],
    inventory: opt.Inventory,
    limit: opt.Limit = None,
    check: bool = typer.Option(False, "--check", help="Show what would change; change nothing."),
    diff: bool = typer.Option(False, "--diff", help="Show file and registry diffs."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Apply without asking (no preview pass)."),
    forks: opt.Forks = 100,
    connect_timeout: opt.ConnectTimeout = None,
    command_timeout: opt.CommandTimeout = None,
    host_deadline: opt.HostDeadline = 300.0,
    report: opt.Report = "json",
    output: opt.Output = Path(DEFAULT_OUTPUT),
    enable: list[str] = typer.Option([], "--enable", help="Opt-in modules/collectors: restart, user-context (repeatable)."),
    host_key_checking: opt.HostKeyChecking = None,
    known_hosts: opt.KnownHosts = None,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress or task list; exit code only."),
    store: opt.Store = None,
    list_hosts: opt.ListHosts = False,
    syntax_check: opt.SyntaxCheck = False,
    vault_password_file: opt.VaultPasswordFile = None,
    vault_id: opt.VaultId = None,
    ask_vault_pass: opt.AskVaultPass = False,
    waiver_file: opt.WaiverFile = None,
    check_id: Optional[str] = typer.Option(None, "--check-id", metavar="ID[,ID]",
                                           help="Run only the plays that fix these audit checks (their 'fixes:')."),
) -> int:
    """Fix hosts with a remediation PLAYBOOK: idempotent tasks with check mode, diffs and backups.

    Without --yes a check-mode pass runs first and shows how many hosts would change, then asks.
    Exit codes: 0 no task failed; 2 a task failed; 3 hosts unreachable, auth failed or timed out;
    4 bad input; 5 usage error (also: no terminal to confirm on and no --yes); 99 interrupted.
    """
    from auditor.remediate.display import changed_hosts, print_tasks
    from auditor.report.writers import write_reports
    connection = opt.connection_defaults(host_key_checking, known_hosts)
    if check and yes:
        raise UsageError("--check and --yes contradict each other: --check never changes anything")
    formats = parse_formats(report)
    from auditor.report.writers import check_output_folder

    check_output_folder(output)  # an unwritable folder is refused before anything connects
    if not check and not yes and not (list_hosts or syntax_check) and not sys.stdin.isatty():
        raise UsageError(NO_TTY)
    options = RunOptions(forks=forks, connect_timeout=connect_timeout, command_timeout=command_timeout,
                         host_deadline=host_deadline)
    from auditor.inventory.cli import load_from_options
    from auditor.remediate.loader import load_remediation_playbooks

    console = Console()
    paths = [str(p) for p in playbooks]
    books = load_remediation_playbooks(paths)  # bad playbooks and waiver files fail before any vault prompt
    from auditor.waivers import load_waivers

    waivers = load_waivers(waiver_file) if waiver_file is not None else None
    if check_id:
        books = opt.plays_fixing(check_id, books)
    options.enabled = opt.enabled_option(enable, opt.opt_ins(books))
    if syntax_check:
        return opt.print_syntax_check(paths)
    inv = load_from_options(inventory, vault_password_file, vault_id, ask_vault_pass)
    if list_hosts:
        return opt.print_list_hosts(books, inv, limit)

    def one_pass(check_mode: bool) -> RunResult:
        run = execute_remediation(books, inventory, limit=limit, options=options, check_mode=check_mode, store=store,
                                  connection=connection, console=console, quiet=quiet, inventory=inv, waivers=waivers)
        if not quiet:
            print_tasks(console, run, show_diff=diff, check_mode=check_mode)
        return run

    if not yes:
        preview = one_pass(True)
        if check or preview.interrupted:
            _write(preview, formats, output, console, quiet, write_reports)
            return int(exit_code_for(preview))
        hosts = changed_hosts(preview)
        if not hosts:
            console.print("Nothing to change.")
            _write(preview, formats, output, console, quiet, write_reports)
            return int(exit_code_for(preview))
        if not typer.confirm(f"{len(hosts)} of {len(preview.hosts)} hosts would change. Apply these changes now?",
                             default=False):
            console.print("Nothing was changed.")
            return int(ExitCode.OK)
    run = one_pass(False)
    _write(run, formats, output, console, quiet, write_reports)
    return int(exit_code_for(run))


def _write(run: RunResult, formats: list[str], output: Path, console: Console, quiet: bool, write_reports) -> None:
    """The reports and, as `auditor run` does, the retry file: hosts that are not ok, for ``--limit @FILE``."""
    from auditor.inventory.retry import write_retry_file
    from auditor.results import HostStatus
    from auditor.textsafe import markup

    for path in write_reports(run, formats, output):
        if not quiet:
            console.print(f"report: {markup(path)}", highlight=False)
    write_retry_file(output / "last.retry", [h.name for h in run.hosts if h.status is not HostStatus.ok])


def register(app: typer.Typer) -> None:
    app.command("remediate")(remediate_command)
