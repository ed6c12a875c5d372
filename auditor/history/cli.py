"""``auditor history list|prune`` and ``auditor diff``: read the scan history from the store."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor import durations
from auditor.errors import UsageError
from auditor.history.diff import ChangeClass, RunDiff, diff_runs, drift_schema
from auditor.store import RunListing, RunRecord, RunState, Store, StoreError, StoreMissing, open_store, resolve_store_url

history_app = typer.Typer(name="history", help="Recorded runs: list them, prune old ones.", no_args_is_help=True)

from auditor.commands.options import STORE_HELP  # noqa: E402  (one help text for every --store)
from auditor.textsafe import for_terminal
FORMATS = ("table", "json")
_STYLE = {ChangeClass.regressed: "bold red", ChangeClass.unreachable: "magenta", ChangeClass.gone: "yellow",
          ChangeClass.new: "cyan", ChangeClass.changed: "yellow", ChangeClass.fixed: "green", ChangeClass.unchanged: "dim"}


def parse_duration(value: str) -> timedelta:
    """``--older-than``: a duration (``auditor.durations``), or a usage error."""
    try:
        return durations.parse_duration(value)
    except ValueError:
        raise UsageError(f"--older-than: {value!r} is not a duration (expected e.g. 90d, 12h, 2w, 1w3d)") from None


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def _open(option: str | None, *, create: bool = False) -> Store:
    url = resolve_store_url(option)
    if url is None:
        raise UsageError("the store is turned off (--store none or AUDITOR_STORE=none): there is no history to read")
    return open_store(url, create=create)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


# --- auditor history list --------------------------------------------------------------------------

def list_command(
    fmt: str = typer.Option("table", "--format", help="table or json."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Show at most N runs (newest first)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only audit or remediation runs."),
    store_url: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Recorded runs, newest first, with their state and host counts by outcome and verdict."""
    _check_format(fmt)
    if kind is not None and kind not in ("audit", "remediation"):
        raise UsageError(f"--kind: expected audit or remediation, got {kind!r}")
    try:
        store = _open(store_url)
    except StoreMissing:
        listings: list[RunListing] = []
    else:
        with store:
            listings = store.list_runs(limit, kind=kind)
    if fmt == "json":
        typer.echo(json.dumps([r.model_dump(mode="json") for r in listings], indent=2))
        return
    if not listings:
        typer.echo("No runs recorded.")
        return
    _console().print(_runs_table(listings))


def _runs_table(listings: list[RunListing]) -> Table:
    table = Table(title="Runs, newest first", title_justify="left")
    for col in ("run", "kind", "state", "started (UTC)", "took", "hosts", "outcomes", "verdicts"):
        table.add_column(col, overflow="fold")
    for r in listings:
        took = f"{(r.finished - r.started).total_seconds():.0f}s" if r.finished else "-"
        hosts = f"{r.hosts_recorded}/{r.hosts_planned}" if r.hosts_planned else str(r.hosts_recorded)
        table.add_row(
            Text(r.id), Text(r.kind), Text(r.state.value, style=_state_style(r)),
            Text(f"{r.started:%Y-%m-%d %H:%M}"), Text(took), Text(hosts),
            Text(_counts(r.by_status)), Text(for_terminal(_counts(r.by_verdict, top=4))),
        )
    return table


def _state_style(r: RunRecord) -> str:
    return {"complete": "green", "running": "cyan", "interrupted": "yellow", "incomplete": "yellow"}[r.state.value]


def _counts(counts: dict[str, int], top: int | None = None) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = items[:top] if top else items
    more = f" +{len(items) - len(shown)}" if len(items) > len(shown) else ""
    return ", ".join(f"{k} {v}" for k, v in shown) + more


# --- auditor history prune -------------------------------------------------------------------------

