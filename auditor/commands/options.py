"""Command-line options shared by `auditor run` and `auditor remediate`: one definition, one help text.

Each is an ``Annotated`` type; a command keeps its own default in its signature
(e.g. remediation allows longer command timeouts than an audit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from auditor.errors import UsageError
from auditor.inventory.connection import ConnectionDefaults

FORMATS_HELP = "Report formats, comma separated (json, html, junit, csv)."
HOST_KEY_POLICIES = ("accept-new", "strict", "off")

Inventory = Annotated[list[str], typer.Option("-i", "--inventory", help="Inventory source (file, folder or script); repeatable.")]
InventoryOptional = Annotated[Optional[list[str]], typer.Option(
    "-i", "--inventory", help="Inventory source (file, folder or script); repeatable.")]
WaiverFile = Annotated[Optional[Path], typer.Option(
    "--waiver-file", help="Waivers (InSpec's format plus a hosts: pattern): accepted exceptions with a reason and "
                          "an end date; waived checks do not change the exit code (docs/history.md).")]
ListHosts = Annotated[bool, typer.Option("--list-hosts", help="Print the hosts each play would run on, then stop "
                                                           "(nothing connects).")]
SyntaxCheck = Annotated[bool, typer.Option("--syntax-check", help="Check the playbooks, then stop (nothing connects).")]
Verbose = Annotated[int, typer.Option("-v", "--verbose", count=True,
                                      help="-v: a line for every host as it finishes; -vv: also each failed check.")]
Limit = Annotated[Optional[str], typer.Option("-l", "--limit", help="Further limit hosts with an Ansible pattern (or @retryfile).")]
Forks = Annotated[int, typer.Option("-f", "--forks", min=1, max=10000, help="Hosts in flight at once (shared by the workers).")]
ConnectTimeout = Annotated[Optional[float], typer.Option(
    "--connect-timeout", min=0.1,
    help="Seconds to connect and authenticate; given, it wins over every host's own ansible_timeout / "
         "-o ConnectTimeout (default: the host's, else 10).")]
CommandTimeout = Annotated[Optional[float], typer.Option(
    "--command-timeout", min=0.1, help="Seconds for one remote invocation (default 60; remediate: 120).")]
HostDeadline = Annotated[float, typer.Option("--host-deadline", min=0.1, help="Seconds for everything on one host.")]
Report = Annotated[str, typer.Option("--report", help=FORMATS_HELP)]
Output = Annotated[Path, typer.Option("-o", "--output", help="Folder for reports.")]
HostKeyChecking = Annotated[Optional[str], typer.Option(
    "--host-key-checking",
    help="SSH host keys: accept-new, strict, or off (no verification); given, it wins over the hosts' own "
         "settings (default: the host's StrictHostKeyChecking, else accept-new).")]
KnownHosts = Annotated[Optional[Path], typer.Option("--known-hosts", help="known_hosts file for SSH host keys.")]
VaultPasswordFile = Annotated[Optional[list[str]], typer.Option(
    "--vault-password-file", help="File holding the vault password (or an executable printing it). Repeatable.")]
VaultId = Annotated[Optional[list[str]], typer.Option("--vault-id", help="Vault identity LABEL@FILE (or LABEL@prompt). Repeatable.")]
STORE_HELP = ("History store URL (SQLAlchemy: sqlite:///FILE, postgresql://USER@HOST/DB), or none to record nothing; "
              "default: $AUDITOR_STORE, else $XDG_DATA_HOME/auditor/history.db.")
Store = Annotated[Optional[str], typer.Option("--store", help=STORE_HELP)]
AskVaultPass = Annotated[bool, typer.Option("-J", "--ask-vault-pass", help="Ask for the vault password on the terminal.")]


def connection_defaults(host_key_checking: str | None, known_hosts: Path | None) -> ConnectionDefaults:
    """The command line's SSH host-key settings (validated: a usage error otherwise); None = not given."""
    if host_key_checking is not None and host_key_checking not in HOST_KEY_POLICIES:
        raise UsageError(f"--host-key-checking: expected {', '.join(HOST_KEY_POLICIES[:-1])} or {HOST_KEY_POLICIES[-1]}")
    return ConnectionDefaults(host_key_checking=host_key_checking, known_hosts_file=str(known_hosts) if known_hosts else None)


