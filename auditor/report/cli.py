"""``auditor schema`` and ``auditor report``: publish the JSON Schema, re-render a saved JSON report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Optional

import typer

from auditor.commands import options as opt
from auditor.errors import UsageError

from auditor.report.schema import load_report, report_schema
from auditor.report.writers import available_formats, parse_formats, write_reports


def schema_command() -> None:
    """Print the JSON Schema of the JSON report (versioned with schema_version)."""
    typer.echo(json.dumps(report_schema(), indent=2))


def report_command(
    results: Optional[Path] = typer.Argument(None, help="A JSON report written by `auditor run --report json`.",
                                             metavar="[RESULTS.json]"),
    run_id: Optional[str] = typer.Option(None, "--run", metavar="RUN_ID", help="Render a run from the history store."),
    store: opt.Store = None,
    fmt: str = typer.Option("html", "--report", help=f"Formats, comma separated: {', '.join(available_formats())}."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output folder (default: the report's folder, "
                                                                      "or reports/ for a stored run)."),
    waiver_file: opt.WaiverFile = None,
) -> None:
    """Render a saved JSON report, or a run from the history store (--run), again in any format;
    --waiver-file applies waivers to it (waived checks no longer count)."""
    formats = parse_formats(fmt)
    if (results is None) == (run_id is None):
        raise UsageError("give either a RESULTS.json file or --run RUN_ID")
    if results is not None:
        run = load_report(results)
        folder = output if output is not None else results.parent
    else:
        from auditor.history.annotate import with_history
        from auditor.store.recording import recording

        assert run_id is not None
        with recording(store) as history:
            if history.store is None:
                raise UsageError("--run needs the history store (it is turned off: --store none or AUDITOR_STORE=none)")
            run = with_history(history.store.load_run(run_id), history.store)
        folder = output if output is not None else Path("reports")
    if waiver_file is not None:
        from auditor.waivers import apply_to_run, load_waivers

        run = apply_to_run(run, load_waivers(waiver_file), today=date.today())
    for path in write_reports(run, formats, folder):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_command)
    app.command("report")(report_command)