def prune_command(
    older_than: str = typer.Option(..., "--older-than", help="Remove runs that started longer ago than this: 90d, 12h, 2w."),
    store_url: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Remove old runs (never one still running) and everything recorded for them."""
    age = parse_duration(older_than)
    try:
        store = _open(store_url)
    except StoreMissing:
        typer.echo("Removed 0 runs (0 host results, 0 check results): nothing is recorded.")
        return
    with store:
        counts = store.prune(age)
    typer.echo(f"Removed {counts.runs} runs ({counts.hosts} host results, {counts.checks} check results) "
               f"older than {older_than}.")


# --- auditor diff ----------------------------------------------------------------------------------

def diff_command(
    old_run: Optional[str] = typer.Argument(None, metavar="OLD_RUN", help="The earlier run (id or unique prefix); default: the "
                                            "complete run before NEW_RUN with the same playbooks."),
    new_run: Optional[str] = typer.Argument(None, metavar="NEW_RUN", help="The later run; default: the latest complete run of the "
                                            "same playbooks as OLD_RUN (or the latest complete audit)."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
    show_unchanged: bool = typer.Option(False, "--all", help="Also list unchanged hosts (table; json always has them)."),
    schema: bool = typer.Option(False, "--schema", help="Print the JSON Schema of the json format and exit."),
    store_url: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """What changed between two scans: per host regressed, fixed, changed, new, gone, unchanged or unreachable,
    each check's status transition, and the line diff of a changed .wslconfig."""
    _check_format(fmt)
    if schema:
        typer.echo(json.dumps(drift_schema(), indent=2))
        return
    with _open(store_url) as store:
        old, new = pick_runs(store, old_run, new_run)
        result = diff_runs(store, old.id, new.id)
    if fmt == "json":
        typer.echo(result.model_dump_json(indent=2))
        return
    print_diff(_console(), result, show_unchanged=show_unchanged)


def pick_runs(store: Store, old_run: str | None, new_run: str | None) -> tuple[RunRecord, RunRecord]:
    """The two runs ``auditor diff`` compares, defaults filled in."""
    if old_run is not None and new_run is not None:
        return store.get_run(old_run), store.get_run(new_run)
    if old_run is not None:
        old = store.get_run(old_run)
        latest = store.list_runs(1, kind=old.kind, playbook_set=old.playbook_set, state=RunState.complete)
        if not latest or latest[0].id == old.id:
            raise StoreError(f"no complete run of the same playbooks after run {old.id} to compare it with", store.where)
        return old, store.get_run(latest[0].id)
    new = store.latest_complete_run()
    if new is None:
        raise StoreError("no complete audit run in the store: nothing to compare", store.where)
    previous = store.previous_complete_run(new.id)
    if previous is None:
        raise StoreError(f"run {new.id} is the only complete run of its playbooks: nothing to compare it with", store.where)
    return previous, new


def print_diff(console: Console, result: RunDiff, *, show_unchanged: bool = False) -> None:
    """The drift as a terminal table: counts, then changed hosts worst first, then file diffs."""
    console.print(Text(f"Drift from run {result.old.id} ({result.old.started:%Y-%m-%d %H:%M} UTC) "
                       f"to run {result.new.id} ({result.new.started:%Y-%m-%d %H:%M} UTC)", style="bold"))
    console.print(Text(" · ".join(f"{name} {n}" for name, n in result.counts.items())))
    hosts = [h for h in result.hosts if show_unchanged or h.change is not ChangeClass.unchanged]
    if not hosts:
        console.print(Text("No host changed."))
        return
    table = Table(show_lines=False)
    for col in ("host", "change", "old verdict", "new verdict", "checks"):
        table.add_column(col, overflow="fold")
    for h in hosts:
        checks = ", ".join(f"{c.check_id} {c.old or '-'}→{c.new or '-'}" for c in h.checks[:6])
        if len(h.checks) > 6:
            checks += f" +{len(h.checks) - 6}"
        table.add_row(Text(for_terminal(h.host)), Text(h.change.value, style=_STYLE[h.change]),
                      Text(for_terminal(h.old_verdict or h.old_status or "-")),
                      Text(for_terminal(h.new_verdict or h.new_status or "-")), Text(for_terminal(checks)))
    console.print(table)
    for h in hosts:
        for listing in h.listings:
            console.print(Text(f"{for_terminal(h.host)}: {listing.check_id}", style="bold"))
            for line in listing.diff:
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else \
                    "cyan" if line.startswith("@@") else ""
                console.print(Text("  " + for_terminal(line), style=style))


def register(app: typer.Typer) -> None:
    history_app.command("list")(list_command)
    history_app.command("prune")(prune_command)
    app.add_typer(history_app)
    app.command("diff")(diff_command)

