"""``auditor schema`` and ``auditor report``: publish the JSON Schema, re-render a saved JSON report."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from auditor.report.schema import load_report, report_schema
from auditor.report.writers import available_formats, parse_formats, write_reports


def schema_command() -> None:
    """Print the JSON Schema of the JSON report (versioned with schema_version)."""
    typer.echo(json.dumps(report_schema(), indent=2))


def report_command(
    results: Path = typer.Argument(..., help="A JSON report written by `auditor run --report json`.", metavar="RESULTS.json"),
    fmt: str = typer.Option("html", "--format", "-f", help=f"Formats, comma separated: {', '.join(available_formats())}."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output folder (default: the report's folder)."),
) -> None:
    """Render a saved JSON report again, in any format."""
    formats = parse_formats(fmt)
    run = load_report(results)
    for path in write_reports(run, formats, output if output is not None else results.parent):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_command)
    app.command("report")(report_command)
