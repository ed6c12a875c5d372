"""The `auditor doctor` command: load the inventory, run the host's steps, print them, map to an exit code."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from auditor.commands import options as opt
from auditor.errors import ExitCode, UsageError
from auditor.textsafe import markup

MARKS = {True: "[green]ok  [/green]", False: "[red]FAIL[/red]", None: "[yellow]--  [/yellow]"}


def _clean(text: str) -> str:
    """Remote and library text, printable: no control characters, rich markup escaped."""
    return markup(text)


def doctor_command(
    host: str = typer.Argument(..., help="The inventory name of the host to check."),
    inventory: opt.Inventory = [],  # noqa: B006 - typer reads the default
    connect_timeout: opt.ConnectTimeout = None,
    host_key_checking: opt.HostKeyChecking = None,
    known_hosts: opt.KnownHosts = None,
    vault_password_file: opt.VaultPasswordFile = None,
    vault_id: opt.VaultId = None,
    ask_vault_pass: opt.AskVaultPass = False,
) -> int:
    """Check that HOST can be audited: each step's result and, when it fails, what to change.

    Exit codes: 0 every step passed; 3 a step failed (the host, its credentials or the network);
    4 bad input (inventory); 5 usage error (e.g. HOST is not in the inventory).
    """
    from auditor.doctor.steps import host_steps
    from auditor.inventory.cli import load_from_options
    from auditor.inventory.connection import ConnectionDefaults, connection_request

    given = opt.connection_defaults(host_key_checking, known_hosts)
    cli = ConnectionDefaults(connect_timeout=connect_timeout, host_key_checking=given.host_key_checking,
                             known_hosts_file=given.known_hosts_file)
    inv = load_from_options(inventory, vault_password_file, vault_id, ask_vault_pass)
    entry = inv.hosts.get(host)
    if entry is None:
        raise UsageError(f"no host {host!r} in {', '.join(inv.sources) or 'the inventory'}")
    request = connection_request(entry)
    steps = asyncio.run(host_steps(request, cli))
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"doctor: {_clean(host)} ({request.connection})")
    for step in steps:
        console.print(f"  {MARKS[step.ok]} {step.name:<13} {_clean(step.detail)}")
        if step.fix:
            console.print(f"       {'':<13} [bold]fix:[/bold] {_clean(step.fix)}")
    failed = [s.name for s in steps if s.ok is False]
    console.print(f"doctor: {len(failed)} problem(s)" + (f": {', '.join(failed)}" if failed else ""))
    return int(ExitCode.HOSTS_UNREACHABLE if failed else ExitCode.OK)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)
