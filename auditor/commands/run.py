"""`auditor run` and `auditor validate`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from auditor.commands import options as opt
from auditor.errors import BadInputError, ExitCode
from auditor.results import HOST_DOWN_STATUSES, CheckStatus, RunResult

DEFAULT_OUTPUT = "reports"


def exit_code_for(run: RunResult) -> ExitCode:
    """0 all good; 3 any host not audited (wins); 2 any check failed or errored; 99 interrupted."""
    if run.interrupted:
        return ExitCode.INTERRUPTED
    if any(h.status in HOST_DOWN_STATUSES for h in run.hosts):
        return ExitCode.HOSTS_UNREACHABLE
    if any(c.status in (CheckStatus.failed, CheckStatus.error) for h in run.hosts for c in h.all_checks()):
        return ExitCode.CHECKS_FAILED
    return ExitCode.OK


def parse_formats(value: str) -> list[str]:
    from auditor.report.writers import parse_formats as parse

    return parse(value)


def parse_enable(values: list[str]) -> set[str]:
    return {v.strip() for item in values for v in item.split(",") if v.strip()}


def execute_audit(
    playbook_paths: list[str],
    inventory_sources: list[str],
    *,
    limit: str | None,
    options,
    formats: list[str],
    output: Path,
    console: Console,
    quiet: bool = False,
    spec_overrides: dict | None = None,
    inventory=None,
    playbooks=None,
) -> tuple[RunResult, list[Path]]:
    """The main job as a library call: load, plan, run, write reports (also after an interrupt)."""
    from auditor.console import LiveProgress, print_recap
    from auditor.inventory import load_inventory
    from auditor.plan import build_plan
    from auditor.playbook import load_playbooks
    from auditor.report.writers import write_reports
    from auditor.runner import Runner, new_run
    from auditor.workers import auto_workers, run_in_workers

    playbooks = playbooks if playbooks is not None else load_playbooks(playbook_paths)
    inv = inventory if inventory is not None else load_inventory(inventory_sources)
    plans = build_plan(inv, playbooks, limit=limit, spec_overrides=spec_overrides)
    if not plans:
        patterns = ", ".join(sorted({play.hosts for book in playbooks for play in book.plays}))
        raise BadInputError(f"no hosts matched: the plays select {patterns!r}" + (f" and --limit is {limit!r}" if limit else "")
                            + f" in {', '.join(inv.sources) or 'the inventory'}")
    run = new_run([p.path for p in playbooks], list(inv.sources), limit, options)
    progress = LiveProgress(console, quiet=quiet)
    workers = max(1, min(options.workers or auto_workers(len(plans)), len(plans)))
    run.options["workers"] = workers
    try:
        if workers > 1:
            run_in_workers(plans, run, options, [progress], workers)
        else:
            asyncio.run(Runner(options, sinks=[progress]).run(plans, run))
    except KeyboardInterrupt:
        run.interrupted = True
    paths = write_reports(run, formats, output)
    _write_retry(run, output)
    if not quiet:
        print_recap(console, run, [str(p) for p in paths])
    return run, paths


def _write_retry(run: RunResult, output: Path) -> None:
    failed = [h.name for h in run.hosts if h.status.value != "ok"]
    path = output / "last.retry"
    try:
        from auditor.inventory.retry import write_retry_file
    except ImportError:
        write_retry_file = None
    if write_retry_file is not None:
        write_retry_file(path, failed)
    else:
        path.write_text("".join(f"{n}\n" for n in failed), encoding="utf-8")


def run_command(
    playbooks: Annotated[list[Path], typer.Argument(help="Playbook files (YAML), run in order.", metavar="PLAYBOOK...")],
    inventory: opt.Inventory,
    limit: opt.Limit = None,
    forks: opt.Forks = 100,
    workers: int = typer.Option(0, "-w", "--workers", min=0, max=64,
                                help="Processes to spread hosts over (one core each); 0 = auto: one per core, "
                                     "once there are at least 50 hosts per process."),
    connect_timeout: opt.ConnectTimeout = 10.0,
    command_timeout: opt.CommandTimeout = 60.0,
    host_deadline: opt.HostDeadline = 120.0,
    report: opt.Report = "json,html",
    output: opt.Output = Path(DEFAULT_OUTPUT),
    enable: list[str] = typer.Option([], "--enable", help="Opt-in checks to run: user-context, probe (repeatable)."),
    host_key_checking: opt.HostKeyChecking = "accept-new",
    known_hosts: opt.KnownHosts = None,
    include_facts: bool = typer.Option(False, "--include-facts", help="Store gathered facts in the JSON report."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress or recap; exit code only."),
    vault_password_file: opt.VaultPasswordFile = None,
    vault_id: opt.VaultId = None,
    ask_vault_pass: opt.AskVaultPass = False,
) -> int:
    """Run PLAYBOOK(s) against the hosts of an inventory and write reports.

    Exit codes: 0 all checks passed; 2 checks failed; 3 hosts unreachable, auth failed or timed out;
    4 bad input; 5 usage error; 99 interrupted; 250 internal error.
    """
    from auditor.runner import RunOptions

    overrides = opt.connection_overrides(host_key_checking, known_hosts)
    formats = parse_formats(report)
    options = RunOptions(forks=forks, connect_timeout=connect_timeout, command_timeout=command_timeout,
                         host_deadline=host_deadline, enabled=parse_enable(enable), include_facts=include_facts,
                         workers=workers)
    from auditor.inventory.cli import load_from_options
    from auditor.playbook import load_playbooks

    books = load_playbooks([str(p) for p in playbooks])  # bad playbooks fail before any vault prompt
    inv = load_from_options(inventory, vault_password_file, vault_id, ask_vault_pass)
    console = Console(stderr=False)
    run, _ = execute_audit([str(p) for p in playbooks], inventory, limit=limit, options=options, formats=formats,
                           output=output, console=console, quiet=quiet, spec_overrides=overrides, inventory=inv,
                           playbooks=books)
    return int(exit_code_for(run))


def validate_command(
    playbooks: list[Path] = typer.Argument(..., help="Playbook files to check.", metavar="PLAYBOOK..."),
) -> int:
    """Check playbooks (schema, parser and rule names, expressions) without connecting anywhere.

    Exit codes: 0 valid; 4 a playbook has an error (printed as file:line:column: message).
    """
    from auditor.playbook import load_playbook

    for path in playbooks:
        book = load_playbook(str(path))
        checks = sum(len(p.checks) for p in book.plays)
        typer.echo(f"{path}: ok ({len(book.plays)} plays, {checks} checks)")
    return int(ExitCode.OK)


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("validate")(validate_command)
