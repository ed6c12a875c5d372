"""``auditor inventory``: show an inventory as ansible-inventory would, and test host patterns."""

from __future__ import annotations

from typing import Optional

import typer

from auditor.errors import BadInputError, UsageError
from auditor.inventory.loader import load_inventory
from auditor.inventory.model import Inventory
from auditor.inventory.output import dump, graph, host_vars, list_inventory
from auditor.inventory.patterns import limit_hosts
from auditor.inventory.vault import VaultError, VaultSecret, collect_secrets


def secrets_from_options(password_files: list[str] | None, vault_ids: list[str] | None, ask: bool) -> list[VaultSecret]:
    """Vault secrets from command-line options; a bad option is a usage error naming no secret."""
    try:
        return collect_secrets(password_files, vault_ids, ask)
    except VaultError as exc:
        raise UsageError(str(exc)) from None


def load_from_options(sources: list[str] | None, password_files: list[str] | None = None,
                      vault_ids: list[str] | None = None, ask_vault_pass: bool = False) -> Inventory:
    """What every command with ``-i`` does: collect vault secrets, load, print ansible-style warnings."""
    if not sources:
        raise UsageError("no inventory given: use -i/--inventory (a file, a folder, a script or 'host1,host2,')")
    inv = load_inventory(sources, vault_secrets=secrets_from_options(password_files, vault_ids, ask_vault_pass))
    for warning in inv.warnings:
        typer.echo(f"[WARNING]: {warning}", err=True)
    return inv


def inventory_command(
    inventory: Optional[list[str]] = typer.Option(None, "-i", "--inventory", help="Inventory source: file, folder, script or comma-separated hosts. Repeatable."),
    list_: bool = typer.Option(False, "--list", help="Print all groups and host variables as JSON (ansible-inventory --list)."),
    graph_: bool = typer.Option(False, "--graph", help="Draw the group tree from GROUP (default all)."),
    host: Optional[str] = typer.Option(None, "--host", help="Print one host's variables as JSON (ignores --limit)."),
    list_hosts: Optional[str] = typer.Option(None, "--list-hosts", metavar="PATTERN", help="Print the hosts a pattern selects, one per line."),
    limit: Optional[str] = typer.Option(None, "-l", "--limit", help="Narrow --list/--list-hosts to a pattern; @FILE reads patterns from a file (e.g. a retry file)."),
    vault_password_file: Optional[list[str]] = typer.Option(None, "--vault-password-file", help="File holding the vault password, or an executable printing it. Repeatable."),
    vault_id: Optional[list[str]] = typer.Option(None, "--vault-id", help="Vault identity LABEL@FILE (or LABEL@prompt). Repeatable."),
    ask_vault_pass: bool = typer.Option(False, "-J", "--ask-vault-pass", help="Ask for the vault password on the terminal."),
    group: Optional[str] = typer.Argument(None, help="With --graph: the group to start from."),
) -> None:
    """Show an inventory the way ansible-inventory does (--list, --graph, --host), or test a host pattern."""
    actions = [a for a in (list_, graph_, host is not None, list_hosts is not None) if a]
    if len(actions) != 1:
        raise UsageError("choose exactly one of --list, --graph, --host NAME or --list-hosts PATTERN")
    if group is not None and not graph_:
        raise UsageError(f"unexpected argument {group!r} (a group name goes with --graph only)")
    inv = load_from_options(inventory, vault_password_file, vault_id, ask_vault_pass)
    if host is not None:
        if host not in inv.hosts:
            raise BadInputError(f"host {host!r} is not in the inventory")
        typer.echo(dump(host_vars(inv, host)))
    elif graph_:
        start = group or "all"
        if start not in inv.groups:
            raise UsageError(f"--graph: {start!r} is not a group in the inventory")
        typer.echo(graph(inv, start))
    elif list_:
        selected = limit_hosts(inv, inv.select("all"), limit)
        typer.echo(dump(list_inventory(inv, [h.name for h in selected])))
    else:
        selected = limit_hosts(inv, inv.select(list_hosts), limit)
        if not selected:
            raise BadInputError(f"no hosts matched {list_hosts!r}" + (f" and --limit {limit!r}" if limit else "")
                                + f" in {', '.join(inv.sources) or 'the inventory'}")
        for h in selected:
            typer.echo(h.name)


def register(app: typer.Typer) -> None:
    app.command("inventory")(inventory_command)
