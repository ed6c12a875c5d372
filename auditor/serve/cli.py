"""``auditor serve`` and ``auditor schedule export``."""

from __future__ import annotations

from pathlib import Path

import typer

from auditor.errors import BadInputError, Location

schedule_app = typer.Typer(name="schedule", help="Scheduled scans: export them for systemd or cron.",
                           no_args_is_help=True)


def serve_command(
    config: Path = typer.Option(..., "--config", "-c", help="The serve config (YAML): store, listen, token_file, "
                                                           "schedules. See docs/serve.md.", metavar="SERVE.YML"),
) -> int:
    """Run the schedules and the dashboard in one foreground process (logs on stderr).

    Pages and the JSON API (OpenAPI at /openapi.json) on `listen` (default 127.0.0.1:8765), /metrics for Prometheus,
    /healthz. SIGTERM or Ctrl-C stops it: scans in flight are marked interrupted (resumable), exit code 0.

    Exit codes: 0 stopped; 4 bad config (file:line:col), store or listen address; 5 usage error.
    """
    from auditor.serve.config import load_serve_config
    from auditor.serve.server import serve

    return serve(load_serve_config(config))


def export_command(
    config: Path = typer.Argument(..., help="The serve config (YAML) whose schedules to export.", metavar="SERVE.YML"),
    fmt: str = typer.Option("systemd", "--format", "-f", help="systemd (a .service and a .timer per schedule) or cron "
                                                               "(crontab lines)."),
) -> int:
    """Print the config's schedules as systemd units or crontab lines, for those who prefer the OS scheduler.

    Exit codes: 0 printed; 4 bad config, or an interval cron cannot express; 5 usage error.
    """
    from auditor.errors import UsageError
    from auditor.serve.config import load_serve_config
    from auditor.serve.export import export
    from auditor.store import resolve_store_url

    if fmt not in ("systemd", "cron"):
        raise UsageError(f"--format: expected systemd or cron, found {fmt!r}")
    loaded = load_serve_config(config)
    url = resolve_store_url(loaded.config.store)
    if url is None:
        raise BadInputError("'store: none' turns the history off; scheduled scans need it", Location(str(config)))
    typer.echo(export(loaded, url, "systemd" if fmt == "systemd" else "cron"), nl=False)
    return 0


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    schedule_app.command("export")(export_command)
    app.add_typer(schedule_app)