def enabled_option(values: list[str], known: set[str]) -> set[str]:
    """``--enable a,b --enable c`` as a set; a name the playbooks do not know is a usage error naming the known ones."""
    enabled = {v.strip() for item in values for v in item.split(",") if v.strip()}
    unknown = sorted(enabled - known)
    if unknown:
        raise UsageError(f"--enable: unknown {', '.join(repr(u) for u in unknown)}; these playbooks know "
                         + (", ".join(sorted(known)) if known else "no opt-in checks or modules"))
    return enabled


def opt_ins(books: list[Any]) -> set[str]:
    """Every opt-in name the playbooks use: their collectors', checks' and remediation modules'."""
    names: set[str] = set()
    for book in books:
        for play in book.plays:
            names |= {c.opt_in for collectors in play.gather.values() for c in collectors if c.opt_in}
            names |= {c.opt_in for c in getattr(play, "checks", []) if c.opt_in}
            for task in getattr(play, "tasks", []):
                from auditor.remediate.modules import get_module

                module = get_module(task.module)
                if module is not None and module.opt_in:
                    names.add(module.opt_in)
    return names


def check_ids_option(value: str, books: list[Any]) -> frozenset[str]:
    """``--check-id ID[,ID]``: check ids (or stable keys) the playbooks have; an unknown one is a usage error."""
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    known = {c.id for book in books for play in book.plays for c in getattr(play, "checks", [])}
    unknown = sorted(w for w in wanted if w not in known and w.rsplit("/", 1)[-1] not in known)
    if unknown or not wanted:
        raise UsageError(f"--check-id: unknown {', '.join(unknown) or repr(value)}; these playbooks have "
                         + (", ".join(sorted(known)) or "no checks"))
    return frozenset(w.rsplit("/", 1)[-1] for w in wanted)


def plays_fixing(value: str, books: list[Any]) -> list[Any]:
    """``remediate --check-id ID[,ID]``: the playbooks cut to the plays whose ``fixes`` name one of the ids (a
    playbook left without plays is dropped); an id no play fixes is a usage error naming those that are fixed."""
    wanted = {v.strip().rsplit("/", 1)[-1] for v in value.split(",") if v.strip()}
    fixed = {c for book in books for play in book.plays for c in getattr(play, "fixes", [])}
    unknown = sorted(wanted - fixed)
    if unknown or not wanted:
        raise UsageError(f"--check-id: no play fixes {', '.join(unknown) or repr(value)}; these playbooks fix "
                         + (", ".join(sorted(fixed)) or "no named check (no play has 'fixes')"))
    cut = [book.model_copy(update={"plays": [p for p in book.plays if wanted & set(getattr(p, "fixes", []))]})
           for book in books]
    return [book for book in cut if book.plays]


def print_syntax_check(paths: list[str]) -> int:
    """``--syntax-check``: the playbooks loaded (any error was already raised, file:line:col), as Ansible prints it."""
    for path in paths:
        typer.echo(f"playbook: {path}")
    return 0


def print_list_hosts(books: list[Any], inventory: Any, limit: str | None) -> int:
    """``--list-hosts``: per playbook and play, the hosts it selects (with --limit), as ansible-playbook prints it."""
    from auditor.inventory.patterns import limit_hosts
    from auditor.textsafe import for_terminal

    for book in books:
        typer.echo(f"\nplaybook: {for_terminal(book.path)}")
        for i, play in enumerate(book.plays, 1):
            hosts = limit_hosts(inventory, inventory.select(play.hosts), limit)
            typer.echo(f"\n  play #{i} ({for_terminal(play.hosts)}): {for_terminal(play.name)}")
            typer.echo(f"    hosts ({len(hosts)}):")
            for host in hosts:
                typer.echo(f"      {for_terminal(host.name)}")
    return 0
